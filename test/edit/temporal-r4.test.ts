/**
 * Clips under temporal compression r = 4 (Wan's VAE: latent frame 0 holds frame 0, latent frame
 * j ≥ 1 frames 4j − 3 … 4j): frame counts of 1 + 4k, windows, the frame ↔ latent-frame mapping,
 * and a mask reaching the latent grid as the union of the frames each latent frame covers.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { latentMask, tokenMask } from '../../src/attention/mask.js';
import { pixelPlanes } from '../../src/edit/frames/auto-mask.js';
import { swapFrames, swapSettings } from '../../src/edit/frames/swap-jobs.js';
import { allowedFrameCounts, planWindows } from '../../src/edit/frames/windows.js';
import type { RgbImage } from '../../src/media/image.js';
import type { Tensor } from '../../src/media/tensor.js';
import type { Manifest } from '../../src/model/manifest.js';
import { loadPack, type LoadedPack } from '../../src/model/pack.js';
import type { Vae } from '../../src/model/vae.js';
import { TINY_PIXEL } from '../paths.js';

const R4 = { spatial: 2, temporal: 4 };

/** A plane [H, W] of zeros with one pixel set. */
function dot(width: number, height: number, x: number, y: number, v: number): Float32Array {
  const p = new Float32Array(width * height);
  p[y * width + x] = v;
  return p;
}

test('frame counts, padding and windows take 1 + 4k frames', () => {
  const wan = { frames: { max: 81, step: 4 }, latent: { channels: 16, spatialCompression: 8, temporalCompression: 4, scale: 1, shift: 0 } };
  assert.deepEqual(allowedFrameCounts(wan).slice(0, 5), [1, 5, 9, 13, 17]);
  assert.equal(allowedFrameCounts(wan).at(-1), 81);
  assert.deepEqual(planWindows(10, wan), [{ start: 0, length: 10, padded: 13 }], 'a short clip is padded to 1 + 4k frames');
  assert.deepEqual(planWindows(81, wan), [{ start: 0, length: 81, padded: 81 }]);
  const long = planWindows(200, wan);
  assert.ok(long.length > 1 && long.every((w) => w.padded === 81 && w.length === 81), 'a long clip is cut into windows of 81 = 1 + 4·20 frames');
  assert.equal(long.at(-1)!.start + long.at(-1)!.length, 200);
});

test('a latent frame takes the union (max) of the mask over every frame it covers, not one sampled frame', () => {
  // 9 frames of 4 × 4 pixels, s = 2: a latent grid [3, 2, 2]; latent frame 1 covers frames 1-4, latent frame 2 frames 5-8
  const planes: Float32Array[] = Array.from({ length: 9 }, () => new Float32Array(16));
  planes[0] = dot(4, 4, 0, 0, 1); // cell (0, 0) of latent frame 0
  planes[3] = dot(4, 4, 3, 0, 0.7); // cell (0, 1) of latent frame 1, from a middle frame of its group
  planes[5] = dot(4, 4, 0, 3, 0.4); // cell (1, 0) of latent frame 2 ...
  planes[8] = dot(4, 4, 1, 2, 0.9); // ... and the same cell from the group's last frame: the larger value wins
  const lm = latentMask(planes, 4, 4, 9, [1, 4, 3, 2, 2], R4); // [F', H', W']
  assert.deepEqual([...lm], [1, 0, 0, 0, /* latent frame 1 */ 0, 0.7, 0, 0, /* latent frame 2 */ 0, 0, 0.9, 0].map(Math.fround));
  // the group boundaries: frame 1 belongs to latent frame 1 (not 0), frame 4 to latent frame 1 (not 2), frame 5 to latent frame 2
  for (const [frame, latentFrame] of [[1, 1], [4, 1], [5, 2], [0, 0]] as const) {
    const only = Array.from({ length: 9 }, (_, f) => (f === frame ? dot(4, 4, 0, 0, 1) : new Float32Array(16)));
    const m = latentMask(only, 4, 4, 9, [1, 4, 3, 2, 2], R4);
    assert.deepEqual([0, 1, 2].map((j) => m[j * 4]), [0, 1, 2].map((j) => (j === latentFrame ? 1 : 0)), `frame ${frame} → latent frame ${latentFrame}`);
  }
  // the same union onto the tokens of patch [1, 2, 2]: one token per latent frame
  assert.deepEqual([...tokenMask(lm, [1, 4, 3, 2, 2], [1, 2, 2])], [1, 0.7, 0.9].map(Math.fround));
  // and back: an estimated latent mask spreads over every frame its latent frame covers
  const back = pixelPlanes(Float32Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]), [1, 4, 3, 2, 2], 9, R4);
  assert.deepEqual(back.map((p) => [p[0], p[2], p[8]]), [[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1]]);
});

