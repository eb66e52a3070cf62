/** Masked swap on the fixture pack (real ONNX sessions): what the mask leaves out stays the source's. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { latentMask, tokenMask, maskedEnrichmentBias } from '../../src/attention/mask.js';
import { EXCLUDE, planSharing } from '../../src/attention/plan.js';
import { invertFrames } from '../../src/edit/frames/pipeline.js';
import { encodeFrames } from '../../src/edit/frames/latents.js';
import { invertLatent } from '../../src/edit/latent/invert.js';
import { sampleLatent } from '../../src/edit/latent/sample.js';
import { swapLatent } from '../../src/edit/latent/swap.js';
import { FLOWEDIT_DEFAULTS, resolveSettings } from '../../src/edit/frames/settings.js';
import { swapClip, swapImage, swapSettings, type SwapSettings } from '../../src/edit/frames/swap-jobs.js';
import { readImage, resizeImage, type RgbImage } from '../../src/media/image.js';
import { readMask, type Mask } from '../../src/media/mask.js';
import { readVideo, writeVideo } from '../../src/media/video.js';
import { loadPack, readPack, type LoadedPack } from '../../src/model/pack.js';
import { maxAbsDiff, MEDIA, psnr, SAMPLE, TINY, TINY_PIXEL, tempDir } from '../paths.js';

let tiny: LoadedPack;
before(async () => {
  tiny = await loadPack(TINY, { threads: 1 });
});
after(async () => {
  await tiny.release();
});

const SETTINGS: SwapSettings = {
  sourcePrompt: 'a red circle on stripes',
  targetPrompt: 'a blue square on stripes',
  steps: 4,
  solver: 'fireflow',
  guidance: 2,
  guideAgainst: 'empty',
  share: { layers: [1, 2], fraction: 0.5 },
  maskBias: 0,
  fit: 'pad',
  mask: { grow: 2, feather: 3, invert: false },
};

/** A centred rectangle mask covering the middle half of a width × height frame. */
function boxMask(width: number, height: number): Mask {
  const m = new Float32Array(width * height);
  for (let y = height / 4; y < (3 * height) / 4; y++) for (let x = width / 4; x < (3 * width) / 4; x++) m[y * width + x] = 1;
  return { width, height, frames: [m] };
}

/** PSNR over the pixels where the mask is 0 (every frame). */
function psnrOutside(a: readonly RgbImage[], b: readonly RgbImage[], mask: Mask): number {
  let se = 0;
  let count = 0;
  a.forEach((fa, f) => {
    const m = mask.frames.length === 1 ? mask.frames[0]! : mask.frames[f]!;
    const n = fa.width * fa.height;
    for (let i = 0; i < n; i++) {
      if (m[i] !== 0) continue;
      for (let c = 0; c < 3; c++) se += (fa.data[c * n + i]! - b[f]!.data[c * n + i]!) ** 2;
      count += 3;
    }
  });
  return se === 0 ? Infinity : 10 * Math.log10(4 / (se / count));
}

test('latent and token masks take the largest value each cell or patch covers', () => {
  const m = new Float32Array(8 * 8);
  m[3 * 8 + 5] = 1; // pixel (5, 3)
  const lm = latentMask([m], 8, 8, 1, [1, 4, 1, 2, 2], { spatial: 4, temporal: 1 });
  assert.deepEqual(Array.from(lm), [0, 1, 0, 0]);
  assert.deepEqual(Array.from(tokenMask(lm, [1, 4, 1, 2, 2], [1, 1, 2])), [1, 0]);
  const plan = planSharing({ layers: [1], fraction: 1 }, [0, 1], 4);
  const bias = maskedEnrichmentBias(plan, { imageTokens: 2, textTokens: 1, length: 3, grid: [1, 1, 2] }, 1, Float32Array.from([1, 0]), -5);
  assert.deepEqual(Array.from(bias), [0, 0, 0, EXCLUDE, -5, 0]);
});

