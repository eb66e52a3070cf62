/**
 * Where an edit's time goes against what the machine can do, in one run: for the built-in pack and
 * the tiny fixture pack, a still edit (invert + edit) and a 17-frame clip swap, each twice on a
 * fresh worker through the library (the first job loads the pack and runs cold code; the second
 * is what every later job of a batch or a service sees), with their profiles (--profile's numbers): wall
 * time, model load, the share of the time after load inside model calls, and the transformer's
 * GFLOP/s (docs/performance.md). Beside them the best float32 matmul rate of onnxruntime (a MatMul
 * graph built here, 1024³, on 1 and 2 threads) and of a BLAS (numpy in .venv, when there is one),
 * and onnxruntime's MatMul at the built-in transformer's own shapes (what its width allows),
 * and the same edits on an int8 copy of each pack (quantizePack, when this build has it) with the
 * reconstruction PSNR of both (invert + reconstruct of the still). With the project's Python, also
 * a wider transformer for speed only (flowedit-pixel after one training step, widePack).
 * Targets: model calls ≥ 90 % of the time after load; transformer ≥ 70 % of the best
 * float32 matmul rate; int8 ≥ 1.6× faster than float32 with reconstruction PSNR within 0.5 dB.
 * Usage: npm run bench:perf -- [--skip-clip] [--matmul N] [--rounds N]
 * With --rounds N, float32 and int8 alternate N times and each row is the round of median wall time.
 * Prints tables; asserts nothing about speed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createFlowedit } from '../src/api.js';
import { readImage } from '../src/media/image.js';
import type { Profile } from '../src/media/profile.js';
import { builtinPackDir } from '../src/model/builtin.js';
import { onnxModel, squareMatmulModel } from '../src/model/onnx-proto.js';
import { openGraph, type Feed, type OnnxGraph } from '../src/model/ort.js';

const { values } = parseArgs({ options: { 'skip-clip': { type: 'boolean', default: false }, matmul: { type: 'string', default: '1024' }, rounds: { type: 'string', default: '1' } } });
const rounds = Number(values.rounds);
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds must be a whole number of at least 1, got ${values.rounds}`);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const at = (p: string) => join(ROOT, p);

interface Edits {
  readonly name: string;
  readonly pack: string;
  readonly still: { input: string; source: string; target: string; autoMask?: number };
  /** absent: the still only */
  readonly clip?: { input: string; mask: string; source: string; target: string };
  /** speed only: its weights mean nothing, so its reconstruction is not reported */
  readonly speedOnly?: boolean;
}

const SCENE_CLIP = { input: at('samples/scenes/clip-5.mp4'), mask: at('samples/scenes/clip-5-mask.mp4') };
const CASES: Edits[] = [
  {
    name: 'flowedit-tiny',
    pack: builtinPackDir(),
    still: { input: at('samples/scenes/still-1.png'), source: 'a purple square and a black triangle on blue dots', target: 'a red square and a black triangle on blue dots' },
    clip: { ...SCENE_CLIP, source: 'a yellow square and an orange square on purple stripes', target: 'a yellow square and a blue square on purple stripes' },
  },
  {
    name: 'tiny (fixture)',
    pack: at('test/fixtures/packs/tiny'),
    still: { input: at('samples/red-circle-on-stripes.png'), source: 'a red circle', target: 'a green circle' },
    clip: { ...SCENE_CLIP, source: 'a red circle', target: 'a green circle' },
  },
];

/**
 * A wider transformer than the built-in pack's, for speed only: flowedit-pixel (6 layers of width
 * 256, 64×64 pixels, 256 tokens a frame) exported after one training step by the project's Python
 * (python/train.py), or null without it. Its velocity is still about 0 (adaLN-Zero), so its edits
 * run with the automatic mask off, and only its times mean anything.
 */
async function widePack(dir: string): Promise<Edits | null> {
  const python = process.env.FLOWEDIT_PYTHON ?? at('.venv/bin/python');
  if (!existsSync(python)) return null;
  const out = join(dir, 'flowedit-pixel');
  const args = ['--config', 'flowedit-pixel', '--size', '64', '--run', join(dir, 'pixel-run'), '--threads', '2', '--workers', '0', '--batch', '2', '--clip-p', '0', '--dit-steps', '1', '--check-every', '1e9', '--check-count', '4', '--check-steps', '1', '--save-every', '1e9', '--export', out];
  try {
    await promisify(execFile)(python, [at('python/train.py'), ...args], { cwd: ROOT });
  } catch (err) {
    process.stdout.write(`flowedit-pixel: not built (${(err as Error).message.split('\n')[0]}); its rows are left out\n`);
    return null;
  }
  return { name: 'flowedit-pixel (w 256, speed only)', pack: out, still: { ...CASES[0]!.still, autoMask: 0 }, speedOnly: true };
}

