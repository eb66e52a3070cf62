/**
 * Measures, each defined where it is computed.
 *
 * PSNR: 10·log10(peak² / MSE) with pixels in [-1, 1] (peak-to-peak 2, the same figure as for
 * 0..255 images with peak 255), MSE over all channels of the pixels counted.
 * Object right (edits, swaps; the strict judge): in the output, the pixels labelled with the
 * target colour inside the ground-truth object (the target's silhouette at its place and size,
 * coverage ≥ 0.5) grown by `slack` pixels form a largest component (classify.ts); the object is
 * right when that component's IoU with the ground-truth silhouette is at least PLACE_IOU and it is
 * strictly the target shape (classify.ts: its placed silhouette wins with IoU ≥ SHAPE_IOU).
 * Placed: that IoU is at least 0.5, whatever the shape. A clip's object is right only if it is
 * right in every frame.
 * Object centre: the mean position of the component's pixels.
 */
import type { RgbImage } from '../media/image.js';
import { backgroundColour, classifyShape, isStrictly, largestComponent, type Labels } from './classify.js';
import type { World } from './world.js';

/** PSNR of a against b over the pixels where `where` is 1 (all when omitted). */
export function psnr(a: RgbImage, b: RgbImage, where?: Uint8Array): number {
  const n = a.width * a.height;
  let se = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (where && !where[i]) continue;
    for (let c = 0; c < 3; c++) {
      const d = a.data[c * n + i]! - b.data[c * n + i]!;
      se += d * d;
    }
    count += 3;
  }
  if (count === 0) return NaN;
  return 10 * Math.log10(4 / Math.max(se / count, 1e-12));
}

/** PSNR over a whole clip (pooled MSE over its frames). */
export function clipPsnr(a: readonly RgbImage[], b: readonly RgbImage[], where?: readonly Uint8Array[]): number {
  let mse = 0;
  let frames = 0;
  a.forEach((f, i) => {
    const p = psnr(f, b[i]!, where?.[i]);
    if (Number.isNaN(p)) return;
    mse += 4 / 10 ** (p / 10);
    frames++;
  });
  return 10 * Math.log10(4 / Math.max(mse / frames, 1e-12));
}

/** Coverage mask (one channel of a grayscale image in [-1, 1]) thresholded at 0.5. */
export function binary(mask: RgbImage): Uint8Array {
  const n = mask.width * mask.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = mask.data[i]! >= 0 ? 1 : 0;
  return out;
}

/** Binary mask grown by r pixels (square neighbourhood). */
export function grow(m: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const out = new Uint8Array(m.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!m[y * width + x]) continue;
      for (let yy = Math.max(0, y - r); yy <= Math.min(height - 1, y + r); yy++) {
        out.fill(1, yy * width + Math.max(0, x - r), yy * width + Math.min(width - 1, x + r) + 1);
      }
    }
  }
  return out;
}

export function union(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((v, i) => (v || b[i] ? 1 : 0));
}

export function not(a: Uint8Array): Uint8Array {
  return a.map((v) => (v ? 0 : 1));
}

export interface ObjectCheck {
  readonly right: boolean;
  /** a component of the right colour covers the truth (IoU ≥ 0.5), whatever its shape */
  readonly placed: boolean;
  readonly iou: number;
  readonly shape: string | null;
  /** centre of the found component in pixels, or null */
  readonly centre: readonly [number, number] | null;
}

/** Checks the target object (colour, shape) in `labels` against its ground-truth mask. */
export function checkObject(world: World, labels: Labels, truth: Uint8Array, colour: string, shape: string, slack = 4): ObjectCheck {
  const { width: W } = labels;
  const region = grow(truth, W, labels.height, slack);
  const comp = largestComponent(labels, colour, region);
  if (!comp) return { right: false, placed: false, iou: 0, shape: null, centre: null };
  let inter = 0;
  let uni = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < truth.length; i++) {
    const a = comp.mask[i] === 1;
    const b = truth[i] === 1;
    if (a && b) inter++;
    if (a || b) uni++;
    if (a) {
      sx += i % W;
      sy += Math.floor(i / W);
    }
  }
  const iou = uni ? inter / uni : 0;
  const found = classifyShape(world, comp, W, labels.height);
  const right = iou >= PLACE_IOU && isStrictly(found, shape);
  return { right, placed: iou >= 0.5, iou, shape: found.shape, centre: [sx / comp.area + 0.5, sy / comp.area + 0.5] };
}

