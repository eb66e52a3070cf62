/** The batch fan-out with stand-in runners: how many runners start, failure isolation, replacing a dead runner, cancelling. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BatchPlan, PlannedItem } from '../../src/batch/plan.js';
import { runBatch, type ItemRunner } from '../../src/batch/run.js';
import { FLOWEDIT_DEFAULTS } from '../../src/edit/frames/settings.js';
import { tempDir } from '../paths.js';

async function plan(n: number): Promise<BatchPlan> {
  const outDir = await tempDir('flowedit-run-');
  const items: PlannedItem[] = Array.from({ length: n }, (_, i) => ({
    index: i + 1,
    id: `item${i}`,
    label: `item ${i + 1} (item${i})`,
    command: 'edit',
    outDir,
    input: '/dev/null',
    inputSha256: '0',
    sourcePrompt: '',
    settings: { ...FLOWEDIT_DEFAULTS, shareLayers: [1] },
    outputs: [{ code: 'x', targetPrompt: 'x', file: join(outDir, `item${i}-x.png`), sidecar: join(outDir, `item${i}-x.json`), key: 'k' }],
    job: { kind: 'edit', packDir: '', input: '/dev/null', inputIsInversion: false, output: join(outDir, `item${i}-x.png`), sourcePrompt: '', targetPrompt: 'x', settings: { ...FLOWEDIT_DEFAULTS, shareLayers: [1] } },
  }));
  return { manifest: 'm.yaml', outDir, model: 'fake', packDir: '', batchSeed: 0, items };
}

/** Runners that record what they ran; `fail` decides per item: a message, 'die' (the worker dies), or nothing. */
function fakeRunners(fail: (id: string) => string | undefined = () => undefined) {
  const started: number[] = [];
  const ran: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const startRunner = async (): Promise<ItemRunner> => {
    const me = started.length;
    started.push(me);
    let healthy = true;
    return {
      get healthy() {
        return healthy;
      },
      async run(item) {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight -= 1;
        const why = fail(item.id);
        if (why === 'die') {
          healthy = false;
          throw new Error('the inference worker stopped (exit code 1)');
        }
        if (why) throw new Error(why);
        ran.push(item.id);
        return [];
      },
      async close() {},
    };
  };
  return { startRunner, started, ran, maxInFlight: () => maxInFlight };
}

test('N runners at most, each reused across items; every item runs once', async () => {
  const p = await plan(9);
  const f = fakeRunners();
  const report = await runBatch(p, { concurrency: 3, startRunner: f.startRunner });
  assert.equal(f.started.length, 3, 'one model load per worker, not per item');
  assert.equal(f.maxInFlight(), 3);
  assert.deepEqual([...f.ran].sort(), p.items.map((i) => i.id).sort());
  assert.deepEqual(report.counts, { done: 9, skipped: 0, failed: 0, cancelled: 0 });
});

test('a failing item and a dying runner do not stop the others; the dead runner is replaced', async () => {
  const p = await plan(6);
  const f = fakeRunners((id) => (id === 'item1' ? 'Cannot read as an image' : id === 'item3' ? 'die' : undefined));
  const report = await runBatch(p, { concurrency: 2, startRunner: f.startRunner });
  assert.deepEqual(report.counts, { done: 4, skipped: 0, failed: 2, cancelled: 0 });
  assert.equal(report.items[1]!.reason, 'Cannot read as an image');
  assert.match(report.items[3]!.reason!, /worker stopped/);
  assert.equal(f.started.length, 3, 'two runners, plus one to replace the dead one');
});

test('an aborted batch starts nothing new and reports the rest as cancelled', async () => {
  const p = await plan(5);
  const controller = new AbortController();
  const f = fakeRunners();
  const report = await runBatch(p, {
    concurrency: 1,
    startRunner: f.startRunner,
    signal: controller.signal,
    onEvent: (e) => {
      if (e.type === 'finish' && e.item.id === 'item1') controller.abort();
    },
  });
  assert.deepEqual(f.ran, ['item0', 'item1']);
  assert.deepEqual(report.counts, { done: 2, skipped: 0, failed: 0, cancelled: 3 });
});
