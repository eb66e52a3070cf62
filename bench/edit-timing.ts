/**
 * Wall time of invert + reconstruct + edit on a 128×128 image (model load included), through
 * the same library the CLI uses. Usage: npm run bench -- [--model <pack>] [--steps N] [--solver S]
 * Prints figures; asserts nothing (timings on shared machines are noisy).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { editImage, invertImage, reconstructImage } from '../src/edit/image-jobs.js';
import { resolveSettings } from '../src/edit/settings.js';
import { builtinPackDir } from '../src/model/builtin.js';
import { loadPack } from '../src/model/pack.js';
import { isSolverName } from '../src/solvers/index.js';

const { values } = parseArgs({
  options: { model: { type: 'string' }, steps: { type: 'string' }, solver: { type: 'string' }, repeat: { type: 'string', default: '3' } },
});
const packDir = values.model ?? builtinPackDir();
/** This script runs as dist/bench/edit-timing.js. */
const SAMPLE = fileURLToPath(new URL('../../samples/red-circle-on-stripes.png', import.meta.url));

async function once(): Promise<Record<string, number>> {
  const t0 = performance.now();
  const pack = await loadPack(packDir);
  const t1 = performance.now();
  const s = resolveSettings(pack.manifest, 'edit', { steps: values.steps ? Number(values.steps) : undefined, solver: values.solver });
  if (!isSolverName(s.solver)) throw new Error('bad solver');
  const file = await invertImage(pack, SAMPLE, { sourcePrompt: 'a red circle on stripes', steps: s.steps, solver: s.solver, fit: s.fit });
  const t2 = performance.now();
  await reconstructImage(pack, file);
  const t3 = performance.now();
  await editImage(pack, file, { targetPrompt: 'a blue square on stripes', guidance: s.guidance, share: { layers: s.shareLayers, fraction: s.shareSteps } });
  const t4 = performance.now();
  await pack.release();
  return { load: t1 - t0, invert: t2 - t1, reconstruct: t3 - t2, edit: t4 - t3, total: t4 - t0, steps: s.steps };
}

const runs: Record<string, number>[] = [];
for (let i = 0; i < Number(values.repeat); i++) runs.push(await once());
const median = (k: string) => runs.map((r) => r[k]!).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
console.log(`pack ${packDir}, 128×128 sample, steps ${runs[0]!.steps}, ${runs.length} runs (median ms):`);
for (const k of ['load', 'invert', 'reconstruct', 'edit', 'total']) console.log(`  ${k.padEnd(12)} ${median(k).toFixed(0)} ms`);