test('swapLatent: an empty mask returns the source latent; a full mask without sharing is plain sampling', async () => {
  const source = await readImage(SAMPLE);
  const z0 = await encodeFrames(tiny, [source]); // [1, 4, 1, 32, 32]
  const inv = await invertLatent(tiny, z0, { sourcePrompt: SETTINGS.sourcePrompt, steps: 4, solver: 'fireflow' });
  const plane = 32 * 32;
  const none = await swapLatent(tiny, inv, new Float32Array(plane), SETTINGS);
  assert.equal(maxAbsDiff(none.z.data, z0.data), 0);
  const all = await swapLatent(tiny, inv, new Float32Array(plane).fill(1), { ...SETTINGS, share: { layers: [1, 2], fraction: 0 } });
  const plain = await sampleLatent(tiny, { data: inv.trajectory[4]!, shape: inv.latentShape }, { prompt: SETTINGS.targetPrompt, guidance: 2, solver: 'fireflow', ts: inv.ts });
  assert.equal(maxAbsDiff(all.z.data, plain.z.data), 0);
  const biased = await swapLatent(tiny, inv, new Float32Array(plane).fill(1), { ...SETTINGS, maskBias: EXCLUDE });
  const unbiased = await swapLatent(tiny, inv, new Float32Array(plane).fill(1), SETTINGS);
  assert.ok(maxAbsDiff(biased.z.data, unbiased.z.data) > 1e-4, 'the mask bias changes what the edit takes from the source');
  const against = await swapLatent(tiny, inv, new Float32Array(plane).fill(1), { ...SETTINGS, guideAgainst: 'source' });
  assert.ok(maxAbsDiff(against.z.data, unbiased.z.data) > 1e-4, 'guiding against the source prompt changes the swap');
  const keptAgainst = await swapLatent(tiny, inv, new Float32Array(plane), { ...SETTINGS, guideAgainst: 'source' });
  assert.equal(maxAbsDiff(keptAgainst.z.data, z0.data), 0, 'and still keeps everything outside the mask');
  // a negative prompt takes the guided-against branch: the source prompt given as one is guiding against the source
  const negativeSource = await swapLatent(tiny, inv, new Float32Array(plane).fill(1), { ...SETTINGS, negativePrompt: SETTINGS.sourcePrompt });
  assert.equal(maxAbsDiff(negativeSource.z.data, against.z.data), 0, 'the source prompt as the negative prompt is guiding against the source');
  const negative = await swapLatent(tiny, inv, new Float32Array(plane).fill(1), { ...SETTINGS, guideAgainst: 'source', negativePrompt: 'stripes' });
  assert.ok(maxAbsDiff(negative.z.data, against.z.data) > 1e-4, 'another negative prompt replaces what --guide-against names');
  assert.ok(maxAbsDiff(negative.z.data, unbiased.z.data) > 1e-4, 'and differs from guiding against the empty prompt');
});

test('a negative prompt is refused where the pack takes guidance as a distilled input, before any work', async () => {
  const distilled = (await readPack(TINY_PIXEL)).manifest;
  assert.throws(() => swapSettings(distilled, { targetPrompt: 'a blue square', negativePrompt: 'stripes' }), /distilled input.*leave --negative-prompt out/);
  assert.equal(swapSettings(distilled, { targetPrompt: 'a blue square' }).negativePrompt, undefined);
  assert.equal(swapSettings(tiny.manifest, { targetPrompt: 'a blue square', negativePrompt: 'stripes' }).negativePrompt, 'stripes');
});

test('swapImage keeps every pixel outside the mask exactly and changes the inside', async () => {
  const source = await readImage(SAMPLE);
  const out = await swapImage(tiny, source, boxMask(128, 128), SETTINGS);
  assert.deepEqual([out.image.width, out.image.height], [128, 128]);
  const outside: number[] = [];
  const inside: number[] = [];
  for (let i = 0; i < 128 * 128; i++) {
    for (let c = 0; c < 3; c++) (out.mask[i] === 0 ? outside : inside).push(Math.abs(out.image.data[c * 128 * 128 + i]! - source.data[c * 128 * 128 + i]!));
  }
  assert.equal(Math.max(...outside), 0, 'outside the mask the source is copied');
  assert.ok(Math.max(...inside) > 0.05, 'inside the mask the swap changed pixels');
  assert.equal(out.mask[0], 0);
  assert.equal(out.mask[64 * 128 + 64], 1);
});

test('swapClip on a mask video (windows, cross-fade): outside the mask ≥ 35 dB after re-encoding', async () => {
  const clip = await readVideo(join(MEDIA, 'diffueraser-example1-17f.mp4'));
  const small = await Promise.all(clip.frames.map((f) => resizeImage(f, 112, 64))); // downscaled to keep the test quick
  const mask = await readMask(join(MEDIA, 'diffueraser-example1-mask-17f.mp4'));
  const warnings: string[] = [];
  const progress: string[] = [];
  const out = await swapClip(tiny, { frames: small, rate: clip.rate }, mask, { ...SETTINGS, steps: 2 }, {
    onWarning: (w) => warnings.push(w),
    onProgress: (p) => p.window && progress.push(`${p.window.index}/${p.window.count}`),
  });
  assert.match(warnings.join('\n'), /mask is 854x480 but the input is 112x64: the mask was scaled/);
  assert.equal(out.frames.length, 17);
  assert.deepEqual(out.windows.map((w) => [w.start, w.length]), [[0, 9], [4, 9], [8, 9]]);
  assert.ok(progress.includes('2/3'), 'progress names the window');
  const dir = await tempDir('flowedit-swap-');
  const file = join(dir, 'swapped.mp4');
  await writeVideo(file, out.frames, { rate: out.rate });
  const back = await readVideo(file);
  assert.equal(back.frames.length, 17);
  const outside = psnrOutside(back.frames, small, out.mask);
  assert.ok(outside >= 35, `PSNR outside the mask ${outside.toFixed(1)} dB`);
  assert.ok(psnr(back.frames[8]!.data, small[8]!.data) < outside, 'inside the mask the clip changed');
});