/**
 * A stand-in VAE with temporal compression 4 in pixel space: latent frame 0 is frame 0, latent
 * frame j the mean of frames 4j − 3 … 4j; decoding repeats latent frame j over those frames.
 */
const temporalVae: Vae = {
  async encode(px: Tensor) {
    const [B, C, F, H, W] = px.shape as [number, number, number, number, number];
    const Fl = 1 + (F - 1) / 4;
    const plane = H * W;
    const data = new Float32Array(B * C * Fl * plane); // [B, C, F', H, W]
    for (let bc = 0; bc < B * C; bc++) {
      for (let j = 0; j < Fl; j++) {
        const frames = j === 0 ? [0] : [4 * j - 3, 4 * j - 2, 4 * j - 1, 4 * j];
        for (const f of frames) for (let i = 0; i < plane; i++) data[(bc * Fl + j) * plane + i]! += px.data[(bc * F + f) * plane + i]! / frames.length;
      }
    }
    return { data, shape: [B, C, Fl, H, W] };
  },
  async decode(z: Tensor) {
    const [B, C, Fl, H, W] = z.shape as [number, number, number, number, number];
    const F = 1 + 4 * (Fl - 1);
    const plane = H * W;
    const data = new Float32Array(B * C * F * plane); // [B, C, F, H, W]
    for (let bc = 0; bc < B * C; bc++) {
      for (let f = 0; f < F; f++) {
        const j = f === 0 ? 0 : Math.floor((f - 1) / 4) + 1;
        data.set(z.data.subarray((bc * Fl + j) * plane, (bc * Fl + j + 1) * plane), (bc * F + f) * plane);
      }
    }
    return { data, shape: [B, C, F, H, W] };
  },
};

let base: LoadedPack;
let r4: LoadedPack;
before(async () => {
  base = await loadPack(TINY_PIXEL, { threads: 1 });
  const manifest = { ...base.manifest, frames: { max: 9, step: 4 }, latent: { ...base.manifest.latent, temporalCompression: 4 } } as Manifest;
  r4 = { ...base, manifest, vae: temporalVae };
});
after(async () => {
  await base.release();
});

function clip(frames: number, width: number, height: number): RgbImage[] {
  return Array.from({ length: frames }, (_, f) => {
    const data = new Float32Array(3 * width * height);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(0.37 * i + 1.3 * f) * 0.8;
    return { width, height, data };
  });
}

test('a swap on a 6-frame clip under r = 4: padded to 9 frames, the mask of frame 3 alone edits latent frame 1, every pixel outside the mask is the source', async () => {
  const frames = clip(6, 16, 16);
  const square = new Float32Array(16 * 16);
  for (let y = 0; y < 8; y++) square.fill(1, y * 16, y * 16 + 8);
  const mask = { width: 16, height: 16, frames: frames.map((_, f) => (f === 3 ? square : new Float32Array(16 * 16))) };
  const settings = (target: string) => swapSettings(r4.manifest, { sourcePrompt: 'a red circle', targetPrompt: target }, { steps: 3, mask: { grow: 0, feather: 0 } });
  const a = await swapFrames(r4, frames, mask, settings('a blue square'));
  const b = await swapFrames(r4, frames, mask, settings('a green star on dots'));
  assert.deepEqual(a.windows, [{ start: 0, length: 6, padded: 9 }]);
  assert.equal(a.frames.length, 6);
  const plane = 16 * 16;
  let insideDiff = 0;
  for (let f = 0; f < 6; f++) {
    for (let i = 0; i < plane; i++) {
      const inside = f === 3 && square[i] === 1;
      for (let c = 0; c < 3; c++) {
        const j = c * plane + i;
        if (!inside) {
          assert.equal(a.frames[f]!.data[j], frames[f]!.data[j], `frame ${f} pixel ${i} outside the mask is the source's`);
          assert.equal(b.frames[f]!.data[j], frames[f]!.data[j]);
        } else insideDiff = Math.max(insideDiff, Math.abs(a.frames[f]!.data[j]! - b.frames[f]!.data[j]!));
      }
    }
  }
  assert.ok(insideDiff > 1e-3, `inside the mask the target prompt shapes frame 3 (the mask reached latent frame 1; max difference ${insideDiff})`);
});
