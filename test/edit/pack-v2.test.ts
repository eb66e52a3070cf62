/**
 * Pack format 2 in the edit layer, on the tiny-v2 fixture: the pack's negative prompt in the
 * unconditional branch (a given one wins), shared text keys (defaults.shareText, --share-text),
 * and the per-channel latent normalisation.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EXCLUDE, enrichmentBias, planSharing } from '../../src/attention/plan.js';
import { editLatent } from '../../src/edit/latent/edit.js';
import { invertLatent } from '../../src/edit/latent/invert.js';
import { sampleLatent } from '../../src/edit/latent/sample.js';
import { scheduleFor } from '../../src/edit/latent/schedule.js';
import { editSettingsFrom, resolveSettings } from '../../src/edit/frames/settings.js';
import { condition, pathVelocity } from '../../src/edit/latent/velocity.js';
import type { Manifest } from '../../src/model/manifest.js';
import { openGraph } from '../../src/model/ort.js';
import { loadPack, type LoadedPack } from '../../src/model/pack.js';
import { maxAbsDiff, noise, TINY, TINY_V2 } from '../paths.js';

let v2: LoadedPack;
let v1: LoadedPack;
before(async () => {
  v2 = await loadPack(TINY_V2, { threads: 1 });
  v1 = await loadPack(TINY, { threads: 1 });
});
after(async () => {
  await v2.release();
  await v1.release();
});

const SHAPE = [1, 4, 1, 8, 8];

test("the unconditional branch takes the pack's text.negativePrompt; a given negative prompt replaces it", async () => {
  const packs = await condition(v2, 'a red circle', 2);
  const own = await v2.text!.embed(['gray stripes']);
  assert.equal(maxAbsDiff(packs.uncond!.text.data, own.text.data), 0, "the pack's negative prompt");
  assert.equal(maxAbsDiff(packs.uncond!.pooled!.data, own.pooled!.data), 0);
  const empty = await condition(v2, 'a red circle', 2, '');
  assert.equal(maxAbsDiff(empty.uncond!.text.data, (await v2.text!.embed([''])).text.data), 0, 'an explicit empty prompt');
  const x = noise(SHAPE, 3);
  const vPack = (await pathVelocity(v2, packs, SHAPE).call(x.data, 0.5)).v.slice();
  const vEmpty = (await pathVelocity(v2, empty, SHAPE).call(x.data, 0.5)).v.slice();
  assert.ok(maxAbsDiff(vPack, vEmpty) > 1e-4, 'the guided velocity follows the negative prompt');
  // sampling with no negative prompt given is sampling against the pack's own
  const ts = scheduleFor(v2, SHAPE, 3);
  const s = { prompt: 'a red circle', guidance: 2, solver: 'euler' as const, ts };
  const byDefault = await sampleLatent(v2, x, s);
  assert.equal(maxAbsDiff(byDefault.z.data, (await sampleLatent(v2, x, { ...s, negative: 'gray stripes' })).z.data), 0);
  assert.ok(maxAbsDiff(byDefault.z.data, (await sampleLatent(v2, x, { ...s, negative: '' })).z.data) > 1e-4);
  // a format 1 pack has none: its unconditional branch is the empty prompt, as before
  const plain = await condition(v1, 'a red circle', 2);
  assert.equal(maxAbsDiff(plain.uncond!.text.data, (await v1.text!.embed([''])).text.data), 0);
});

test('--negative-prompt reaches the edit path through the settings', async () => {
  const m = v2.manifest;
  const given = resolveSettings(m, 'edit', { negativePrompt: '', steps: 4, shareSteps: 0.5 });
  assert.equal(given.negativePrompt, '');
  assert.equal(resolveSettings(m, 'edit', {}).negativePrompt, undefined, "none given: the pack's own applies");
  const z0 = noise(SHAPE, 5);
  const inv = await invertLatent(v2, z0, { sourcePrompt: 'a red circle on stripes', steps: 4, solver: 'euler' });
  const withPack = await editLatent(v2, inv, editSettingsFrom(resolveSettings(m, 'edit', { steps: 4, shareSteps: 0.5 }), 'a blue circle on stripes'));
  const withEmpty = await editLatent(v2, inv, editSettingsFrom(given, 'a blue circle on stripes'));
  assert.ok(maxAbsDiff(withPack.z.data, withEmpty.z.data) > 1e-4);
  assert.throws(() => resolveSettings({ ...m, transformer: { ...m.transformer, guidance: 'distilled' } } as Manifest, 'edit', { negativePrompt: 'x' }), /distilled input.*leave --negative-prompt out/);
});

test('shareText: the pack default, the flag over it, and the bias it gives (padding keys of the shared text stay out)', async () => {
  const m = v2.manifest;
  assert.equal(resolveSettings(m, 'edit', {}).shareText, false);
  assert.equal(resolveSettings(m, 'edit', { shareText: true }).shareText, true);
  const sharing = { ...m, defaults: { ...m.defaults, shareText: true } } as Manifest;
  assert.equal(resolveSettings(sharing, 'swap', {}).shareText, true, "the pack's defaults.shareText");
  assert.equal(resolveSettings(sharing, 'swap', { shareText: false }).shareText, false, '--no-share-text');
  assert.deepEqual(editSettingsFrom(resolveSettings(m, 'edit', { shareText: true }), 'x').share.shareText, true);

  const rec = pathVelocity(v2, await condition(v2, 'a red circle', 1), SHAPE);
  assert.deepEqual([...rec.textMask!], [1, 1, 1, 1, 0, 0, 0, 0], 'the reconstruction prompt: 3 words and [EOS]');
  const seq = rec.sequence;
  const S = seq.length;
  const off = enrichmentBias(planSharing({ layers: [1], fraction: 1 }, [0, 1, 2], 4), seq, 2, rec.textMask!);
  const on = enrichmentBias(planSharing({ layers: [1], fraction: 1, shareText: true }, [0, 1, 2], 4), seq, 2, rec.textMask!);
  for (const b of [0, 1]) {
    const row = (bias: Float32Array) => [...bias.subarray(b * 2 * S + S, b * 2 * S + S + 8)];
    assert.deepEqual(row(off), new Array(8).fill(EXCLUDE), 'without shareText every shared text key is excluded');
    assert.deepEqual(row(on), [0, 0, 0, 0, EXCLUDE, EXCLUDE, EXCLUDE, EXCLUDE], 'with it the real ones are seen, the padding is not');
  }
  assert.equal(pathVelocity(v1, await condition(v1, 'a red circle', 1), SHAPE).textMask, null, 'a format 1 pack masks nothing itself');

  const z0 = noise(SHAPE, 7);
  const inv = await invertLatent(v2, z0, { sourcePrompt: 'a red circle on stripes', steps: 4, solver: 'euler' });
  const edit = (shareText: boolean) => editLatent(v2, inv, { targetPrompt: 'a blue circle on stripes', guidance: 2, share: { layers: [1, 2], fraction: 1, shareText } });
  assert.ok(maxAbsDiff((await edit(true)).z.data, (await edit(false)).z.data) > 1e-4, 'sharing the text keys changes the edit');
});

test('per-channel normalisation: z[c] = (mean[c] − shift[c])·scale[c], and decoding undoes it', async () => {
  const scale = [0.8, 1.25, 0.5, 2];
  const shift = [0.1, -0.2, 0.3, 0];
  const pixels = noise([1, 3, 2, 16, 16], 11);
  const encoder = await openGraph(join(TINY_V2, 'vae_encoder.onnx'), { threads: 1 });
  const decoder = await openGraph(join(TINY_V2, 'vae_decoder.onnx'), { threads: 1 });
  try {
    const mean = (await encoder.run({ pixels: { dtype: 'float32', data: pixels.data, shape: pixels.shape } }, ['mean'])).mean!; // [1, 4, 2, 4, 4]
    const z = await v2.vae.encode(pixels);
    assert.deepEqual(z.shape, mean.shape);
    const plane = 2 * 4 * 4;
    let worst = 0;
    for (let i = 0; i < z.data.length; i++) {
      const c = Math.floor(i / plane) % 4;
      worst = Math.max(worst, Math.abs(z.data[i]! - (mean.data[i]! - shift[c]!) * scale[c]!));
    }
    assert.ok(worst < 1e-6, `encode normalises each channel (max error ${worst})`);
    const direct = (await decoder.run({ latents: { dtype: 'float32', data: mean.data, shape: mean.shape } }, ['pixels'])).pixels!;
    const round = await v2.vae.decode(z);
    assert.ok(maxAbsDiff(round.data, direct.data) < 1e-5, `decode feeds the decoder z/scale + shift = mean (max error ${maxAbsDiff(round.data, direct.data)})`);
    // one channel's normalisation is not another's: the channels are not scaled alike
    const c0 = Math.abs(z.data[0]! - (mean.data[0]! - shift[1]!) * scale[1]!);
    assert.ok(c0 > 1e-3, 'channel 0 uses its own scale and shift');
  } finally {
    await encoder.release();
    await decoder.release();
  }
});
