/** The edit mask estimated from the prompts, and the edit inside it, on the fixture pack (real ONNX sessions). */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { editInEstimatedMask } from '../../src/edit/frames/auto-edit.js';
import { checkMaskThreshold, disagreement, estimateEditMask, MASK_PROBE, pixelPlanes, promptConditions, thresholdMap } from '../../src/edit/frames/auto-mask.js';
import { invertFrames } from '../../src/edit/frames/pipeline.js';
import { encodeFrames } from '../../src/edit/frames/latents.js';
import { FLOWEDIT_DEFAULTS, resolveSettings } from '../../src/edit/frames/settings.js';
import { swapSettingsFrom } from '../../src/edit/frames/swap-jobs.js';
import { readImage, resizeImage, type RgbImage } from '../../src/media/image.js';
import { checkManifest, type Manifest } from '../../src/model/manifest.js';
import { loadPack, type LoadedPack } from '../../src/model/pack.js';
import { readRecipe } from '../../src/settings/recipe.js';
import { SAMPLE, TINY } from '../paths.js';

let tiny: LoadedPack;
before(async () => {
  tiny = await loadPack(TINY, { threads: 1 });
});
after(async () => {
  await tiny.release();
});

const PROMPTS = { source: 'a red circle on stripes', target: 'a blue square on stripes' };

test('thresholdMap keeps the positions at or above θ times the largest value', () => {
  assert.deepEqual(Array.from(thresholdMap(Float32Array.from([0, 1, 2, 4]), 0.5)), [0, 0, 1, 1]);
  assert.deepEqual(Array.from(thresholdMap(Float32Array.from([0, 1, 2, 4]), 0.2)), [0, 1, 1, 1]);
  assert.deepEqual(Array.from(thresholdMap(new Float32Array(3), 0.5)), [0, 0, 0], 'prompts that agree everywhere give an empty mask');
  for (const bad of [0, 1, -0.5, Number.NaN]) assert.throws(() => checkMaskThreshold(bad), /between 0 and 1 \(exclusive\)/);
});

test('pixelPlanes spreads each latent cell over its pixels and frames', () => {
  // latent [1, C, F' = 2, H' = 2, W' = 2], spatial compression 2, temporal 4: 5 pixel frames
  const m = Float32Array.from([1, 0, 0, 0, 0, 0, 0, 1]);
  const planes = pixelPlanes(m, [1, 4, 2, 2, 2], 5, { spatial: 2, temporal: 4 });
  assert.equal(planes.length, 5);
  const row = (p: Float32Array, y: number) => Array.from(p.subarray(4 * y, 4 * y + 4));
  assert.deepEqual([0, 1, 2, 3].map((y) => row(planes[0]!, y)), [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], 'frame 0 is latent frame 0');
  for (const f of [1, 2, 3, 4]) {
    assert.deepEqual([0, 1, 2, 3].map((y) => row(planes[f]!, y)), [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]], `frame ${f} is latent frame 1`);
  }
  assert.throws(() => pixelPlanes(m, [1, 4, 2, 2, 2], 6, { spatial: 2, temporal: 4 }), /Pixel frame 5 needs latent frame 2 but the grid has 2/);
});

test('disagreement: none between a prompt and itself, some between different prompts', async () => {
  const z0 = await encodeFrames(tiny, [await readImage(SAMPLE)]); // [1, 4, 1, 32, 32]
  const steps: number[] = [];
  const same = await disagreement(tiny, z0, await promptConditions(tiny, { source: PROMPTS.source, target: PROMPTS.source }));
  assert.equal(same.length, 32 * 32);
  assert.equal(Math.max(...same), 0);
  const conds = await promptConditions(tiny, PROMPTS);
  const d = await disagreement(tiny, z0, conds, { onProgress: (p) => steps.push(p.step) });
  assert.ok(Math.max(...d) > 0);
  assert.deepEqual(steps, Array.from({ length: MASK_PROBE.draws }, (_, k) => k + 1), 'one progress step per draw of ε');
  const again = await disagreement(tiny, z0, conds);
  assert.deepEqual(Array.from(again), Array.from(d), 'the draws are seeded: the same inputs give the same map');
});

