/**
 * How long the caller's event loop stalls during an edit: through the library (createFlowedit,
 * the model in a worker thread) and, for comparison, with runJob on the caller's own thread.
 * Usage: node dist/bench/library-stall.js [--model <pack>] [--steps N]
 * Prints the longest and the 99th-percentile event-loop delay of each; asserts nothing.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { builtinPackDir, createFlowedit, planEdit, runJob } from '../src/index.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, steps: { type: 'string', default: '8' } } });
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const model = values.model ?? builtinPackDir();
const dir = mkdtempSync(join(tmpdir(), 'flowedit-bench-stall-'));
const request = {
  model,
  input: join(ROOT, 'samples/red-circle-on-stripes.png'),
  sourcePrompt: 'a red circle on pink stripes',
  targetPrompt: 'a blue circle on pink stripes',
  steps: Number(values.steps),
};

async function measured(what: string, fn: () => Promise<unknown>): Promise<void> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  const started = performance.now();
  h.enable();
  await fn();
  h.disable();
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  console.log(`${what}: longest stall ${ms(h.max)} ms, p99 ${ms(h.percentile(99))} ms, over ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

console.log(`edit of ${request.input} on ${model}, ${request.steps} steps`);
const fe = createFlowedit();
await measured('library (worker pool)', () => fe.edit(request));
await fe.close();
const plan = await planEdit({ ...request, output: join(dir, 'in-thread.png') });
await measured('runJob on the caller\'s thread', () => runJob(plan.spec, {}));
