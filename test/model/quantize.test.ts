/** int8 weights: the tiny pack quantised against its float32 original, the manifest field, and `flowedit models quantize`. */
import assert from 'node:assert/strict';
import { cp, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkManifest } from '../../src/model/manifest.js';
import { loadPack, readPack } from '../../src/model/pack.js';
import { quantiseColumns } from '../../src/model/quantize-graph.js';
import { quantizePack, QuantizeRefusal, type QuantizeReport } from '../../src/model/quantize.js';
import { assertCleanFailure, flowedit } from '../cli/run.js';
import type { Tensor } from '../../src/media/tensor.js';
import type { Value } from '../../src/model/ort.js';
import { noise, SAMPLE, tempDir, TINY } from '../paths.js';

let dir: string;
let int8: string;
let report: QuantizeReport;
const events: { done: number; total: number; what: string }[] = [];

before(async () => {
  dir = await tempDir('flowedit-int8-');
  int8 = join(dir, 'tiny-int8');
  report = await quantizePack(TINY, int8, { onProgress: (e) => events.push(e) });
});
after(() => undefined);

test('per-column int8: each column scaled by its own largest |w|, rounding error at most half a step', () => {
  // W [K=3, N=2], column 1 ten times column 0
  const w = Float32Array.from([0.5, 5, -1, -10, 0.25, 2.5]);
  const { q, scale, maxRoundingError } = quantiseColumns(w, 3, 2, false);
  assert.deepEqual([...scale].map((s) => s * 127), [1, 10].map((x) => Math.fround(x / 127) * 127));
  assert.deepEqual([...q], [64, 64, -127, -127, 32, 32]);
  assert.ok(maxRoundingError <= 0.5 / 127 + 1e-7, `${maxRoundingError}`);
  // the same weight stored transposed ([N, K], Gemm's transB) gives the same int8 [K, N]
  const t = quantiseColumns(Float32Array.from([0.5, -1, 0.25, 5, -10, 2.5]), 3, 2, true);
  assert.deepEqual([...t.q], [...q]);
});

test('the int8 pack: every weight matmul quantised, the rest of the pack the original\'s', async () => {
  assert.ok(report.quantised.length > 0 && report.weights > 0);
  // 4 bytes a weight become 1 (plus a float scale per column and the new nodes)
  assert.ok(report.bytesBefore - report.bytesAfter > 2.5 * report.weights, `${report.bytesBefore} → ${report.bytesAfter} bytes for ${report.weights} weights`);
  assert.deepEqual(report.graphs, ['transformer.onnx']);
  // the matmuls left float32 are those whose B is computed (attention), each with its reason
  for (const l of report.leftFloat32) assert.match(l.why, /not an initializer/);
  assert.equal((await stat(join(int8, 'transformer.onnx'))).size, report.bytesAfter);
  for (const f of ['text_encoder.onnx', 'vae_decoder.onnx', 'vae_encoder.onnx', 'tokenizer.json']) {
    assert.deepEqual(await readFile(join(int8, f)), await readFile(join(TINY, f)), f);
  }
  assert.deepEqual((await readdir(dir)).sort(), ['tiny-int8'], 'no temporary folder left');
  assert.equal(events.at(-1)?.done, events.at(-1)?.total);
});

test('manifest: transformer.weights "int8" recorded, every other field unchanged; the field round-trips and is checked', async () => {
  const [orig, made] = await Promise.all([readPack(TINY), readPack(int8)]);
  assert.equal(made.manifest.transformer.weights, 'int8');
  const { weights, ...rest } = made.manifest.transformer;
  assert.equal(weights, 'int8');
  assert.deepEqual({ ...made.manifest, transformer: rest }, orig.manifest);
  const raw = JSON.parse(await readFile(join(int8, 'manifest.json'), 'utf8'));
  assert.equal(checkManifest(raw).manifest?.transformer.weights, 'int8');
  raw.transformer.weights = 'int4';
  assert.match(checkManifest(raw).problems.join('\n'), /transformer\.weights/);
  raw.transformer.weights = 'int8';
  raw.formatVersion = 2;
  raw.transformer.dtype = 'float16';
  assert.match(checkManifest(raw).problems.join('\n'), /transformer\.weights: "int8" weights take float32 ports/);
});

