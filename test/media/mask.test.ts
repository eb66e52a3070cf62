/** Masks: reading stills (grey, colour, palette, alpha), folders and videos; alignment; grow, feather, invert; pixel blending. */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { encodePng, readImage, readImageChannels } from '../../src/media/image.js';
import { assertMaskCovers, blendMasked, distanceToMask, growAndFeather, maskFrameCount, prepareMask, readMask, type Mask } from '../../src/media/mask.js';
import { readVideo, writeVideo } from '../../src/media/video.js';
import { MEDIA, tempDir } from '../paths.js';

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-mask-');
});

function dot(w: number, h: number, x: number, y: number): Float32Array {
  const m = new Float32Array(w * h);
  m[y * w + x] = 1;
  return m;
}

test('the distance transform is exact against brute force', () => {
  const w = 23;
  const h = 17;
  const m = new Float32Array(w * h);
  const on: [number, number][] = [[3, 4], [20, 15], [11, 0], [12, 9]];
  for (const [x, y] of on) m[y * w + x] = 1;
  const d = distanceToMask(m, w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const want = Math.min(...on.map(([px, py]) => Math.hypot(x - px, y - py)));
      assert.ok(Math.abs(d[y * w + x]! - want) < 1e-9, `(${x}, ${y}): ${d[y * w + x]} vs ${want}`);
    }
  }
});

test('grow makes a disc; feather adds a linear edge outside it', () => {
  const m = growAndFeather(dot(21, 21, 10, 10), 21, 21, 3, 4);
  assert.equal(m[10 * 21 + 13], 1, 'inside the grown disc');
  assert.equal(m[10 * 21 + 15], 0.5, 'half way through the feather');
  assert.equal(m[10 * 21 + 17], 0, 'past the feather');
  assert.ok(Math.abs(m[13 * 21 + 13]! - (1 - (Math.hypot(3, 3) - 3) / 4)) < 1e-6, 'the diagonal follows the Euclidean distance');
});

test('a mask still is read, thresholded and aligned (scaled with a warning)', async () => {
  const mask = await readMask(join(MEDIA, 'vace-test2-mask.png'));
  assert.deepEqual([mask.width, mask.height, mask.frames.length], [512, 768, 1]);
  const covered = mask.frames[0]!.reduce((s, v) => s + v, 0) / (512 * 768);
  assert.ok(covered > 0.01 && covered < 0.9, `covers part of the frame (${covered})`);
  assert.ok(mask.frames[0]!.every((v) => v === 0 || v === 1), 'binary');
  const warnings: string[] = [];
  const aligned = prepareMask(mask, { width: 256, height: 384, frames: 25 }, { grow: 2, feather: 3, invert: false }, (w) => warnings.push(w));
  assert.deepEqual([aligned.width, aligned.height, aligned.frames.length], [256, 384, 1]);
  assert.match(warnings[0]!, /mask is 512x768 but the input is 256x384: the mask was scaled/);
  const inverted = prepareMask(mask, { width: 512, height: 768, frames: 1 }, { grow: 0, feather: 0, invert: true });
  assert.equal(inverted.frames[0]![0]! + mask.frames[0]![0]!, 1);
});

test('a mask video is read frame by frame; a wrong frame count is an error naming both counts', async () => {
  const mask = await readMask(join(MEDIA, 'diffueraser-example1-mask-17f.mp4'));
  assert.deepEqual([mask.width, mask.height, mask.frames.length], [854, 480, 17]);
  assert.ok(mask.frames.every((f) => f.some((v) => v === 1)), 'every frame marks the object');
  assert.throws(() => prepareMask(mask, { width: 854, height: 480, frames: 20 }, { grow: 0, feather: 0, invert: false }), /The mask has 17 frames but the input has 20/);
});

test('a folder of per-frame PNGs is read in natural order', async () => {
  const folder = join(dir, 'frames');
  await mkdir(folder);
  for (const i of [1, 2, 10]) {
    const data = new Float32Array(3 * 8 * 8).fill(-1);
    data.fill(1, 0, 8 * i); // white rows in every channel
    data.fill(1, 64, 64 + 8 * i);
    data.fill(1, 128, 128 + 8 * i);
    await writeFile(join(folder, `f${i}.png`), await encodePng({ width: 8, height: 8, data }));
  }
  const mask = await readMask(folder);
  assert.deepEqual(mask.frames.map((f) => f.reduce((s, v) => s + v, 0)), [8, 16, 64]);
  await assert.rejects(readMask(join(dir, 'nothing-here')), /Mask not found/);
  await mkdir(join(dir, 'empty'));
  await assert.rejects(readMask(join(dir, 'empty')), /holds no images/);
});