test('estimateEditMask gives a partial mask at the source size, one plane per frame', async () => {
  const still = await readImage(SAMPLE);
  const ci = await invertFrames(tiny, [still], { sourcePrompt: PROMPTS.source, steps: 3, solver: 'fireflow', fit: 'pad' });
  const mask = await estimateEditMask(tiny, ci, 1, PROMPTS, 0.5);
  assert.deepEqual([mask.width, mask.height, mask.frames.length], [128, 128, 1]);
  const covered = mask.frames[0]!.reduce((a, v) => a + v, 0);
  assert.ok(covered > 0 && covered < 128 * 128, `covers part of the frame (${covered} pixels)`);
  const wider = await estimateEditMask(tiny, ci, 1, PROMPTS, 0.2);
  assert.ok(wider.frames[0]!.reduce((a, v) => a + v, 0) > covered, 'a lower θ marks more');
  // a clip of another size: 5 frames, padded to the working size and restored
  const frames = await Promise.all([0, 1, 2, 3, 4].map(() => resizeImage(still, 120, 100)));
  const cc = await invertFrames(tiny, frames, { sourcePrompt: PROMPTS.source, steps: 2, solver: 'euler', fit: 'pad' });
  const clipMask = await estimateEditMask(tiny, cc, 5, PROMPTS, 0.5);
  assert.deepEqual([clipMask.width, clipMask.height, clipMask.frames.length], [120, 100, 5]);
  assert.ok(clipMask.frames.every((p) => p.length === 120 * 100 && p.every((v) => v >= 0 && v <= 1)));
});

test('editInEstimatedMask keeps every pixel outside the grown mask and changes the inside', async () => {
  const source = await readImage(SAMPLE);
  const ci = await invertFrames(tiny, [source], { sourcePrompt: PROMPTS.source, steps: 4, solver: 'fireflow', fit: 'pad' });
  const settings = swapSettingsFrom(resolveSettings(tiny.manifest, 'swap', { guidance: 3 }), { sourcePrompt: PROMPTS.source, targetPrompt: PROMPTS.target }, { grow: 2, feather: 3, invert: false });
  const out = await editInEstimatedMask(tiny, ci, [source], { ...settings, threshold: 0.5 });
  const image: RgbImage = out.frames[0]!;
  const m = out.mask.frames[0]!;
  const n = 128 * 128;
  let outside = 0;
  let inside = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(image.data[c * n + i]! - source.data[c * n + i]!);
      if (m[i] === 0) outside = Math.max(outside, d);
      else inside = Math.max(inside, d);
    }
  }
  assert.equal(outside, 0, 'outside the mask the source is copied');
  assert.ok(inside > 0.05, 'inside the mask the edit changed pixels');
  assert.ok(m.some((v) => v === 0) && m.some((v) => v === 1));
  assert.ok(out.estimated.frames[0]!.every((v, i) => v === 0 || m[i]! > 0), 'the applied mask holds the estimate (grown and feathered)');
  assert.ok(out.calls > ci.calls + 2 * MASK_PROBE.draws, `the count holds the inversion, the estimate and the swap (${out.calls})`);
});

test('settings: an automatic mask makes the edit take the swap defaults; the pack and recipes may set it', () => {
  const base = structuredClone(tiny.manifest) as Manifest & { defaults: NonNullable<Manifest['defaults']> };
  const m = { ...base, defaults: { ...base.defaults, tasks: { edit: { guidance: 2, shareSteps: 1 }, swap: { guidance: 7, shareSteps: 0.2, maskBias: -10000 } } } } as Manifest;
  const plain = resolveSettings(m, 'edit', {});
  assert.deepEqual([plain.autoMask, plain.guidance, plain.shareSteps, plain.maskBias], [FLOWEDIT_DEFAULTS.autoMask, 2, 1, 0]);
  const auto = resolveSettings(m, 'edit', { autoMask: 0.5 });
  assert.deepEqual([auto.autoMask, auto.guidance, auto.shareSteps, auto.maskBias], [0.5, 7, 0.2, -10000]);
  const packAuto = { ...m, defaults: { ...m.defaults, tasks: { ...m.defaults!.tasks, edit: { guidance: 2, shareSteps: 1, autoMask: 0.4 } } } } as Manifest;
  assert.equal(resolveSettings(packAuto, 'edit', {}).autoMask, 0.4);
  assert.equal(resolveSettings(packAuto, 'edit', { autoMask: 0 }).guidance, 2, '--auto-mask 0 restores the plain edit');
  assert.equal(resolveSettings(packAuto, 'swap', {}).autoMask, 0, 'only edit estimates a mask');
  assert.throws(() => resolveSettings(m, 'edit', { autoMask: 1 }), /a number in \[0, 1\) for --auto-mask/);
  const bad = checkManifest(JSON.parse(JSON.stringify({ ...packAuto, defaults: { ...packAuto.defaults, tasks: { edit: { autoMask: 1.5 } } } })));
  assert.ok(bad.problems.some((p) => /defaults\.tasks\.edit\.autoMask: expected a number in \[0, 1\)/.test(p)), bad.problems.join('\n'));
  assert.equal(readRecipe({ autoMask: 0.3 }, 'preset').autoMask, 0.3);
  assert.throws(() => readRecipe({ autoMask: 2 }, 'preset'), /autoMask: expected a number in \[0, 1\)/);
});
