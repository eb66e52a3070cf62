/** A pack without a text encoder: it inverts and reconstructs, but takes no prompt and cannot edit. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { editLatent } from '../../src/edit/latent/edit.js';
import { invertImage, reconstructImage } from '../../src/edit/frames/pipeline.js';
import { readImage } from '../../src/media/image.js';
import { loadPack, validatePack, type LoadedPack } from '../../src/model/pack.js';
import { psnr, SAMPLE, TINY_UNCOND } from '../paths.js';

let pack: LoadedPack;
before(async () => {
  pack = await loadPack(TINY_UNCOND, { threads: 1 });
});
after(async () => {
  await pack.release();
});

test('an unconditional pack validates and loads without text parts', async () => {
  assert.deepEqual(await validatePack(TINY_UNCOND), []);
  assert.equal(pack.text, null);
  assert.equal(pack.transformer.sequence([1, 3, 1, 16, 16]).length, 16);
});

test('it inverts and reconstructs with an empty prompt', async () => {
  const file = await invertImage(pack, SAMPLE, { sourcePrompt: '', steps: 12, solver: 'midpoint', fit: 'pad' });
  const image = await reconstructImage(pack, file);
  const value = psnr(image.data, (await readImage(SAMPLE)).data);
  assert.ok(value > 30, `round trip PSNR ${value.toFixed(1)} dB`);
});

test('it refuses a prompt and a text-guided edit, saying why', async () => {
  await assert.rejects(
    invertImage(pack, SAMPLE, { sourcePrompt: 'a red circle', steps: 2, solver: 'euler', fit: 'pad' }),
    /Pack 'tiny-uncond' is unconditional \(it has no text encoder\), so it takes no prompt/,
  );
  const file = await invertImage(pack, SAMPLE, { sourcePrompt: '', steps: 2, solver: 'euler', fit: 'pad' });
  await assert.rejects(
    editLatent(pack, file.inversion, { targetPrompt: 'a blue circle', guidance: 2, share: { layers: [0], fraction: 0.5 } }),
    /cannot edit by prompt; choose a pack with a text encoder/,
  );
});