test('a portrait clip with one mask still: aligned to every frame, outside kept', async () => {
  const clip = await readVideo(join(MEDIA, 'vace-test2.mp4'));
  const frames = await Promise.all(clip.frames.slice(0, 5).map((f) => resizeImage(f, 64, 96)));
  const mask = await readMask(join(MEDIA, 'vace-test2-mask.png'));
  const out = await swapClip(tiny, { frames, rate: clip.rate }, mask, { ...SETTINGS, steps: 2 });
  assert.equal(out.frames.length, 5);
  assert.equal(out.mask.frames.length, 1);
  assert.deepEqual([out.frames[0]!.width, out.frames[0]!.height], [64, 96]);
  assert.equal(psnrOutside(out.frames, frames, out.mask), Infinity);
});

test('a clip inversion covers the clip with windows, padding a short clip', async () => {
  const source = await readImage(SAMPLE);
  const frames = [source, source, source];
  const ci = await invertFrames(tiny, frames, { sourcePrompt: '', steps: 2, solver: 'euler', fit: 'pad' });
  assert.deepEqual(ci.windows, [{ start: 0, length: 3, padded: 3 }]);
  assert.deepEqual(ci.inversions[0]!.latentShape, [1, 4, 3, 32, 32]);
});

test('a mask with the wrong frame count is refused before any model call', async () => {
  const source = await readImage(SAMPLE);
  // two frames for six: more apart than a decoder's slack of a frame or two
  const two: Mask = { width: 128, height: 128, frames: [new Float32Array(128 * 128).fill(1), new Float32Array(128 * 128).fill(1)] };
  const six = Array.from({ length: 6 }, () => source);
  await assert.rejects(swapClip(tiny, { frames: six, rate: { num: 1, den: 1 } }, two, SETTINGS), /The mask has 2 frames but the input has 6/);
});

test('swapSettings takes the pack\'s swap defaults, then flowedit\'s, then the caller\'s', () => {
  const manifest = { ...tiny.manifest, defaults: { ...tiny.manifest.defaults, tasks: { swap: { shareLayers: [2], shareSteps: 0.25, maskBias: -3 } } } };
  const s = swapSettings(manifest, { targetPrompt: 'a blue square' });
  assert.deepEqual([s.share.layers, s.share.fraction, s.maskBias, s.steps, s.solver, s.sourcePrompt], [[2], 0.25, -3, 8, 'fireflow', '']);
  assert.deepEqual(s.mask, { grow: 2, feather: 6, invert: false });
  const o = swapSettings(manifest, { sourcePrompt: 'a red circle', targetPrompt: 'x' }, { maskBias: 0, steps: 3, mask: { grow: 0 } });
  assert.deepEqual([o.maskBias, o.steps, o.mask.grow, o.sourcePrompt], [0, 3, 0, 'a red circle']);
  assert.throws(() => swapSettings(manifest, { targetPrompt: 'x' }, { maskBias: 2 }), /Expected a number in \[-10000, 0\] for --mask-bias but received 2/);
  assert.throws(() => swapSettings(manifest, { targetPrompt: 'x' }, { mask: { feather: -1 } }), /--mask-feather but received -1/);
});

test('resolveSettings resolves the mask\'s grow and feather once, for every caller', () => {
  const s = resolveSettings(tiny.manifest, 'swap', {});
  assert.deepEqual([s.maskGrow, s.maskFeather], [FLOWEDIT_DEFAULTS.maskGrow, FLOWEDIT_DEFAULTS.maskFeather]);
  const o = resolveSettings(tiny.manifest, 'swap', { maskGrow: 0, maskFeather: 3 });
  assert.deepEqual([o.maskGrow, o.maskFeather], [0, 3]);
  assert.throws(() => resolveSettings(tiny.manifest, 'swap', { maskGrow: -2 }), /non-negative number of pixels for --mask-grow but received -2/);
  const viaSwap = swapSettings(tiny.manifest, { targetPrompt: 'x' }, { maskFeather: 1 });
  assert.deepEqual(viaSwap.mask, { grow: FLOWEDIT_DEFAULTS.maskGrow, feather: 1, invert: false });
});
