/**
 * int8 weights against float32 on one transformer call: `node dist/bench/int8.js [--model DIR]
 * [--int8 DIR] [--threads n] [--rounds n]`. Quantises the pack into a temporary folder (or takes
 * --int8), then, alternating the two graphs, times a call at the edit's shape (batch 2, the
 * pack's default size, the other path's keys as context on every layer), prints the relative
 * error of the velocity, and the time per operator type from onnxruntime's own profiling.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { builtinPackDir } from '../src/model/builtin.js';
import { readPack } from '../src/model/pack.js';
import { quantizePack } from '../src/model/quantize.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, int8: { type: 'string' }, threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '7' } } });
const packDir = resolve(values.model ?? builtinPackDir());
const threads = Number(values.threads);
const work = await mkdtemp(join(tmpdir(), 'flowedit-int8-bench-'));
const int8Dir = values.int8 ? resolve(values.int8) : join(work, 'int8');
const report = values.int8 ? undefined : await quantizePack(packDir, int8Dir);
/** the weight matmuls (float32 names, and the int8 nodes named after them) */
const weightNodes = report?.quantised.map((q) => q.node) ?? [];
const m = (await readPack(packDir)).manifest;
const tr = m.transformer;

// the edit's call: batch 2 (guidance), the default size, joint text, every layer given S keys of context
const [w, h] = m.image.defaultSize ?? [128, 128];
const [ph, pw] = [tr.patchSize[1], tr.patchSize[2]];
const [H, W] = [h / m.latent.spatialCompression, w / m.latent.spatialCompression];
const L = m.text?.maxTokens ?? 0;
const S = (H / ph) * (W / pw) + (tr.text === 'joint' ? L : 0);
const B = 2;
let seed = 1;
const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
const tensor = (shape: number[], f: () => number = rand) => new ort.Tensor('float32', Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, f), shape);
const feeds: Record<string, ort.Tensor> = { latents: tensor([B, m.latent.channels, 1, H, W]), t: tensor([B], () => 0.5) };
if (tr.text !== 'none') feeds.text = tensor([B, L, m.text?.dim ?? 0], () => rand() * 0.5);
for (const i of tr.contextLayers) {
  feeds[`ctx_k.${i}`] = tensor([B, tr.heads, S, tr.headDim]);
  feeds[`ctx_v.${i}`] = tensor([B, tr.heads, S, tr.headDim]);
  feeds[`ctx_bias.${i}`] = tensor([B, 2 * S], () => 0);
}

const open = (dir: string, profile = false) =>
  ort.InferenceSession.create(join(dir, tr.file), { graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, enableProfiling: profile, profileFilePrefix: join(work, 'profile') });
const sessions = { float32: await open(packDir), int8: await open(int8Dir) };
const run = async (s: ort.InferenceSession) => (await s.run(feeds, ['velocity'])).velocity!.data as Float32Array;

const [a, b] = [await run(sessions.float32), await run(sessions.int8)];
let [e, n] = [0, 0];
for (let i = 0; i < a.length; i++) [e, n] = [e + (a[i]! - b[i]!) ** 2, n + a[i]! ** 2];
console.log(`${m.id}: one call at [${feeds.latents!.dims.join(', ')}], ${threads} threads; velocity relative error (L2) int8 vs float32: ${Math.sqrt(e / n).toFixed(4)}`);

const times: Record<string, number[]> = { float32: [], int8: [] };
const calls = 20;
for (const s of Object.values(sessions)) for (let i = 0; i < 5; i++) await run(s);
for (let r = 0; r < Number(values.rounds); r++) {
  for (const [k, s] of Object.entries(sessions)) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await run(s);
    times[k]!.push((performance.now() - t0) / calls);
  }
}
const stat = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return { best: s[0]!, median: s[Math.floor(s.length / 2)]! };
};
const [f, q] = [stat(times.float32!), stat(times.int8!)];
console.log(`ms per call, best / median of ${values.rounds} rounds of ${calls}: float32 ${f.best.toFixed(2)} / ${f.median.toFixed(2)}, int8 ${q.best.toFixed(2)} / ${q.median.toFixed(2)}; int8 speed-up ${(f.best / q.best).toFixed(2)}× best, ${(f.median / q.median).toFixed(2)}× median`);

// onnxruntime's own profile: kernel time per operator type
for (const [k, dir] of [['float32', packDir], ['int8', int8Dir]] as const) {
  const s = await open(dir, true);
  for (let i = 0; i < calls; i++) await run(s);
  (s as unknown as { endProfiling(): void }).endProfiling();
  await s.release();
  const file = (await readdir(work)).filter((x) => x.startsWith('profile')).sort().at(-1)!;
  const events = JSON.parse(await readFile(join(work, file), 'utf8')) as { cat?: string; name: string; dur: number; args?: { op_name?: string } }[];
  await rm(join(work, file));
  const byOp = new Map<string, number>();
  let total = 0;
  let weights = 0;
  for (const ev of events) {
    if (ev.cat !== 'Node' || !ev.name.endsWith('_kernel_time')) continue;
    const op = ev.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + ev.dur);
    total += ev.dur;
    const node = ev.name.slice(0, -'_kernel_time'.length);
    if (weightNodes.some((w) => node === w || node.startsWith(`${w}_`))) weights += ev.dur;
  }
  const top = [...byOp].sort((x, y) => y[1] - x[1]).slice(0, 8);
  const share = weightNodes.length ? `; the weight matmuls ${((100 * weights) / total).toFixed(0)}% (${(weights / 1000 / calls).toFixed(2)} ms)` : '';
  console.log(`${k}: kernels ${(total / 1000 / calls).toFixed(2)} ms per call (profiled)${share}: ${top.map(([op, us]) => `${op} ${((100 * us) / total).toFixed(0)}%`).join(', ')}`);
}
await Promise.all(Object.values(sessions).map((s) => s.release()));
await rm(work, { recursive: true, force: true });