/** quantizePack's signature (src/model/quantize.ts), loaded only where this build has it. */
type QuantizePack = (packDir: string, outDir: string, opts?: { onProgress?: (e: unknown) => void }) => Promise<unknown>;

async function quantizer(): Promise<QuantizePack | null> {
  const module = '../src/model/quantize.js';
  if (!existsSync(fileURLToPath(new URL(module, import.meta.url)))) return null;
  return ((await import(module)) as { quantizePack: QuantizePack }).quantizePack;
}

/** The best of 10 calls of `graph` (after 2 unmeasured), in ms; the graph is released after. */
async function bestCallMs(graph: OnnxGraph, feeds: Record<string, Feed>, output: string): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 12; i++) {
    const t0 = performance.now();
    await graph.run(feeds, [output]);
    if (i >= 2) best = Math.min(best, performance.now() - t0);
  }
  await graph.release();
  return best;
}

/** Best GFLOP/s of onnxruntime's MatMul of two n×n float32 matrices on `threads` threads. */
async function ortMatmul(n: number, threads: number): Promise<number> {
  const graph = await openGraph(squareMatmulModel(n), { threads, label: 'matmul' });
  const a = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const feeds = { a: { dtype: 'float32' as const, data: a, shape: [n, n] }, b: { dtype: 'float32' as const, data: a, shape: [n, n] } };
  return (2 * n ** 3) / (await bestCallMs(graph, feeds, 'y')) / 1e6;
}

/**
 * Best GFLOP/s of onnxruntime's MatMul at a narrow model's shapes: one graph call multiplies [m, k]
 * by [k, n] and back by [n, k], 16 times over, so the call's own cost is spread over 32 products.
 */
async function ortMatmulChain(m: number, k: number, n: number, threads: number): Promise<number> {
  const pairs = 16;
  const nodes = [];
  let x = 'a';
  for (let i = 0; i < pairs; i++) {
    nodes.push({ op: 'MatMul', inputs: [x, 'up'], outputs: [`u${i}`] }, { op: 'MatMul', inputs: [`u${i}`, 'down'], outputs: [`d${i}`] });
    x = `d${i}`;
  }
  const graph = await openGraph(
    onnxModel({
      inputs: [
        { name: 'a', type: 'float32', shape: [m, k] },
        { name: 'up', type: 'float32', shape: [k, n] },
        { name: 'down', type: 'float32', shape: [n, k] },
      ],
      outputs: [{ name: x, type: 'float32', shape: [m, k] }],
      nodes,
    }),
    { threads, label: 'matmul' },
  );
  // uniform entries of variance 1/width (a linear congruential sequence) keep every product near unit size
  let seed = 12345;
  const values = (len: number, width: number) =>
    new Float32Array(len).map(() => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return ((seed / 2 ** 32 - 0.5) * 2 * Math.sqrt(3)) / Math.sqrt(width);
    });
  const feeds = {
    a: { dtype: 'float32' as const, data: values(m * k, 1), shape: [m, k] },
    up: { dtype: 'float32' as const, data: values(k * n, k), shape: [k, n] },
    down: { dtype: 'float32' as const, data: values(n * k, n), shape: [n, k] },
  };
  return (pairs * 4 * m * k * n) / (await bestCallMs(graph, feeds, x)) / 1e6;
}

/** Best GFLOP/s of numpy's float32 matmul (its BLAS) on `threads` threads, or null without the project's Python. */
async function blasMatmul(n: number, threads: number): Promise<number | null> {
  const python = process.env.FLOWEDIT_PYTHON ?? at('.venv/bin/python');
  if (!existsSync(python)) return null;
  const code = `import numpy as np, time
a = np.random.default_rng(0).standard_normal((${n}, ${n})).astype(np.float32)
best = 1e9
for i in range(12):
    t = time.perf_counter(); a @ a; d = time.perf_counter() - t
    if i >= 2: best = min(best, d)
print(2 * ${n} ** 3 / best / 1e9)`;
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  try {
    const { stdout } = await promisify(execFile)(python, ['-c', code], { env });
    return Number(stdout.trim());
  } catch {
    return null;
  }
}