test('blending copies the source exactly where the mask is 0', () => {
  const source = { width: 2, height: 1, data: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) };
  const edited = { width: 2, height: 1, data: Float32Array.from([-1, -1, -1, -1, -1, -1]) };
  const m: Mask = { width: 2, height: 1, frames: [Float32Array.from([0, 0.5])] };
  const out = blendMasked(source, edited, m.frames[0]!);
  assert.deepEqual(Array.from(out.data).map((v) => +v.toFixed(4)), [0.1, -0.4, 0.3, -0.3, 0.5, -0.2]);
});

test('maskFrameCount: a still is 1, a folder its images, a video its frames; an empty folder is refused', async () => {
  const folder = join(dir, 'count');
  await mkdir(folder);
  const frame = await encodePng({ width: 4, height: 4, data: new Float32Array(48).fill(1) });
  for (const n of ['1.png', '2.png', '10.png']) await writeFile(join(folder, n), frame);
  await writeFile(join(folder, 'notes.txt'), 'not a frame');
  assert.equal(await maskFrameCount(join(folder, '1.png')), 1);
  assert.equal(await maskFrameCount(folder), 3);
  assert.equal(await maskFrameCount(join(MEDIA, 'diffueraser-example1-mask-17f.mp4')), 17);
  const empty = join(dir, 'count-empty');
  await mkdir(empty);
  await assert.rejects(maskFrameCount(empty), /Mask folder .*count-empty holds no images/);
  await assert.rejects(maskFrameCount(join(dir, 'missing.png')), /Mask not found/);
});

test('a mask video that decodes a frame or two apart from its clip is trimmed or extended, never refused', () => {
  const plane = (v: number) => new Float32Array(4).fill(v);
  const mask: Mask = { width: 2, height: 2, frames: [plane(0), plane(1), plane(0), plane(1), plane(1)] };
  const o = { grow: 0, feather: 0, invert: false };
  const shorter = prepareMask(mask, { width: 2, height: 2, frames: 3 }, o);
  assert.deepEqual(shorter.frames.map((f) => f[0]), [0, 1, 0]);
  const longer = prepareMask(mask, { width: 2, height: 2, frames: 7 }, o);
  assert.deepEqual(longer.frames.map((f) => f[0]), [0, 1, 0, 1, 1, 1, 1]);
  assert.throws(() => prepareMask(mask, { width: 2, height: 2, frames: 8 }, o), /The mask has 5 frames but the input has 8/);
  assert.throws(() => prepareMask(mask, { width: 2, height: 2, frames: 2 }, o), /The mask has 5 frames but the input has 2/);
});

test('a mask that selects no pixel is refused, inverted or not', () => {
  const black: Mask = { width: 2, height: 2, frames: [new Float32Array(4), new Float32Array(4)] };
  const white: Mask = { width: 2, height: 2, frames: [new Float32Array(4).fill(1)] };
  const target = { width: 2, height: 2, frames: 2 };
  assert.throws(() => prepareMask(black, target, { grow: 2, feather: 2, invert: false }), /the mask covers no pixels: paint the region to edit white/);
  assert.throws(() => prepareMask(white, target, { grow: 0, feather: 0, invert: true }), /the mask covers no pixels: with --invert-mask, paint the region to edit black/);
  assert.doesNotThrow(() => prepareMask(black, target, { grow: 0, feather: 0, invert: true }));
  assert.doesNotThrow(() => prepareMask(white, target, { grow: 0, feather: 0, invert: false }));
});

/** Interleaved 8-bit pixels of w × h with `channels` samples each, every pixel `fill`; `paint` sets rectangles. */
function canvas(w: number, h: number, fill: readonly number[]) {
  const channels = fill.length;
  const data = new Uint8Array(w * h * channels);
  for (let i = 0; i < w * h; i++) data.set(fill, i * channels);
  const paint = (x0: number, y0: number, x1: number, y1: number, v: readonly number[]) => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data.set(v, (y * w + x) * channels);
    return (x1 - x0) * (y1 - y0);
  };
  const image = () => sharp(data, { raw: { width: w, height: h, channels: channels as 1 | 2 | 3 | 4 } });
  return { paint, image };
}

