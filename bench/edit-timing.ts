/**
 * Wall time of invert + reconstruct + edit on the 128×128 sample (model load included), through
 * the same library the CLI uses, on a chosen device: per phase, per graph (runs and mean time of a
 * call), the share of the edit spent outside model calls, and the bytes that crossed between host
 * and device per edit step.
 * Usage: npm run bench -- [--model <pack>] [--steps N] [--solver S] [--device D] [--keep-on-device on|off] [--repeat N]
 * Prints figures; asserts nothing (timings on shared machines are noisy).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { editImage, invertImage, reconstructImage } from '../src/edit/frames/pipeline.js';
import { resolveSettings } from '../src/edit/frames/settings.js';
import { builtinPackDir } from '../src/model/builtin.js';
import { pickDevice } from '../src/model/devices.js';
import { resetTraffic, trafficSoFar, type Traffic } from '../src/model/ort.js';
import { loadPack } from '../src/model/pack.js';
import { isSolverName } from '../src/solvers/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    steps: { type: 'string' },
    solver: { type: 'string' },
    device: { type: 'string' },
    'keep-on-device': { type: 'string', default: 'on' },
    repeat: { type: 'string', default: '3' },
  },
});
const packDir = values.model ?? builtinPackDir();
const device = pickDevice(values.device);
const keepOnDevice = values['keep-on-device'] !== 'off';
/** This script runs as dist/bench/edit-timing.js. */
const SAMPLE = fileURLToPath(new URL('../../samples/red-circle-on-stripes.png', import.meta.url));

interface Run {
  readonly ms: Record<string, number>;
  readonly steps: number;
  /** what the edit phase ran and moved */
  readonly edit: Traffic;
}

async function once(): Promise<Run> {
  const t0 = performance.now();
  const pack = await loadPack(packDir, { device, keepOnDevice });
  const t1 = performance.now();
  const s = resolveSettings(pack.manifest, 'edit', { steps: values.steps ? Number(values.steps) : undefined, solver: values.solver });
  if (!isSolverName(s.solver)) throw new Error(`unknown solver ${s.solver}`);
  const file = await invertImage(pack, SAMPLE, { sourcePrompt: 'a red circle on stripes', steps: s.steps, solver: s.solver, fit: s.fit });
  const t2 = performance.now();
  await reconstructImage(pack, file);
  const t3 = performance.now();
  resetTraffic();
  await editImage(pack, file, { targetPrompt: 'a blue square on stripes', guidance: s.guidance, share: { layers: s.shareLayers, fraction: s.shareSteps } });
  const t4 = performance.now();
  const edit = trafficSoFar();
  await pack.release();
  return { ms: { load: t1 - t0, invert: t2 - t1, reconstruct: t3 - t2, edit: t4 - t3, total: t4 - t0 }, steps: s.steps, edit };
}

const runs: Run[] = [];
for (let i = 0; i < Number(values.repeat); i++) runs.push(await once());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const steps = runs[0]!.steps;
console.log(`pack ${packDir}, device ${device}${device !== 'cpu' ? `, keys/values and constant inputs ${keepOnDevice ? 'kept on the device' : 'through the host'}` : ''}, 128×128 sample, steps ${steps}, ${runs.length} runs (medians):`);
for (const k of ['load', 'invert', 'reconstruct', 'edit', 'total']) console.log(`  ${k.padEnd(12)} ${median(runs.map((r) => r.ms[k]!)).toFixed(0)} ms`);
console.log('  edit, by graph:');
for (const name of Object.keys(runs[0]!.edit.graphs)) {
  const calls = runs[0]!.edit.graphs[name]!.runs;
  const mean = median(runs.map((r) => r.edit.graphs[name]!.ms / r.edit.graphs[name]!.runs));
  console.log(`    ${name.padEnd(24)} ${String(calls).padStart(4)} runs, ${mean.toFixed(2)} ms each`);
}
const inside = median(runs.map((r) => Object.values(r.edit.graphs).reduce((a, g) => a + g.ms, 0) / r.ms.edit!));
console.log(`  edit outside model calls: ${(100 * (1 - inside)).toFixed(1)} % of its wall time`);
const e = runs[0]!.edit;
console.log(`  host↔device per edit step: ${(e.hostToDevice / steps / 1024).toFixed(1)} KiB to the device, ${(e.deviceToHost / steps / 1024).toFixed(1)} KiB back`);
