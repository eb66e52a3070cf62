/**
 * Wan2.1-T2V-1.3B's transformer at full size on this CPU, with random weights (no checkpoint is
 * needed), through onnxruntime-node: one call per graph and clip size, each in its own child
 * process under /usr/bin/time -v. The graphs are those bench/wan-export.py wrote into --work (the
 * float32 export and its weight-only int4/int8 forms; run it first, `npm run bench:wan` runs both).
 * onnxruntime's float32 GEMM rate (MatMul 1024³ and 2048³, and the transformer's largest product,
 * 7800×1536×8960, each with its weight as an initialiser as in the transformer) is measured in the
 * same run, on the same threads, for comparison; the calls' rates are given against the best of them. Reports graph size, session load seconds, seconds per call, the
 * achieved GFLOP/s (the call's FLOPs counted from the architecture) and the call's peak memory.
 * Usage: node dist/bench/wan-transformer.js [--weights float32,int4] [--sizes 256x256x5,480x832x17]
 *        [--work /tmp/flowedit-wan-bench] [--threads 2]
 * Sizes are HEIGHTxWIDTHxFRAMES. Prints figures; asserts nothing (timings on shared machines are noisy).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { openGraph, type Feed } from '../src/model/ort.js';
import { timed } from './timed.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = process.env.FLOWEDIT_PYTHON ?? join(ROOT, '.venv/bin/python');
const exec = promisify(execFile);

const { values } = parseArgs({
  options: {
    weights: { type: 'string', default: 'float32,int4' },
    sizes: { type: 'string', default: '256x256x5,480x832x17' },
    work: { type: 'string', default: '/tmp/flowedit-wan-bench' },
    threads: { type: 'string', default: '2' },
    /** internal: run one call of <transformer.onnx> at <size> in this process and print JSON */
    child: { type: 'string' },
    size: { type: 'string' },
    /** internal: time MatMul (a weight B) in <graph.onnx> at --shape M,K,N */
    gemm: { type: 'string' },
    shape: { type: 'string' },
  },
});
const threads = Number(values.threads);

/** Wan2.1-T2V-1.3B (config.json of the release): the sizes the FLOP count needs. */
const WAN_1_3B = { dim: 1536, ffn: 8960, layers: 30, heads: 12, headDim: 128, textDim: 4096, textLen: 512, channels: 16, patch: [1, 2, 2] as const };

interface ClipSize {
  readonly height: number;
  readonly width: number;
  readonly frames: number;
}

function parseSize(s: string): ClipSize {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`--sizes: expected HEIGHTxWIDTHxFRAMES such as 480x832x17, received '${s}'`);
  const [height, width, frames] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (height % 16 || width % 16 || (frames - 1) % 4) throw new Error(`--sizes: ${s}: height and width must be multiples of 16 and frames 1 + 4k`);
  return { height, width, frames };
}

/** Latent shape [1, C, F', H', W'] of a clip: 8× spatial, 4× temporal with the first frame alone. */
function latentShape(c: ClipSize): number[] {
  return [1, WAN_1_3B.channels, 1 + (c.frames - 1) / 4, c.height / 8, c.width / 8];
}

/**
 * FLOPs of one transformer call (a multiply-add counts 2): text embedding, patch embedding, and per
 * block self-attention (q, k, v, o projections and the two n×n products), cross-attention to the L
 * text rows (q, o on the image tokens, k, v on the text, the two n×L products), the FFN; the head.
 */
function callFlops(c: ClipSize): { flops: number; tokens: number } {
  const { dim: D, ffn, layers, textDim, textLen: L, channels, patch } = WAN_1_3B;
  const [, , F, H, W] = latentShape(c) as [number, number, number, number, number];
  const n = (F / patch[0]) * (H / patch[1]) * (W / patch[2]);
  const p = channels * patch[0] * patch[1] * patch[2];
  const text = 2 * L * (textDim * D + D * D);
  const embed = 2 * n * p * D;
  const self = 2 * n * 4 * D * D + 2 * 2 * n * n * D;
  const cross = 2 * n * 2 * D * D + 2 * L * 2 * D * D + 2 * 2 * n * L * D;
  const mlp = 2 * 2 * n * D * ffn;
  const head = 2 * n * D * p;
  return { flops: text + embed + layers * (self + cross + mlp) + head, tokens: n };
}

function random(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

async function childCall(path: string, size: ClipSize): Promise<void> {
  const t0 = performance.now();
  const graph = await openGraph(path, { threads });
  const loadSeconds = (performance.now() - t0) / 1000;
  const shape = latentShape(size);
  const n = shape.reduce((a, b) => a * b, 1);
  const { tokens } = callFlops(size);
  const { heads: h, headDim: d, textLen: L, textDim } = WAN_1_3B;
  const feeds: Record<string, Feed> = {
    latents: { dtype: 'float32', data: random(n, 1), shape }, // [1, 16, F', H', W']
    t: { dtype: 'float32', data: new Float32Array([0.7]), shape: [1] }, // [1]
    text: { dtype: 'float32', data: random(L * textDim, 2), shape: [1, L, textDim] }, // [1, L, D]
  };
  for (const input of graph.inputs) {
    const m = /^ctx_(k|v|bias)\.(\d+)$/.exec(input.name);
    if (!m) continue;
    feeds[input.name] = m[1] === 'bias' ? { dtype: 'float32', data: new Float32Array(tokens), shape: [1, tokens] } : { dtype: 'float32', data: new Float32Array(0), shape: [1, h, 0, d] };
  }
  const t1 = performance.now();
  await graph.run(feeds, ['velocity']);
  const callSeconds = (performance.now() - t1) / 1000;
  await graph.release();
  process.stdout.write(JSON.stringify({ loadSeconds, callSeconds }) + '\n');
}

async function childGemm(path: string, m: number, k: number, n: number): Promise<void> {
  const graph = await openGraph(path, { threads });
  const feeds: Record<string, Feed> = { a: { dtype: 'float32', data: random(m * k, 3), shape: [m, k] } }; // [M, K]; B [K, N] is the graph's weight
  await graph.run(feeds, ['c']); // warm-up
  const flops = 2 * m * k * n;
  const reps = Math.max(3, Math.round(4e10 / flops));
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await graph.run(feeds, ['c']);
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ gflops: (reps * flops) / seconds / 1e9 }) + '\n');
}