test('the int8 transformer\'s velocity and keys stay close to float32', async () => {
  const [f32, q8] = [await loadPack(TINY, { threads: 1 }), await loadPack(int8, { threads: 1 })];
  try {
    const text = await f32.text!.encode(['a red circle on stripes', '']);
    const x = noise([2, 4, 1, 16, 16], 7);
    const rel = (x: Value, y: Value): number => {
      const [a, b] = [(x as Tensor).data, (y as Tensor).data];
      let e = 0;
      let n = 0;
      for (let i = 0; i < a.length; i++) [e, n] = [e + (a[i]! - b[i]!) ** 2, n + b[i]! ** 2];
      return Math.sqrt(e / n);
    };
    for (const t of [0.9, 0.3]) {
      const [a, b] = await Promise.all([q8, f32].map((p) => p.transformer.forward({ latents: x, t, text, fetchKV: [1] })));
      const ev = rel(a!.velocity, b!.velocity);
      const ek = rel(a!.kv.get(1)!.k, b!.kv.get(1)!.k);
      if (process.env.FLOWEDIT_TEST_VERBOSE) console.log(`t=${t}: velocity ${ev}, keys ${ek}`);
      // int8 steps are 1/127 of a column's largest weight and 1/255 of an activation's range, so one
      // matmul is off by under 1 %; three layers of them on random weights measured 1–3 %: 8 % bounds
      // it with room, and a wrong scale (a factor) or a misplaced column (O(1)) lands far outside
      assert.ok(ev > 0 && ev < 0.08, `velocity relative error ${ev} at t=${t}`);
      assert.ok(ek > 0 && ek < 0.08, `keys relative error ${ek} at t=${t}`);
    }
  } finally {
    await Promise.all([f32.release(), q8.release()]);
  }
});

test('refused before any work: a missing pack, a pack already int8, an out folder that exists (unless replacing)', async () => {
  await assert.rejects(quantizePack(join(dir, 'no-such-pack'), join(dir, 'x')), /no-such-pack.*folder not found/s);
  await assert.rejects(quantizePack(int8, join(dir, 'again')), (e: Error) => e instanceof QuantizeRefusal && /already int8/.test(e.message));
  await assert.rejects(quantizePack(TINY, int8), (e: Error) => e instanceof QuantizeRefusal && /already exists/.test(e.message));
  const before = (await stat(join(int8, 'transformer.onnx'))).mtimeMs;
  await quantizePack(TINY, int8, { replace: true });
  assert.notEqual((await stat(join(int8, 'transformer.onnx'))).mtimeMs, before, 'replaced');
  assert.equal((await readPack(int8)).manifest.transformer.weights, 'int8');
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('.') || f === 'again' || f === 'x'), [], 'nothing half-written');
});

test('flowedit models quantize: an edit runs on the int8 pack; the default out folders; a clear refusal', async () => {
  const out = join(dir, 'cli-int8');
  const made = await flowedit(['models', 'quantize', TINY, '--out', out]);
  assert.equal(made.code, 0, made.stderr);
  assert.equal(made.stdout.trim(), out);
  assert.match(made.stderr, /matmuls int8/);
  const edited = join(dir, 'edited.png');
  const edit = await flowedit(['edit', SAMPLE, '--model', out, '--source-prompt', 'a red circle on stripes', '--target-prompt', 'a blue circle on stripes', '--steps', '2', '-o', edited, '--quiet']);
  assert.equal(edit.code, 0, edit.stderr);
  assert.ok((await stat(edited)).size > 0);
  assertCleanFailure(await flowedit(['models', 'quantize', TINY, '--out', out]), /already exists.*--force/);
  // the default out folder: <pack>-int8 beside the pack
  const copy = join(dir, 'mine');
  await cp(TINY, copy, { recursive: true });
  const beside = await flowedit(['models', 'quantize', copy, '--quiet']);
  assert.equal(beside.code, 0, beside.stderr);
  assert.equal(beside.stdout.trim(), `${copy}-int8`);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('.')), [], 'no temporary folder left');
  // a built-in pack (named by its id): into the configuration folder, found there by name
  const home = join(dir, 'home');
  const env = { ...process.env, FLOWEDIT_HOME: home };
  const builtin = await flowedit(['models', 'quantize', 'flowedit-tiny', '--quiet'], undefined, env);
  assert.equal(builtin.code, 0, builtin.stderr);
  assert.equal(builtin.stdout.trim(), `${join(home, 'packs/flowedit-tiny-int8')} (--model flowedit-tiny-int8)`);
  const list = await flowedit(['models', 'list'], undefined, env);
  assert.match(list.stdout, /^\* flowedit-tiny .*float32.*\n.*\n  flowedit-tiny-int8 \(yours\) .*int8 weights/m);
});