const count = (m: Float32Array) => m.reduce((s, v) => s + v, 0);

test('a mask video takes one rule for all its frames: colour when a later frame has colour, else luma above mid grey', async () => {
  const [w, h] = [64, 48];
  // planar float RGB with a dark grey box (luma 64: not an edit by luma, an edit by "not black"),
  // a light grey box and, when asked, a blue box
  const frame = (blue: boolean) => {
    const data = new Float32Array(3 * w * h).fill(-1);
    const box = (x0: number, y0: number, x1: number, y1: number, rgb: readonly number[]) => {
      for (let c = 0; c < 3; c++) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[c * w * h + y * w + x] = rgb[c]! / 127.5 - 1;
    };
    box(4, 4, 20, 20, [64, 64, 64]);
    box(28, 4, 44, 20, [220, 220, 220]);
    if (blue) box(4, 28, 20, 44, [0, 0, 220]);
    return { width: w, height: h, data };
  };
  const at = (m: Float32Array, x: number, y: number) => m[y * w + x];
  for (const [name, blueFrom] of [['grey', 99], ['coloured', 4]] as const) {
    const path = join(dir, `rule-${name}.mp4`);
    await writeVideo(path, Array.from({ length: 6 }, (_, i) => frame(i >= blueFrom)), { rate: { num: 24, den: 1 }, crf: 0 });
    const mask = await readMask(path);
    assert.equal(mask.frames.length, 6, name);
    for (const [i, m] of mask.frames.entries()) {
      assert.equal(at(m, 12, 12), name === 'coloured' ? 1 : 0, `${name} frame ${i}: the dark grey box`);
      assert.equal(at(m, 36, 12), 1, `${name} frame ${i}: the light grey box`);
      assert.equal(at(m, 12, 36), name === 'coloured' && i >= blueFrom ? 1 : 0, `${name} frame ${i}: the blue box`);
      assert.equal(at(m, 56, 40), 0, `${name} frame ${i}: black`);
    }
  }
});

test('an index-colour mask marks every object, whatever its colour: as RGB and as a palette PNG', async () => {
  const c = canvas(64, 48, [0, 0, 0]);
  // dark index colours, as the DAVIS palette gives objects 1, 2 and 8: under a mid-grey luma threshold none counts
  const objects = [c.paint(2, 2, 12, 30, [128, 0, 0]), c.paint(20, 5, 30, 40, [0, 128, 0]), c.paint(40, 10, 50, 44, [64, 64, 64]), c.paint(54, 0, 60, 8, [0, 0, 128])];
  const area = objects.reduce((a, b) => a + b, 0);
  const rgb = join(dir, 'objects-rgb.png');
  const palette = join(dir, 'objects-palette.png');
  await c.image().png().toFile(rgb);
  await c.image().png({ palette: true, colours: 8, dither: 0 }).toFile(palette);
  assert.ok((await readImageChannels(palette)).palette, 'written as an index-colour PNG');
  for (const path of [rgb, palette]) {
    const m = (await readMask(path)).frames[0]!;
    assert.equal(count(m), area, `${path}: every object pixel and nothing else`);
    assert.equal(m[20 * 64 + 45], 1, `${path}: the grey (64, 64, 64) object counts too`);
    assert.equal(m[0], 0, `${path}: black stays unedited`);
  }
});

test('a cut-out on a transparent background marks only its opaque part (alpha ≥ 50 %)', async () => {
  const c = canvas(40, 30, [255, 255, 255, 0]); // transparent white: flattening on white would mark everything
  const opaque = c.paint(5, 5, 20, 25, [0, 0, 0, 255]) + c.paint(20, 5, 30, 25, [200, 120, 40, 255]); // its colours, black included, do not matter
  c.paint(30, 5, 35, 25, [10, 10, 10, 200]); // a soft edge above half opacity: edit
  c.paint(35, 5, 40, 25, [240, 240, 240, 100]); // below half: kept
  const path = join(dir, 'cut-out.png');
  await c.image().png().toFile(path);
  const m = (await readMask(path)).frames[0]!;
  assert.equal(count(m), opaque + 5 * 20);
  assert.deepEqual([m[10 * 40 + 7], m[10 * 40 + 32], m[10 * 40 + 37], m[0]], [1, 1, 0, 0]);
});