async function main(): Promise<void> {
  if (values.child) return childCall(values.child, parseSize(values.size!));
  if (values.gemm) {
    const [m, k, n] = values.shape!.split(',').map(Number) as [number, number, number];
    return childGemm(values.gemm, m, k, n);
  }
  const sizes = values.sizes.split(',').map(parseSize);
  const weights = values.weights.split(',');
  for (const w of weights) if (!['float32', 'int8', 'int4'].includes(w)) throw new Error(`--weights: float32, int8 or int4, received '${w}'`);
  const self = fileURLToPath(import.meta.url);

  // onnxruntime's float32 GEMM on this machine, now: 1024³ and 2048³, and the transformer's own
  // largest product (its feed-forward layer at the larger clip size: 7800 × 1536 × 8960)
  const gemms: { label: string; shape: [number, number, number]; gflops: number }[] = [];
  for (const shape of [[1024, 1024, 1024], [2048, 2048, 2048], [7800, 1536, 8960]] as [number, number, number][]) {
    const [m, k, n] = shape;
    const gemmPath = join(values.work, `matmul-${m}x${k}x${n}.onnx`);
    // B is a weight (an initialiser), as in the transformer, so onnxruntime may pre-pack it as it does there
    await exec(PYTHON, ['-c', [
      'import onnx, sys, numpy as np', 'from onnx import helper as h, numpy_helper as nh, TensorProto as T',
      `b = nh.from_array(np.random.default_rng(0).standard_normal((${k}, ${n}), dtype=np.float32), 'b')`,
      `g = h.make_graph([h.make_node('MatMul', ['a', 'b'], ['c'])], 'mm', [h.make_tensor_value_info('a', T.FLOAT, [${m}, ${k}])], [h.make_tensor_value_info('c', T.FLOAT, [${m}, ${n}])], [b])`,
      "onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 17)], ir_version=8), sys.argv[1])",
    ].join('\n'), gemmPath]);
    const r = JSON.parse((await exec(process.execPath, [self, '--gemm', gemmPath, '--shape', shape.join(','), '--threads', String(threads)])).stdout.trim()) as { gflops: number };
    gemms.push({ label: `MatMul ${m}×${k}×${n}`, shape, gflops: r.gflops });
    console.log(`onnxruntime ${gemms[gemms.length - 1]!.label} float32, ${threads} threads: ${r.gflops.toFixed(1)} GFLOP/s`);
  }
  const best = Math.max(...gemms.map((g) => g.gflops)); // the fastest of the three

  const rows: string[] = [];
  for (const w of weights) {
    const graph = w === 'float32' ? join(values.work, 'wan-1.3b-float32', 'transformer.onnx') : join(values.work, `transformer-${w}.onnx`);
    if (!existsSync(graph)) throw new Error(`${graph} is missing: run bench/wan-export.py --work ${values.work} first`);
    const bytes = (await stat(graph)).size + (existsSync(`${graph}.data`) ? (await stat(`${graph}.data`)).size : 0);
    for (const size of sizes) {
      const { flops, tokens } = callFlops(size);
      console.log(`${w}: one call at ${size.height}×${size.width}×${size.frames} …`);
      const run = await timed(process.execPath, [self, '--child', graph, '--size', `${size.height}x${size.width}x${size.frames}`, '--threads', String(threads)], { echo: true });
      const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { loadSeconds: number; callSeconds: number };
      const rate = flops / r.callSeconds / 1e9;
      rows.push(
        `| ${w} | ${(bytes / 2 ** 30).toFixed(2)} GiB | ${size.height}×${size.width}×${size.frames} | ${tokens} | ${(flops / 1e12).toFixed(2)} | ${r.loadSeconds.toFixed(1)} | ${r.callSeconds.toFixed(1)} | ${rate.toFixed(1)} (${((100 * rate) / best).toFixed(0)} % of the best GEMM) | ${(run.maxRssMiB / 1024).toFixed(1)} GiB |`,
      );
      console.log(rows[rows.length - 1]);
    }
  }
  console.log(`\nonnxruntime float32 GEMM, ${threads} threads: ${gemms.map((g) => `${g.label} ${g.gflops.toFixed(1)} GFLOP/s`).join('; ')}`);
  console.log('| weights | graph | clip H×W×F | image tokens | TFLOP per call | session load s | s per call | GFLOP/s | peak RSS of the call |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
}

await main();