interface Measured {
  readonly profile: Profile;
  readonly calls: number;
}

/**
 * The same call twice on one fresh worker: the first loads the pack inside its profile and runs
 * cold code; the second finds the pack kept and the code warm, as every job after the first of a
 * batch or a service does.
 */
async function profiled(pack: string, run: (f: ReturnType<typeof createFlowedit>, onProfile: (p: Profile) => void, round: number) => Promise<{ calls: number }>): Promise<[Measured, Measured]> {
  const f = createFlowedit({ model: pack });
  try {
    const once = async (round: number): Promise<Measured> => {
      let profile: Profile | undefined;
      const r = await run(f, (p) => (profile = p), round);
      return { profile: profile!, calls: r.calls };
    };
    const first = await once(0);
    return [first, await once(1)];
  } finally {
    await f.close();
  }
}

function psnr(a: Float32Array, b: Float32Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10(4 / (se / a.length));
}

/** Invert + reconstruct of the still: PSNR of the reconstruction against the source, dB. */
async function reconstructionPsnr(pack: string, e: Edits, dir: string): Promise<number> {
  const f = createFlowedit({ model: pack });
  try {
    const inv = join(dir, `inv-${Math.random().toString(36).slice(2)}.flowinv`);
    await f.invert({ input: e.still.input, sourcePrompt: e.still.source, output: inv });
    const out = join(dir, `rec-${Math.random().toString(36).slice(2)}.png`);
    await f.reconstruct({ input: inv, output: out });
    const [src, rec] = [await readImage(e.still.input), await readImage(out)];
    return psnr(src.data, rec.data);
  } finally {
    await f.close();
  }
}

interface Row {
  readonly what: string;
  readonly m: Measured;
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

function table(rows: readonly Row[], best: number): void {
  const head = ['run', 'wall s', 'load s', 'calls', 'in model calls (after load)', 'transformer GFLOP/s', 'of best matmul'];
  const cells = rows.map(({ what, m }) => {
    const p = m.profile;
    const tr = p.graphs['transformer.onnx'];
    const rate = tr?.gflopPerSecond ?? 0;
    return [what, (p.wallMs / 1000).toFixed(2), (p.loadMs / 1000).toFixed(2), String(m.calls), pct(p.modelMs / (p.wallMs - p.loadMs)), rate.toFixed(1), pct(rate / best)];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c]!.length)));
  const line = (r: readonly string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  process.stdout.write(`${line(head)}\n${cells.map(line).join('\n')}\n`);
}