/** Overlap with the ground-truth silhouette an edited object needs to be right (docs/lab/strict-judge.md). */
export const PLACE_IOU = 0.8;

/** Smallest component (pixels at 128×128, scaled with the frame area) that counts as an object. */
export const MIN_OBJECT_AREA = 40;

export interface CaptionCheck {
  /** per caption object: found with its colour and classified as its shape */
  readonly objects: readonly boolean[];
  /** per caption object: found with its colour (at least the minimum area), whatever its shape */
  readonly coloured: readonly boolean[];
  readonly background: boolean;
  /** every object and the background right */
  readonly full: boolean;
}

/**
 * Does a frame show what its caption says? Each caption object must appear as a component of
 * its colour (anywhere, at least MIN_OBJECT_AREA pixels) that is strictly its shape, and the
 * background colour (votes outside those components) must be the caption's.
 */
export function checkCaption(world: World, labels: Labels, objects: readonly { colour: string; shape: string }[], background: string): CaptionCheck {
  const minArea = (MIN_OBJECT_AREA * labels.width * labels.height) / (128 * 128);
  const covered = new Uint8Array(labels.width * labels.height);
  const found = objects.map((o) => {
    const comp = largestComponent(labels, o.colour);
    if (!comp || comp.area < minArea) return { coloured: false, right: false };
    comp.mask.forEach((v, i) => {
      if (v) covered[i] = 1;
    });
    const found = classifyShape(world, comp, labels.width, labels.height);
    return { coloured: true, right: isStrictly(found, o.shape) };
  });
  const bg = backgroundColour(world, labels, grow(covered, labels.width, labels.height, 1)) === background;
  const right = found.map((o) => o.right);
  return { objects: right, coloured: found.map((o) => o.coloured), background: bg, full: bg && right.every(Boolean) };
}

/** Mean position (pixel centres) of a binary mask's pixels, or null when empty. */
export function centroid(m: Uint8Array, width: number): readonly [number, number] | null {
  let sx = 0;
  let sy = 0;
  let n = 0;
  m.forEach((v, i) => {
    if (!v) return;
    sx += i % width;
    sy += Math.floor(i / width);
    n++;
  });
  return n ? [sx / n + 0.5, sy / n + 0.5] : null;
}

/** What the pixels of a ground-truth object's area show, as shares of that area. */
export interface AreaFill {
  /** labelled with the target colour */
  readonly target: number;
  /** labelled with the scene's background colour or any pattern shade: nothing drawn there */
  readonly background: number;
  /** labelled with any other object colour (e.g. the old colour kept) */
  readonly other: number;
}

/**
 * Reads the area `truth` covers (1 inside) in each labelled frame, pooled over the frames: the
 * share of its pixels in the target colour, in the background (the scene's background colour or
 * a shade), and in any other colour. An edit whose object area is mostly background dropped the
 * object rather than drawing it in the wrong colour or shape.
 */
export function areaFill(frames: readonly { labels: Labels; truth: Uint8Array }[], colour: string, background: string): AreaFill {
  let [target, bg, other, n] = [0, 0, 0, 0];
  for (const { labels, truth } of frames) {
    truth.forEach((v, i) => {
      if (!v) return;
      const ref = labels.refs[labels.index[i]!]!;
      if (ref.shade || ref.colour === background) bg++;
      else if (ref.colour === colour) target++;
      else other++;
      n++;
    });
  }
  return n ? { target: target / n, background: bg / n, other: other / n } : { target: 0, background: 0, other: 0 };
}
