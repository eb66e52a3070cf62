/**
 * How long the caller's event loop stalls while an edit runs: through the library's worker pool
 * (createFlowedit) and, for comparison, with the job run on the caller's own thread. A timer
 * ticks every 5 ms; the figure is the longest gap between ticks beyond that, and the 99th
 * percentile of the loop delay (perf_hooks).
 *
 *   npm run bench:event-loop [-- --model DIR --steps N --runs N]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createFlowedit } from '../src/api.js';
import { builtinPackDir } from '../src/model/builtin.js';
import { planEdit } from '../src/jobs/plan-edit.js';
import { runJob } from '../src/jobs/run-job.js';
import { SAMPLE } from '../test/paths.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, steps: { type: 'string', default: '8' }, runs: { type: 'string', default: '3' } } });
const model = values.model ?? builtinPackDir();
const steps = Number(values.steps);
const runs = Number(values.runs);

/** Runs `work` while watching the loop: the longest gap past the tick, p99 delay, wall time. */
async function watched(work: () => Promise<unknown>): Promise<{ maxGapMs: number; p99Ms: number; seconds: number }> {
  const TICK = 5;
  const h = monitorEventLoopDelay({ resolution: 5 });
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last - TICK);
    last = now;
  }, TICK);
  h.enable();
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  h.disable();
  clearInterval(timer);
  return { maxGapMs: maxGap, p99Ms: h.percentile(99) / 1e6, seconds };
}

const dir = await mkdtemp(join(tmpdir(), 'flowedit-loop-'));
const request = { model, input: SAMPLE, sourcePrompt: 'a red circle on stripes', targetPrompt: 'a blue circle on stripes', steps };
const fe = createFlowedit({ workers: 1 });
const input = await readFile(SAMPLE);
try {
  // one edit first so both sides start with warm caches and a loaded worker
  await fe.edit({ ...request, input });
  const rows: string[] = [];
  for (let r = 0; r < runs; r++) {
    const pool = await watched(() => fe.edit({ ...request, input }));
    const here = await watched(async () => runJob((await planEdit({ ...request, output: join(dir, `here-${r}.png`), force: true })).spec, {}));
    rows.push(`${r + 1}  pool: max stall ${pool.maxGapMs.toFixed(1)} ms, p99 ${pool.p99Ms.toFixed(1)} ms (${pool.seconds.toFixed(2)} s)   caller's thread: max stall ${here.maxGapMs.toFixed(1)} ms, p99 ${here.p99Ms.toFixed(1)} ms (${here.seconds.toFixed(2)} s)`);
  }
  process.stdout.write(`event-loop stalls during an edit (${model}, ${steps} steps, fireflow)\n${rows.join('\n')}\n`);
} finally {
  await fe.close();
  await rm(dir, { recursive: true, force: true });
}