async function main(): Promise<void> {
  const n = Number(values.matmul);
  const dir = await mkdtemp(join(tmpdir(), 'flowedit-perf-'));
  try {
    const quantize = await quantizer();
    const rows: Row[] = [];
    /** per pack kind: [still, clip] as first jobs and as second jobs of their worker */
    const int8: { name: string; f32: Measured[][]; i8: Measured[][]; psnr32: number; psnr8: number }[] = [];
    const wide = await widePack(dir);
    for (const e of wide ? [...CASES, wide] : CASES) {
      const packs: [string, string][] = [['float32', e.pack]];
      if (quantize) {
        const out = join(dir, `${e.name.replace(/\W+/g, '-')}-int8`);
        await quantize(e.pack, out);
        packs.push(['int8', out]);
      }
      // float32 and int8 alternated, round after round; each row is the round with the median wall time
      const runs = new Map<string, Measured[]>();
      const keep = (key: string, m: Measured) => runs.set(key, [...(runs.get(key) ?? []), m]);
      for (let round = 0; round < rounds; round++) {
        for (const [kind, pack] of packs) {
          const name = (what: string, job: number, ext: string) => join(dir, `${e.name.replace(/\W+/g, '-')}-${what}-${kind}-${round}-${job}.${ext}`);
          const [still, stillWarm] = await profiled(pack, (f, onProfile, job) => f.edit({ input: e.still.input, sourcePrompt: e.still.source, targetPrompt: e.still.target, ...(e.still.autoMask !== undefined ? { autoMask: e.still.autoMask } : {}), output: name('still', job, 'png') }, { onProfile }));
          keep(`${kind} still 0`, still);
          keep(`${kind} still 1`, stillWarm);
          const c = e.clip;
          if (c && !values['skip-clip']) {
            const [clip, clipWarm] = await profiled(pack, (f, onProfile, job) => f.swap({ input: c.input, mask: c.mask, sourcePrompt: c.source, targetPrompt: c.target, output: name('clip', job, 'mp4') }, { onProfile }));
            keep(`${kind} clip 0`, clip);
            keep(`${kind} clip 1`, clipWarm);
          }
        }
      }
      const got: Record<string, [Measured[], Measured[]]> = {};
      for (const [kind] of packs) {
        got[kind] = [[], []];
        for (const what of ['still', 'clip'] as const) {
          for (const job of [0, 1] as const) {
            const all = runs.get(`${kind} ${what} ${job}`);
            if (!all) continue;
            const m = [...all].sort((a, b) => a.profile.wallMs - b.profile.wallMs)[(all.length - 1) >> 1]!;
            rows.push({ what: job === 0 ? `${e.name} ${kind} ${what === 'still' ? 'still edit' : 'clip swap (17 frames)'}` : '  the same, 2nd job of the worker', m });
            got[kind][job].push(m);
          }
        }
      }
      if (quantize) {
        const [psnr32, psnr8] = e.speedOnly ? [NaN, NaN] : [await reconstructionPsnr(e.pack, e, dir), await reconstructionPsnr(packs[1]![1], e, dir)];
        int8.push({ name: e.name, f32: got.float32!, i8: got.int8!, psnr32, psnr8 });
      }
    }
    const ort1 = await ortMatmul(n, 1);
    const ort2 = await ortMatmul(n, 2);
    const blas1 = await blasMatmul(n, 1);
    const blas2 = await blasMatmul(n, 2);
    const bestOrt = Math.max(ort1, ort2);
    const best = Math.max(bestOrt, blas1 ?? 0, blas2 ?? 0);
    process.stdout.write(`float32 matmul ${n}³, best of 10: onnxruntime ${ort1.toFixed(1)} GFLOP/s on 1 thread, ${ort2.toFixed(1)} on 2; `);
    process.stdout.write(blas1 === null ? 'BLAS: no numpy in .venv (not measured)\n' : `BLAS (numpy) ${blas1.toFixed(1)} on 1 thread, ${(blas2 ?? 0).toFixed(1)} on 2\n`);
    process.stdout.write(`best float32 matmul rate: ${best.toFixed(1)} GFLOP/s (onnxruntime's best ${bestOrt.toFixed(1)})\n`);
    // the built-in pack's qkv projection in a still's edit call (B = 2, S = 80) and a 17-frame clip's (S = 1104)
    const small: string[] = [];
    for (const m of [160, 2208]) small.push(`${m} rows ${(await ortMatmulChain(m, 128, 384, 2)).toFixed(1)}`);
    process.stdout.write(`onnxruntime MatMul at the built-in transformer's own shapes ([m, 128] × [128, 384] and [m, 384] × [384, 128], 32 in one call), 2 threads: ${small.join(', ')} GFLOP/s\n\n`);
    table(rows, best);
    process.stdout.write(`\ntargets: model calls ≥ 90% of the time after load; transformer ≥ 70% of the best matmul rate (the last column)\n`);
    if (!quantize) {
      process.stdout.write('int8: this build has no src/model/quantize.ts (flowedit models quantize); int8 columns not measured\n');
      return;
    }
    process.stdout.write('\nint8 against float32 (target: ≥ 1.6× faster, reconstruction PSNR within 0.5 dB)\n');
    for (const r of int8) {
      const ratios = (f32: Measured[], i8: Measured[]) =>
        f32.map((m, i) => {
          const a = m.profile;
          const b = i8[i]!.profile;
          const tr = (p: Profile) => p.graphs['transformer.onnx']?.ms ?? 0;
          return `${i === 0 ? 'still' : 'clip'} ${(a.wallMs / b.wallMs).toFixed(2)}× wall, ${(tr(a) / tr(b)).toFixed(2)}× transformer`;
        });
      const speed = [`first job: ${ratios(r.f32[0]!, r.i8[0]!).join(', ')}`, `2nd job: ${ratios(r.f32[1]!, r.i8[1]!).join(', ')}`];
      const quality = Number.isNaN(r.psnr32) ? 'reconstruction not measured (untrained weights)' : `reconstruction PSNR float32 ${r.psnr32.toFixed(2)} dB, int8 ${r.psnr8.toFixed(2)} dB (${(r.psnr8 - r.psnr32).toFixed(2)} dB)`;
      process.stdout.write(`  ${r.name}: ${speed.join('; ')}; ${quality}\n`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
