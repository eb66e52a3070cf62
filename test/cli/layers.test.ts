/**
 * flowedit layers, run as a user runs it: on the fixture packs with a folder of real stills and a
 * clip and no right answers, on the fixture pack with answers, and on the built-in pack.
 */
import assert from 'node:assert/strict';
import { chmod, cp, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { builtinCalibration } from '../../src/vital/calibration.js';
import { builtinPackDir } from '../../src/model/builtin.js';
import { readPack } from '../../src/model/pack.js';
import { ROOT, SAMPLE, TINY, TINY_PIXEL, tempDir } from '../paths.js';
import { assertCleanFailure, brokenPack, flowedit } from './run.js';

interface Report {
  cases: { id: string; frames: number; clipFrames?: number; width: number; height: number; mask: boolean }[];
  answers: boolean;
  scores: { layers: number[]; mean: number[]; ranking: number[]; perCase: number[][] }[];
  rankCorrelation: number[];
  trials: { name: string; layers: number[]; fraction: number; right: number | null; psnrTruth: number | null; psnrBackground: number; psnrInside: number | null }[];
  sweep: { k: number; fraction: number; psnrBackground: number }[];
  chosen: { shareLayers: number[]; shareSteps: number; by: string };
}

/** Two real stills and a 12-frame clip with masks and prompts, no right answers (test/fixtures/calibration/own). */
const OWN = join(ROOT, 'test/fixtures/calibration/own');

/**
 * A calibration file of the first two built-in insert cases with prompts short enough for the
 * fixture pack (8 tokens): the inserted object alone.
 */
async function shortInsertCalibration(dir: string): Promise<string> {
  const file = builtinCalibration(0);
  const doc = JSON.parse(await readFile(file, 'utf8')) as { world: string; cases: Record<string, unknown>[] };
  const abs = (p: unknown) => join(dirname(file), p as string);
  const cases = doc.cases.filter((c) => c.task === 'insert').slice(0, 2).map((c) => {
    const k = c.check as { colour: string; shape: string; mask: string };
    return { ...c, image: abs(c.image), mask: abs(c.mask), expected: abs(c.expected), sourcePrompt: 'shapes on a background', targetPrompt: `a ${k.colour} ${k.shape}`, check: { ...k, mask: abs(k.mask) } };
  });
  const out = join(dir, 'calibration.json');
  await writeFile(out, JSON.stringify({ format: 'flowedit.calibration', version: 1, world: abs(doc.world), cases }));
  return out;
}

test('on the fixture pack: ranks its three layers, sweeps k and τ, and writes the best into the manifest', { timeout: 600_000 }, async () => {
  const dir = await tempDir();
  const pack = join(dir, 'tiny');
  await cp(TINY, pack, { recursive: true });
  const json = join(dir, 'layers.json');
  const r = await flowedit(['layers', '--model', pack, '--task', 'insert', '--calibration', await shortInsertCalibration(dir), '--sweep', '--write', '--json', json, '--threads', '1', '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Guidance responsiveness of tiny's layers for insert \(2 edits/);
  assert.match(r.stdout, /top 2 .*\n.*all layers .*\n.*no sharing/);
  const report = JSON.parse(await readFile(json, 'utf8')) as Report;
  assert.deepEqual([...report.scores[0]!.ranking].sort(), [0, 1, 2]);
  assert.equal(report.scores[0]!.perCase.length, 2);
  assert.deepEqual(report.sweep.map((t) => `${t.k}:${t.fraction}`), ['1:0.2', '1:0.5', '1:1', '2:0.2', '2:0.5', '2:1', '3:0.2', '3:0.5', '3:1']);
  for (const t of report.trials) assert.ok(t.right !== null && t.psnrTruth !== null && Number.isFinite(t.psnrBackground), t.name);
  const written = (await readPack(pack)).manifest.defaults?.tasks?.insert;
  assert.deepEqual(written, { shareLayers: report.chosen.shareLayers, shareSteps: report.chosen.shareSteps });
  assert.equal(report.chosen.by, 'sweep', 'with answers the sweep chooses');
  assert.match(r.stdout, /wrote defaults\.tasks\.insert: shareLayers/);
});

test('on the built-in pack: two calibration seeds ranked and compared, the top set scored against the ground truth', { timeout: 600_000 }, async () => {
  const dir = await tempDir();
  const json = join(dir, 'layers.json');
  const r = await flowedit(['layers', '--task', 'remove', '--cases', '3', '--top-k', '3', '--json', json, '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /rank correlation \(Spearman ρ\) of seed 0 and seed 1: -?[01]\.\d{3}/);
  const report = JSON.parse(await readFile(json, 'utf8')) as Report;
  assert.equal(report.scores.length, 2);
  assert.equal(report.scores[0]!.layers.length, 8);
  assert.equal(report.rankCorrelation.length, 1);
  // the pack's measured remove layers (all eight) differ from the top 3, so they run too
  const measured = (await readPack(builtinPackDir())).manifest.defaults?.tasks?.remove?.shareLayers;
  assert.deepEqual(report.trials.map((t) => t.name), ['top 3', 'all layers', 'no sharing', 'pack default']);
  assert.deepEqual(report.trials[3]!.layers, measured);
  assert.equal(report.trials[0]!.layers.length, 3);
  assert.deepEqual(report.trials[2]!.fraction, 0);
  for (const t of report.trials) assert.ok(t.right !== null && t.right >= 0 && t.right <= 1, t.name);
});

test('Ctrl-C cancels a study while it runs: exit 130, nothing written', { timeout: 120_000 }, async () => {
  const dir = await tempDir();
  const json = join(dir, 'layers.json');
  let sent = false;
  const args = ['layers', '--model', TINY, '--task', 'insert', '--calibration', await shortInsertCalibration(dir), '--sweep', '--json', json, '--threads', '1'];
  const r = await flowedit(args, (stderr, kill) => {
    // the first case inverted: the study is under way on its worker, and the main thread hears the signal
    if (!sent && /flowedit: inverting 1\/1 1\/2/.test(stderr)) {
      sent = true;
      kill('SIGINT');
    }
  });
  assert.ok(sent, `the study's progress was shown before the interrupt: ${r.stderr}`);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /cancelling after the current step[\s\S]*cancelled; no output was written/);
  assert.equal(r.stdout, '', 'no study was printed');
  await assert.rejects(stat(json), /ENOENT/);
});

test('bad requests fail before the model loads, with what to do', async () => {
  assertCleanFailure(await flowedit(['layers', '--task', 'paint']), /Invalid values:[\s\S]*task[\s\S]*paint/);
  assertCleanFailure(await flowedit(['layers', '--task', 'swap', '--top-k', '9']), /integer from 1 to 8 \(the pack's shareable layers\) for --top-k but received 9/);
  assertCleanFailure(await flowedit(['layers', '--task', 'swap', '--calibration', '/nowhere/c.json']), /Cannot read calibration file \/nowhere\/c\.json: not found/);
  assertCleanFailure(await flowedit(['layers', '--task', 'swap', '--cases', '0']), /Expected an integer from 1 to 100000 for --cases but received 0/);
  assertCleanFailure(await flowedit(['layers', '--task', 'swap', '--share-steps', '2']), /\[0, 1\] for --share-steps but received 2/);
  assertCleanFailure(await flowedit(['layers', '--model', TINY, '--task', 'swap', '--calibration', builtinCalibration(0)]), /entry swap-000: the sourcePrompt ".*" has \d+ tokens but this pack reads at most 8: shorten it/);
});

test('swap --task picks that task\'s pack defaults over the swap\'s; an unknown task is refused', async () => {
  const dir = await tempDir();
  const pack = join(dir, 'tiny');
  await cp(TINY, pack, { recursive: true });
  const manifest = JSON.parse(await readFile(join(pack, 'manifest.json'), 'utf8'));
  manifest.defaults.tasks = { swap: { guidance: 5, shareLayers: [0], shareSteps: 0.25 }, remove: { shareLayers: [2], shareSteps: 0.75 } };
  await writeFile(join(pack, 'manifest.json'), JSON.stringify(manifest));
  const config = async (task: string) => {
    const r = await flowedit(['swap', SAMPLE, '--model', pack, '--mask', SAMPLE, '--task', task, '--target-prompt', 'stripes', '-o', join(dir, 'o.png'), '--print-config']);
    assert.equal(r.code, 0, r.stderr);
    const s = (JSON.parse(r.stdout) as { settings: { guidance: number; shareLayers: number[]; shareSteps: number } }).settings;
    return [s.guidance, s.shareLayers, s.shareSteps];
  };
  assert.deepEqual(await config('swap'), [5, [0], 0.25]);
  assert.deepEqual(await config('remove'), [5, [2], 0.75]);
  assert.deepEqual(await config('insert'), [5, [0], 0.25], 'no insert defaults: the swap\'s');
  assertCleanFailure(await flowedit(['swap', SAMPLE, '--mask', SAMPLE, '--task', 'paint', '--target-prompt', 'x', '-o', join(dir, 'o.png')]), /Unknown task "paint": choose one of swap, recolor, insert, remove/);
});

test('any pack, own media: a folder of stills and a clip ranked on the fixture pack, --write into a copy changes only the task defaults', { timeout: 600_000 }, async () => {
  const dir = await tempDir();
  const pack = join(dir, 'tiny');
  await cp(TINY, pack, { recursive: true });
  const before = JSON.parse(await readFile(join(pack, 'manifest.json'), 'utf8'));
  const json = join(dir, 'layers.json');
  const r = await flowedit(['layers', '--model', pack, '--task', 'swap', '--calibration', OWN, '--steps', '4', '--write', '--json', json, '--threads', '1', '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Guidance responsiveness of tiny's layers for swap \(3 edits, probe steps 0, 1 of 4\):/);
  assert.match(r.stdout, /diffueraser-12f\.mp4: clip, frames 1–9 of 12, 112×64/);
  assert.match(r.stdout, /rank {2}layer {2}R \(set 1\)\n +1 +\d +\d\.\d{4}\n +2 +\d +\d\.\d{4}\n +3 +\d +\d\.\d{4}\n/);
  assert.match(r.stdout, /no right answers .* so only what each keeps of the source is measured/);
  assert.doesNotMatch(r.stdout, /object right/, 'no answers, no answer columns');
  assert.match(r.stderr, /warning: .*entry diffueraser-12f\.mp4: the clip has 12 frames; the analysis uses its first 9/);
  const report = JSON.parse(await readFile(json, 'utf8')) as Report;
  assert.deepEqual(report.cases.map((c) => [c.id, c.frames]), [['vace-frame-00.png', 1], ['vace-frame-20.png', 1], ['diffueraser-12f.mp4', 9]]);
  assert.equal(report.answers, false);
  assert.equal(report.scores[0]!.perCase.length, 3);
  for (const row of report.scores[0]!.perCase) for (const v of row) assert.ok(Number.isFinite(v) && v > 0, `R ${v}`);
  for (const t of report.trials) {
    assert.deepEqual([t.right, t.psnrTruth], [null, null], t.name);
    assert.ok(Number.isFinite(t.psnrBackground) && Number.isFinite(t.psnrInside), t.name);
  }
  // without answers the choice is the top k by responsiveness, with the task's τ
  assert.deepEqual(report.chosen, { shareLayers: [...report.scores[0]!.ranking.slice(0, 2)].sort(), shareSteps: 0.5, by: 'responsiveness' });
  const after = JSON.parse(await readFile(join(pack, 'manifest.json'), 'utf8'));
  assert.deepEqual(after.defaults.tasks, { swap: { shareLayers: report.chosen.shareLayers, shareSteps: 0.5 } });
  assert.deepEqual({ ...after, defaults: { ...after.defaults, tasks: undefined } }, { ...before, defaults: { ...before.defaults, tasks: undefined } }, 'every other field kept');
  assert.match(r.stdout, new RegExp(`wrote defaults\\.tasks\\.swap: shareLayers \\[${report.chosen.shareLayers.join(', ')}\\], shareSteps 0\\.5 to .*manifest\\.json \\(the task had no sharing of its own; every other field kept\\)`));
});

test('any pack, own media: cross-attention text on stills, and a sweep without answers measures but chooses nothing', { timeout: 600_000 }, async () => {
  const dir = await tempDir();
  const json = join(dir, 'layers.json');
  const r = await flowedit(['layers', '--model', TINY_PIXEL, '--task', 'text-edit', '--calibration', join(OWN, 'stills.json'), '--steps', '4', '--sweep', '--json', json, '--threads', '1', '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Guidance responsiveness of tiny-pixel's layers for text-edit \(2 edits/);
  assert.match(r.stdout, /the sweep chooses nothing without right answers/);
  const report = JSON.parse(await readFile(json, 'utf8')) as Report;
  assert.deepEqual([...report.scores[0]!.ranking].sort(), [0, 1]);
  assert.deepEqual(report.sweep.map((t) => `${t.k}:${t.fraction}`), ['1:0.2', '1:0.5', '1:1', '2:0.2', '2:0.5', '2:1']);
  assert.equal(report.chosen.by, 'responsiveness');
  assert.deepEqual(report.cases.map((c) => c.mask), [true, false], 'text-edit takes an entry without a mask');
});

test('bad calibration folders fail before the model loads, one clear error naming the entry', async () => {
  const dir = await tempDir();
  const broken = await brokenPack(dir);
  const folder = async (name: string, entry: string): Promise<string> => {
    const f = join(dir, name);
    await cp(OWN, f, { recursive: true });
    await writeFile(join(f, 'calibration.yaml'), `entries:\n  - {input: vace-frame-00.png, mask: vace-mask.png, sourcePrompt: a photo, targetPrompt: a red photo}\n  - ${entry}\n`);
    return f;
  };
  const run = (f: string, ...extra: string[]) => flowedit(['layers', '--model', broken, '--task', 'swap', '--calibration', f, '--steps', '4', ...extra]);
  const cases: [string, RegExp][] = [
    ['{input: gone.png, mask: vace-mask.png, targetPrompt: a red photo}', /calibration\.yaml: entry 2 \(gone\.png\): input: gone\.png not found/],
    ['{input: vace-frame-20.png, mask: vace-mask.png, targetPrompt: a red photo on a plain background with stripes}', /calibration\.yaml: entry vace-frame-20\.png: the targetPrompt ".*" has 9 tokens but this pack reads at most 8: shorten it/],
    ['{input: vace-frame-20.png, targetPrompt: a red photo}', /calibration\.yaml: entry vace-frame-20\.png: no mask, but swap edits inside a mask: add mask: <file>/],
    ['{input: ../tiny/../escape.png, mask: vace-mask.png, targetPrompt: a red photo}', /calibration\.yaml: entry 2 \(\.\.\/tiny\/\.\.\/escape\.png\): input: \.\.\/tiny\/\.\.\/escape\.png is outside the calibration folder/],
  ];
  for (const [i, [entry, message]] of cases.entries()) {
    const r = await run(await folder(`bad-${i}`, entry));
    assertCleanFailure(r, message);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one problem, one line: ${r.stderr}`);
  }
  const empty = join(dir, 'empty');
  await cp(join(OWN, 'vace-mask.png'), join(empty, 'vace-mask.png'));
  assertCleanFailure(await run(empty), /Calibration folder .*empty holds no calibration\.json or calibration\.yaml/);
  // --sweep --write needs answers to pick by
  const sweep = await run(OWN, '--sweep', '--write');
  assertCleanFailure(sweep, /--sweep --write picks the setting that gets the calibration's right answers, but .*calibration\.yaml's swap edits carry none/);
  assert.equal(sweep.code, 2);
});

test('--write refuses, before any work, a configuration folder it cannot write the built-in pack\'s copy into, and a read-only manifest', async () => {
  const dir = await tempDir();
  const notFolder = join(dir, 'not-a-folder');
  await writeFile(notFolder, '');
  const builtin = await flowedit(['layers', '--task', 'swap', '--calibration', OWN, '--write'], undefined, { ...process.env, FLOWEDIT_HOME: notFolder });
  assertCleanFailure(builtin, /Cannot make .*not-a-folder\/packs\/flowedit-tiny: .*not-a-folder is not a directory; the configuration folder \(FLOWEDIT_HOME, .*\) must be a folder you can write/);
  assertCleanFailure(await flowedit(['layers', '--task', 'swap', '--calibration', OWN, '--write-builtin']), /--write-builtin only allows --write into the built-in pack: add --write/);
  const pack = await brokenPack(dir);
  await chmod(join(pack, 'manifest.json'), 0o444);
  assertCleanFailure(await flowedit(['layers', '--model', pack, '--task', 'swap', '--calibration', OWN, '--write']), /Cannot write .*manifest\.json: it is read-only \(mode 444\); make it writable/);
});
