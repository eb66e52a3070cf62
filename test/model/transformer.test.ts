import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadPack, type LoadedPack } from '../../src/model/pack.js';
import { maxAbsDiff, noise, TINY, TINY_PIXEL } from '../paths.js';

let tiny: LoadedPack;
let pixel: LoadedPack;
before(async () => {
  tiny = await loadPack(TINY, { threads: 1 });
  pixel = await loadPack(TINY_PIXEL, { threads: 1 });
});
after(async () => {
  await tiny.release();
  await pixel.release();
});

test('sequence length follows the token layout', () => {
  const seq = tiny.transformer.sequence([1, 4, 1, 16, 12]); // patch [1, 2, 2], joint text L = 8
  assert.deepEqual(seq.grid, [1, 8, 6]);
  assert.equal(seq.length, 8 + 48);
  const pseq = pixel.transformer.sequence([1, 3, 2, 16, 24]); // patch [1, 8, 8], cross text
  assert.equal(pseq.length, 2 * 2 * 3);
  assert.throws(() => tiny.transformer.sequence([1, 4, 1, 15, 12]), /does not tile into patches/);
});

test('forward returns velocity and only the k/v asked for', async () => {
  const text = await tiny.text!.encode(['a red circle']);
  const x = noise([1, 4, 1, 8, 8], 1);
  const out = await tiny.transformer.forward({ latents: x, t: 0.7, text, fetchKV: [2] });
  assert.deepEqual(out.velocity.shape, [1, 4, 1, 8, 8]);
  assert.deepEqual([...out.kv.keys()], [2]);
  assert.deepEqual(out.kv.get(2)!.k.shape, [1, 2, 8 + 16, 16]);
  assert.ok(out.velocity.data.every(Number.isFinite));
});

test('zero-length context equals no context; real context changes the output', async () => {
  const text = await tiny.text!.encode(['a red circle']);
  const x = noise([1, 4, 1, 8, 8], 2);
  const plain = await tiny.transformer.forward({ latents: x, t: 0.5, text, fetchKV: [0, 1, 2] });
  const other = await tiny.transformer.forward({ latents: noise([1, 4, 1, 8, 8], 3), t: 0.5, text, fetchKV: [1] });
  const empty = { k: { data: new Float32Array(0), shape: [1, 2, 0, 16] }, v: { data: new Float32Array(0), shape: [1, 2, 0, 16] } };
  const withEmpty = await tiny.transformer.forward({ latents: x, t: 0.5, text, context: new Map([[1, empty]]) });
  assert.equal(maxAbsDiff(plain.velocity.data, withEmpty.velocity.data), 0);
  const shared = await tiny.transformer.forward({ latents: x, t: 0.5, text, context: new Map([[1, other.kv.get(1)!]]) });
  assert.ok(maxAbsDiff(plain.velocity.data, shared.velocity.data) > 1e-4);
  // Excluding every context key with the bias gives back the plain result.
  const S = 8 + 16;
  const bias = new Float32Array(2 * S).fill(-1e4, S);
  const excluded = await tiny.transformer.forward({
    latents: x,
    t: 0.5,
    text,
    context: new Map([[1, other.kv.get(1)!]]),
    bias: new Map([[1, bias]]),
  });
  assert.ok(maxAbsDiff(plain.velocity.data, excluded.velocity.data) < 1e-5);
});

test('text and distilled guidance reach the velocity', async () => {
  const [a, b] = [await pixel.text!.encode(['a red circle']), await pixel.text!.encode(['a blue star'])];
  const x = noise([1, 3, 1, 16, 16], 4);
  const va = await pixel.transformer.forward({ latents: x, t: 0.5, text: a, guidance: 1 });
  const vb = await pixel.transformer.forward({ latents: x, t: 0.5, text: b, guidance: 1 });
  const vg = await pixel.transformer.forward({ latents: x, t: 0.5, text: a, guidance: 4 });
  assert.ok(maxAbsDiff(va.velocity.data, vb.velocity.data) > 1e-4);
  assert.ok(maxAbsDiff(va.velocity.data, vg.velocity.data) > 1e-4);
});

test('a bad feed is refused before running, naming each problem', async () => {
  const text = await tiny.text!.encode(['a red circle']);
  await assert.rejects(
    tiny.transformer.forward({ latents: noise([1, 3, 1, 8, 8], 5), t: 0.5, text }),
    /input 'latents' axis 1 must be 4, got 3/,
  );
  const bias = new Map([[0, new Float32Array(3)]]);
  await assert.rejects(tiny.transformer.forward({ latents: noise([1, 4, 1, 8, 8], 5), t: 0.5, text, bias }), /Bias for layer 0 holds 3 values/);
});

test('tokenizer pads to L and maps unknown words', async () => {
  const ids = (await tiny.text!.tokenize('A RED circle zzzz'));
  assert.equal(ids.length, 8);
  assert.equal(ids[3], 1); // [UNK]
  assert.deepEqual(ids.slice(4), [0, 0, 0, 0]);
});

test('a failed run reports every input with its dtype and shape', async () => {
  const text = await tiny.text!.encode(['a red circle']);
  const k = { data: new Float32Array(2 * 3 * 16), shape: [1, 2, 3, 16] };
  const v = { data: new Float32Array(2 * 4 * 16), shape: [1, 2, 4, 16] }; // Sc disagrees with the keys'
  await assert.rejects(
    tiny.transformer.forward({ latents: noise([1, 4, 1, 8, 8], 6), t: 0.5, text, context: new Map([[1, { k, v }]]) }),
    (err: Error) => {
      assert.match(err.message, /^Running .*transformer\.onnx failed: /);
      for (const line of ['latents: float32 [1, 4, 1, 8, 8]', 't: float32 [1]', 'text: float32 [1, 8, 32]', 'ctx_k.1: float32 [1, 2, 3, 16]', 'ctx_v.1: float32 [1, 2, 4, 16]', 'ctx_bias.1: float32 [1, 27]', 'ctx_k.0: float32 [1, 2, 0, 16]']) {
        assert.ok(err.message.includes(line), `${line} in:\n${err.message}`);
      }
      return true;
    },
  );
});