test('a grey mask is thresholded at mid grey (60 % edits, 40 % does not), also after JPEG compression', async () => {
  const c = canvas(32, 32, [0]);
  const light = c.paint(0, 0, 16, 32, [153]); // 60 % grey
  c.paint(16, 0, 32, 16, [102]); // 40 % grey
  const png = join(dir, 'grey.png');
  const jpeg = join(dir, 'grey.jpg');
  await c.image().png().toFile(png);
  await c.image().jpeg({ quality: 80 }).toFile(jpeg);
  for (const path of [png, jpeg]) {
    const m = (await readMask(path)).frames[0]!;
    assert.equal(count(m), light, path);
    assert.deepEqual([m[8 * 32 + 4], m[8 * 32 + 24], m[24 * 32 + 24]], [1, 0, 0], path);
  }
});

test('the grey masks of the fixtures still read as a luma threshold at mid grey', async () => {
  /** Pixels where a plane differs from the frame's luma thresholded at mid grey. */
  const mismatches = (m: Float32Array, img: { width: number; height: number; data: Float32Array }) => {
    const n = img.width * img.height;
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const y = 0.299 * img.data[i]! + 0.587 * img.data[n + i]! + 0.114 * img.data[2 * n + i]!; // in [-1, 1]
      if (m[i] !== (y > 0 ? 1 : 0)) bad++;
    }
    return bad;
  };
  const still = join(MEDIA, 'vace-test2-mask.png');
  assert.equal(mismatches((await readMask(still)).frames[0]!, await readImage(still)), 0);
  const clipPath = join(MEDIA, 'diffueraser-example1-mask-17f.mp4');
  const clip = await readVideo(clipPath);
  const video = await readMask(clipPath);
  assert.deepEqual(clip.frames.map((f, k) => mismatches(video.frames[k]!, f)), clip.frames.map(() => 0));
});

test('a mask that covers every pixel is accepted with one warning for the whole clip, suggesting flowedit edit', async () => {
  const folder = join(dir, 'all-white');
  await mkdir(folder);
  const white = await canvas(8, 8, [255]).image().png().toBuffer();
  for (const n of ['1.png', '2.png', '3.png']) await writeFile(join(folder, n), white);
  const o = { grow: 0, feather: 0, invert: false };
  for (const mask of [await readMask(folder), await readMask(join(folder, '1.png'))]) {
    const warnings: string[] = [];
    prepareMask(mask, { width: 8, height: 8, frames: 3 }, o, (w) => warnings.push(w));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /The mask covers every pixel, so the whole frame is regenerated .*use `flowedit edit` instead/);
  }
  const black: Mask = { width: 8, height: 8, frames: [new Float32Array(64)] };
  const inverted: string[] = [];
  prepareMask(black, { width: 8, height: 8, frames: 3 }, { ...o, invert: true }, (w) => inverted.push(w));
  assert.equal(inverted.length, 1, 'inverted, an all-black mask covers every pixel');
  const part: string[] = [];
  const partial: Mask = { width: 8, height: 8, frames: [new Float32Array(64).fill(1).fill(0, 0, 1)] };
  prepareMask(partial, { width: 8, height: 8, frames: 3 }, o, (w) => part.push(w));
  assert.deepEqual(part, [], 'a mask that leaves one pixel says nothing');
});

test('assertMaskCovers refuses a mask that selects nothing, and says how to paint it', async () => {
  const path = join(dir, 'transparent.png');
  await canvas(8, 8, [255, 255, 255, 0]).image().png().toFile(path);
  const transparent = await readMask(path);
  assert.throws(() => assertMaskCovers(transparent, false), /the mask covers no pixels: paint the region to edit white or any colour on black, or opaque on a transparent background/);
  const white: Mask = { width: 2, height: 2, frames: [new Float32Array(4).fill(1)] };
  assert.throws(() => assertMaskCovers(white, true), /the mask covers no pixels: with --invert-mask, paint the region to edit black/);
  assert.doesNotThrow(() => assertMaskCovers(white, false));
});
