/**
 * Progress and machine-readable output: the overall tracker and the renderer as units (a fake
 * stream, a clock the test drives), then the real command line with --json and --progress json.
 */
import assert from 'node:assert/strict';
import { copyFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { PlannedItem } from '../../src/batch/plan.js';
import type { Progress } from '../../src/edit/latent/progress.js';
import { resolveSettings } from '../../src/edit/frames/settings.js';
import { readPack } from '../../src/model/pack.js';
import type { JobSpec } from '../../src/jobs/job.js';
import { batchProgress } from '../../src/cli/progress/batch-progress.js';
import { jobProgress } from '../../src/cli/progress/job-progress.js';
import { createReporter, type ProgressMode } from '../../src/cli/progress/reporter.js';
import { resultFlags } from '../../src/cli/progress/result.js';
import { ETA_AFTER, etaSeconds, expectedItemWork, expectedWork, overallTracker } from '../../src/cli/progress/work.js';
import { SAMPLE, TINY, tempDir } from '../paths.js';
import { flowedit } from './run.js';

const CLEAR = '\r\x1b[2K';

/** A stream that keeps what is written, as a terminal (isTTY) or a pipe. */
function fakeStream(isTTY: boolean, columns = 60) {
  const writes: string[] = [];
  return { writes, isTTY, columns, write: (s: string) => writes.push(s), text: () => writes.join('') };
}

/** A clock the test moves. */
function fakeClock(start = 0) {
  let t = start;
  return { now: () => t, advance: (s: number) => (t += s) };
}

/** The events an image edit of `steps` steps sends, in order (one window unless `windows`). */
function editEvents(steps: number, windows = 1, mask = 0): Progress[] {
  const events: Progress[] = [];
  const w = (i: number) => (windows > 1 ? { window: { index: i, count: windows } } : {});
  for (let i = 0; i < windows; i++) {
    events.push({ phase: 'encode', step: 0, steps: 1, ...w(i) }, { phase: 'encode', step: 1, steps: 1, ...w(i) });
    for (let s = 1; s <= steps; s++) events.push({ phase: 'invert', step: s, steps, ...w(i) });
  }
  // the automatic mask's events carry no window: each window starts its draws again
  for (let i = 0; i < windows; i++) for (let s = 1; s <= mask; s++) events.push({ phase: 'mask', step: s, steps: mask });
  for (let i = 0; i < windows; i++) {
    for (let s = 1; s <= steps; s++) events.push({ phase: 'sample', step: s, steps, ...w(i) });
    events.push({ phase: 'decode', step: 0, steps: 1, ...w(i) }, { phase: 'decode', step: 1, steps: 1, ...w(i) });
  }
  return events;
}

let editJob: (autoMask: number, steps: number) => JobSpec;
let dir: string;
before(async () => {
  const pack = await readPack(TINY);
  editJob = (autoMask, steps) => ({
    kind: 'edit',
    packDir: TINY,
    output: 'out.png',
    input: SAMPLE,
    inputIsInversion: false,
    sourcePrompt: 'a red circle',
    targetPrompt: 'a blue circle',
    settings: resolveSettings(pack.manifest, 'edit', { steps, autoMask }),
  });
  dir = await tempDir('flowedit-progress-');
});

test('the overall fraction covers every phase and window, never goes back, and ends at 1', () => {
  for (const [windows, autoMask] of [[1, 0], [3, 0], [2, 0.5]] as const) {
    const job = editJob(autoMask, 4);
    const stages = expectedWork(job);
    const tracker = overallTracker(stages);
    const events = editEvents(4, windows, autoMask > 0 ? stages.find((s) => s.phase === 'mask')!.steps : 0);
    let prev = 0;
    events.forEach((e, i) => {
      const f = tracker.update(e, i);
      assert.ok(f >= prev, `went back at event ${i} (${e.phase} ${e.step}/${e.steps})`);
      assert.ok(f < 1 || i === events.length - 1, `reached 1 before the last event (${windows} windows)`);
      prev = f;
    });
    assert.equal(tracker.fraction, 1);
    assert.equal(tracker.windows, windows);
  }
  // halfway through the events of a one-window edit, the fraction is the share of the units done
  const stages = expectedWork(editJob(0, 4));
  const units = stages.reduce((n, s) => n + s.steps, 0);
  const t = overallTracker(stages);
  for (const e of editEvents(4).slice(0, 6)) t.update(e, 0); // encode 0, 1 and invert 1..4
  assert.equal(t.fraction, (1 + 4) / units);
});

test('a batch item with two outputs samples twice: the second output counts as more work', () => {
  const item = { command: 'edit', settings: { steps: 2, autoMask: 0 } } as unknown as PlannedItem;
  const t = overallTracker(expectedItemWork(item, 2));
  const events = editEvents(2);
  const sampling = events.filter((e) => e.phase === 'sample' || e.phase === 'decode');
  for (const e of events) t.update(e, 0);
  const afterFirst = t.fraction;
  assert.ok(afterFirst < 1);
  for (const e of sampling) t.update(e, 0);
  assert.equal(t.fraction, 1);
});

test('the time left is shown only after a little progress, at the pace since the first event', () => {
  assert.equal(etaSeconds(undefined, 0.5, 10), undefined);
  assert.equal(etaSeconds({ t: 2, f: 0 }, ETA_AFTER / 2, 10), undefined);
  // half done in 8 s since the first event: 8 s more
  assert.equal(etaSeconds({ t: 2, f: 0 }, 0.5, 10), 8);
  assert.equal(etaSeconds({ t: 2, f: 0 }, 1, 10), 0);
});

test('on a terminal the bar is redrawn in place, cleared before a warning and at the end', () => {
  const stream = fakeStream(true, 60);
  const clock = fakeClock(1);
  const progress = jobProgress(editJob(0, 4), { mode: 'bar', stream, now: clock.now, timer: false });
  for (const e of editEvents(4).slice(0, 3)) {
    clock.advance(1);
    progress.onProgress(e);
  }
  const draws = stream.writes.slice(1); // after the first draw, every redraw clears the line first
  assert.ok(draws.length >= 3);
  for (const d of draws) assert.ok(d.startsWith(CLEAR), JSON.stringify(d));
  for (const w of stream.writes) for (const line of w.split(CLEAR)) assert.ok(line.length <= 59, `longer than the terminal: ${line}`);
  assert.match(stream.writes.at(-1)!, /ETA/);
  assert.match(stream.writes.at(-1)!, /invert 1\/4/);
  // a warning: the bar is cleared, the warning written on its own line, the bar drawn again below it
  const before = stream.writes.length;
  progress.warning('the mask was scaled');
  const after = stream.writes.slice(before).join('');
  assert.ok(after.startsWith(`${CLEAR}flowedit: warning: the mask was scaled\n`), JSON.stringify(after));
  assert.match(after.split('\n')[1]!, /invert 1\/4/);
  progress.end();
  assert.equal(stream.writes.at(-1), CLEAR);
});

test('a batch on a terminal shows one line per running item and the total; each redraw clears them all', () => {
  const stream = fakeStream(true, 100);
  const clock = fakeClock();
  const bp = batchProgress(3, { mode: 'bar', stream, now: clock.now, timer: false });
  const item = (id: string) => ({ id, command: 'edit', settings: { steps: 2, autoMask: 0 } }) as unknown as PlannedItem;
  bp.onEvent({ type: 'start', item: item('first'), pending: ['a'] });
  bp.onEvent({ type: 'start', item: item('second'), pending: ['a'] });
  clock.advance(1);
  bp.onEvent({ type: 'progress', item: item('first'), progress: { phase: 'invert', step: 1, steps: 2 } });
  const last = stream.writes.at(-1)!;
  // two item lines and the total: the earlier block (3 lines) is cleared first
  assert.ok(last.startsWith(CLEAR + '\x1b[1A\x1b[2K'.repeat(2)), JSON.stringify(last));
  const lines = last.split(/\x1b\[2K/).at(-1)!.split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /first .*invert 1\/2/);
  assert.match(lines[1]!, /second .*loading/);
  assert.match(lines[2]!, /^batch 0\/3 items/);
  bp.end();
  assert.equal(stream.writes.at(-1), CLEAR + '\x1b[1A\x1b[2K'.repeat(2));
});

test('off a terminal: a line as each phase ends and every 10 s while a step runs, with no escape codes', () => {
  const stream = fakeStream(false);
  const clock = fakeClock();
  const progress = jobProgress(editJob(0, 4), { mode: 'plain', stream, now: clock.now, timer: false });
  const events = editEvents(4);
  progress.onProgress(events[0]!); // encode 0/1
  assert.equal(stream.writes.length, 0);
  progress.onProgress(events[1]!); // encode 1/1: the phase ended
  assert.equal(stream.writes.length, 1);
  assert.match(stream.writes[0]!, /^flowedit: \d+% encode 1\/1, /);
  progress.onProgress(events[2]!); // invert 1/4
  assert.equal(stream.writes.length, 1);
  // a long step: nothing for 9 s, then a line once 10 s passed
  clock.advance(9);
  progress.tick(); // the timer's check, driven by the test
  assert.equal(stream.writes.length, 1);
  clock.advance(1.5);
  progress.tick();
  assert.equal(stream.writes.length, 2);
  assert.match(stream.writes[1]!, /^flowedit: \d+% invert 1\/4, 1\ds elapsed, ETA \d+s\n$/);
  assert.doesNotMatch(stream.text(), /\x1b|\r/);
});

test('a batch off a terminal writes periodic lines while an item runs, besides its finish line', () => {
  const stream = fakeStream(false);
  const clock = fakeClock();
  const bp = batchProgress(2, { mode: 'plain', stream, now: clock.now, timer: false });
  const item = { id: 'clip', command: 'edit', settings: { steps: 8, autoMask: 0 } } as unknown as PlannedItem;
  bp.onEvent({ type: 'start', item, pending: ['a'] });
  bp.onEvent({ type: 'progress', item, progress: { phase: 'sample', step: 3, steps: 8, window: { index: 0, count: 2 } } });
  const before = stream.writes.length;
  clock.advance(11);
  bp.tick(); // a long step: no event, the timer writes the line
  assert.equal(stream.writes.length, before + 1);
  assert.match(stream.writes.at(-1)!, /^batch: 0\/2 items done, \d+%, 11s elapsed.*; running clip \(\d+% sample 3\/8, window 1\/2\)\n$/);
  bp.onEvent({ type: 'finish', item, report: { index: 0, id: 'clip', command: 'edit', status: 'done', seed: 0, outputs: ['clip-a.mp4'], seconds: 12 } });
  assert.match(stream.writes.at(-1)!, /^\[1\/2\] clip: done \(12\.0 s\)\n$/);
});

test('json mode writes one parseable event per progress event and messages as events', () => {
  const stream = fakeStream(false);
  const clock = fakeClock();
  const progress = jobProgress(editJob(0, 2), { mode: 'json', stream, now: clock.now, timer: false });
  for (const e of editEvents(2)) {
    clock.advance(0.5);
    progress.onProgress(e);
  }
  progress.warning('careful');
  progress.end();
  const events = stream.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(events.filter((e) => e.type === 'progress').length, editEvents(2).length);
  assert.deepEqual(events.at(-1), { type: 'warning', message: 'careful' });
  assert.equal(events.at(-2)!.overall, 1);
});

test('modes: messages reach every mode; none writes nothing else', () => {
  for (const mode of ['bar', 'plain', 'json', 'none'] as ProgressMode[]) {
    const stream = fakeStream(mode === 'bar');
    const r = createReporter({ stream, mode, view: { lines: () => ['status'], key: () => 'k' }, timer: false });
    r.changed();
    r.line('a line', { type: 'x' });
    r.message('warning', 'w');
    r.end();
    const text = stream.text();
    assert.match(text, mode === 'json' ? /"type":"warning","message":"w"/ : /flowedit: warning: w\n/, mode);
    if (mode === 'none') assert.equal(text, 'flowedit: warning: w\n');
  }
  assert.deepEqual(resultFlags(['edit', 'x.png', '--json', '--progress', 'json']), { json: true, progress: 'json' });
  assert.deepEqual(resultFlags(['layers', '--json', 'scores.json']), { json: false, progress: undefined });
});

test('flowedit edit --json --progress json: one JSON result on stdout, JSON Lines on stderr rising to 1', { timeout: 120_000 }, async () => {
  const out = join(dir, 'edited.png');
  const inv = join(dir, 'edited.flowinv');
  const r = await flowedit(['edit', SAMPLE, '--model', TINY, '--source-prompt', 'a red circle', '--target-prompt', 'a blue circle', '--steps', '2', '--save-inversion', inv, '-o', out, '--json', '--progress', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  const result = JSON.parse(lines[0]!);
  assert.equal(result.command, 'edit');
  assert.deepEqual(result.outputs, [out, inv]);
  for (const f of result.outputs) assert.ok((await stat(f)).size > 0);
  assert.equal(result.settings.settings.steps, 2);
  assert.ok(result.calls > 0);
  // the wall time covers the worker's, which covers the model load
  assert.ok(result.timings.wallSeconds >= result.timings.workerSeconds && result.timings.workerSeconds >= result.timings.loadSeconds, JSON.stringify(result.timings));
  assert.ok(result.timings.phases.sample > 0);
  const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; overall?: number; eta?: number | null });
  const progress = events.filter((e) => e.type === 'progress');
  assert.ok(progress.length > 4);
  progress.forEach((e, i) => assert.ok(i === 0 || e.overall! >= progress[i - 1]!.overall!));
  assert.equal(progress.at(-1)!.overall, 1);
  assert.ok(progress.some((e) => typeof e.eta === 'number'));
  assert.equal(events.at(-1)!.type, 'done');
});

test('a failure with --json: {error, exitCode} on stdout and the same exit status', { timeout: 60_000 }, async () => {
  const r = await flowedit(['edit', join(dir, 'missing.png'), '--model', TINY, '--target-prompt', 'x', '-o', join(dir, 'never.png'), '--json']);
  assert.equal(r.code, 1);
  const result = JSON.parse(r.stdout);
  assert.match(result.error, /Input not found/);
  assert.equal(result.exitCode, 1);
  assert.match(r.stderr, /flowedit: Input not found/);
});

test('flowedit batch --json: the result on stdout, the summary and finish lines on stderr', { timeout: 120_000 }, async () => {
  await copyFile(SAMPLE, join(dir, 'circle.png'));
  const manifest = join(dir, 'batch.yaml');
  await writeFile(manifest, ['items:', '  - id: one', '    input: circle.png', '    sourcePrompt: a red circle on stripes', '    targets: {blue: a blue circle}', ''].join('\n'));
  const out = join(dir, 'batch-out');
  const r = await flowedit(['batch', manifest, '--out', out, '--steps', '2', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.command, 'batch');
  assert.equal(result.exitCode, 0);
  assert.deepEqual(result.counts, { done: 1, skipped: 0, failed: 0, cancelled: 0 });
  assert.deepEqual(result.outputs, [join(out, 'one-blue.png')]);
  for (const f of result.outputs) assert.ok((await stat(f)).size > 0);
  assert.ok(result.calls > 0);
  assert.equal(result.settings.items[0].id, 'one');
  assert.match(r.stderr, /\[1\/1\] one: done/);
  assert.match(r.stderr, /batch: 1 done, 0 skipped, 0 failed/);
});
