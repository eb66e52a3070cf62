/**
 * python/reexport_pack.py on a copy of a pack exported in standard ONNX operators (the tiny-v2
 * fixture, which uses every format 2 port): its transformer and text encoder come back with
 * onnxruntime's fused operators and attention that skips a key bias of zeros, give the old graphs'
 * outputs in onnxruntime-node (with and without context keys, with and without a key bias), count
 * the same FLOPs, and a second run changes nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { openGraph, type Feed } from '../../src/model/ort.js';
import { readPack } from '../../src/model/pack.js';
import { noise, PYTHON, relativeError, ROOT, tempDir, TINY_V2 } from '../paths.js';
import { pythonFindings } from '../python.js';

const run = promisify(execFile);
const SCRIPT = join(ROOT, 'python', 'reexport_pack.py');

/** Feeds for every input of `graph`, its symbolic axes given by `axes` (a function of the axis name). */
function feedsFor(inputs: readonly { name: string; dtype: string; shape: readonly (number | string)[] }[], axes: (axis: string) => number, seed: number): Record<string, Feed> {
  const feeds: Record<string, Feed> = {};
  inputs.forEach((p, j) => {
    const shape = p.shape.map((d) => (typeof d === 'number' ? d : axes(d)));
    const n = shape.reduce((a, b) => a * b, 1);
    if (p.dtype === 'int64') {
      // token ids 1..9, the second prompt padded (0) after half its length; the mask follows them
      const ids = BigInt64Array.from({ length: n }, (_, i) => (i >= n / 2 + shape[1]! / 2 ? 0n : BigInt(1 + ((i * 7 + seed) % 9))));
      feeds[p.name] = { dtype: 'int64', data: p.name === 'attention_mask' ? ids.map((v) => (v === 0n ? 0n : 1n)) : ids, shape };
    } else {
      const data = noise(shape, seed * 100 + j).data;
      if (p.name === 'text_mask') data.forEach((v, i) => (data[i] = v > -0.4 ? 1 : 0));
      if (p.name.startsWith('ctx_bias.')) data.forEach((v, i) => (data[i] = v > 0.8 ? -1e4 : 0));
      feeds[p.name] = { dtype: 'float32', data, shape };
    }
  });
  return feeds;
}

async function outputsOf(path: string, feeds: Record<string, Feed>): Promise<Record<string, Float32Array>> {
  const graph = await openGraph(path, { threads: 1 });
  try {
    const got = await graph.run(feeds, graph.outputs.map((o) => o.name));
    return Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.data]));
  } finally {
    await graph.release();
  }
}

test('reexport_pack.py rewrites a standard-operator pack with fused operators that give the same outputs', { timeout: 300_000 }, async () => {
  const dir = join(await tempDir('flowedit-reexport-'), 'pack');
  await cp(TINY_V2, dir, { recursive: true });
  const { manifest: m } = await readPack(dir);
  const transformer = join(dir, m.transformer.file);
  const textEncoder = join(dir, m.text!.encoder ?? assert.fail('tiny-v2 has one text encoder'));
  const [, ph, pw] = m.transformer.patchSize;
  const L = m.text!.maxTokens!;
  const S = (16 / ph) * (16 / pw) + (m.transformer.text === 'joint' ? L : 0);
  const calls = [0, 6].map((Sc, k) =>
    (axis: string) => (axis === 'batch' ? 2 : axis === 'latent_frames' ? 1 : axis.startsWith('latent_') ? 16 : axis.startsWith('seq_plus_') ? S + Sc : axis.startsWith('ctx_seq_') ? Sc : assert.fail(`axis ${axis} (call ${k})`)));
  const shapesOf = async (path: string) => (await openGraph(path, { threads: 1 }).then(async (g) => { const i = g.inputs; await g.release(); return i; }));
  const trInputs = await shapesOf(transformer);
  const teInputs = await shapesOf(textEncoder);
  const biased = calls.map((axes, k) => feedsFor(trInputs, axes, k + 1));
  // the same calls with key biases of zeros: the new graph's attention skips those (flowedit_model/zero_bias.py)
  const zeros = (v: Feed): Feed => ({ dtype: 'float32', data: new Float32Array(v.shape.reduce((a, b) => a * b, 1)), shape: v.shape });
  const unbiased = biased.map((f): Record<string, Feed> => Object.fromEntries(Object.entries(f).map(([name, v]) => [name, name.startsWith('ctx_bias.') ? zeros(v) : v])));
  const feeds = [...biased, ...unbiased];
  const label = (k: number) => `call ${k} (${k % 2 ? 'with' : 'without'} context, ${k < 2 ? 'a key bias' : 'no key bias'})`;
  const textFeeds = feedsFor(teInputs, (axis) => (axis === 'batch' ? 2 : assert.fail(`axis ${axis}`)), 3);
  const before = await Promise.all(feeds.map((f) => outputsOf(transformer, f)));
  const textBefore = await outputsOf(textEncoder, textFeeds);
  const flopShapes = JSON.stringify(Object.fromEntries(Object.entries(feeds[1]!).map(([k, f]) => [k, f.shape])));
  const flopsBefore = await pythonFindings<{ flops: number }>('count_flops.py', [transformer, flopShapes]);
  const oldBytes = await readFile(transformer);

  const { stdout } = await run(PYTHON, [SCRIPT, dir], { maxBuffer: 1 << 24 });
  assert.match(stdout, /re-exported transformer\.onnx, text_encoder\.onnx/);
  const newBytes = await readFile(transformer);
  assert.notDeepEqual(newBytes, oldBytes, 'the transformer was rewritten');
  const ops = newBytes.toString('latin1');
  for (const op of ['MultiHeadAttention', 'FastGelu', 'without_bias']) assert.ok(ops.includes(op), `the new transformer holds ${op}`);
  assert.ok((await readFile(textEncoder)).toString('latin1').includes('FastGelu'), 'the new text encoder holds FastGelu');

  for (const [k, f] of feeds.entries()) {
    const after = await outputsOf(transformer, f);
    for (const [name, want] of Object.entries(before[k]!)) {
      const err = relativeError(after[name]!, want);
      assert.ok(err <= 1e-4, `${label(k)} ${name}: relative error ${err}`);
    }
  }
  const textAfter = await outputsOf(textEncoder, textFeeds);
  for (const [name, want] of Object.entries(textBefore)) assert.ok(relativeError(textAfter[name]!, want) <= 1e-4, `text encoder ${name}`);
  const flopsAfter = await pythonFindings<{ flops: number }>('count_flops.py', [transformer, flopShapes]);
  assert.equal(flopsAfter.flops, flopsBefore.flops, 'the same matrix products, attention inside MultiHeadAttention');

  await run(PYTHON, [SCRIPT, dir], { maxBuffer: 1 << 24 });
  assert.deepEqual(await readFile(transformer), newBytes, 'a second run writes the same graph');
});

test('reexport_pack.py refuses a folder that is not a pack', async () => {
  const dir = await tempDir('flowedit-reexport-none-');
  await assert.rejects(run(PYTHON, [SCRIPT, dir]), (err: { code?: number; stderr?: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr ?? '', /is not a pack folder: it has no manifest\.json/);
    return true;
  });
});
