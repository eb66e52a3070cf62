/**
 * Bringing images to a size a model accepts (dimensions a multiple of its patch size, area
 * within a pixel budget) and back to their original size afterwards.
 */
import { assertRgbImage, resizeImage } from './image.js';
import type { RgbImage } from './image.js';

/**
 * How an image that does not fit is brought to working size:
 * - `resize`: stretch to the nearest multiple in each direction (aspect changes slightly);
 * - `pad`: keep the pixels, extend right and bottom to the next multiple by repeating the edge.
 */
export type FitMode = 'resize' | 'pad';

/**
 * A plan from planFit. The source is the original image; the content is the source after
 * scaling down to the pixel budget (equal to the source when no scaling was needed); the
 * work size is what the model sees. In `pad` mode the content sits at the top-left of the
 * working image; in `resize` mode the whole working image is the (stretched) content.
 */
export interface FitPlan {
  mode: FitMode;
  sourceWidth: number;
  sourceHeight: number;
  workWidth: number;
  workHeight: number;
  contentWidth: number;
  contentHeight: number;
}

function checkPositiveInteger(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new Error(`Expected a positive integer for ${name} but received ${String(value)}`);
  }
}

/**
 * Plans how a width x height image is brought to working size.
 *
 * 1. If `maxPixels` is given and width·height exceeds it, the content size is the image scaled
 *    down, keeping its aspect ratio, to at most `maxPixels` pixels. Otherwise it is the source size.
 * 2. `resize`: the work size is the content size rounded to the nearest multiple of `multiple`
 *    in each direction (at least one multiple).
 *    `pad`: the work size is the content size rounded up to the next multiple.
 *
 * `maxPixels` bounds the content; rounding to the multiple can make the work size a little
 * larger (by less than one multiple per side). When the work size comes out equal to the
 * source size, the content is the unscaled source. An image whose sides are already multiples and
 * whose area is within budget gets a plan whose fitImage and restoreImage are identities.
 */
export function planFit(
  width: number,
  height: number,
  opts: { multiple: number; maxPixels?: number; mode: FitMode },
): FitPlan {
  checkPositiveInteger('width', width);
  checkPositiveInteger('height', height);
  checkPositiveInteger('multiple', opts.multiple);
  if (opts.mode !== 'resize' && opts.mode !== 'pad') {
    throw new Error(`Expected mode 'resize' or 'pad' but received ${String(opts.mode)}`);
  }
  const { multiple, maxPixels, mode } = opts;
  if (maxPixels !== undefined) {
    checkPositiveInteger('maxPixels', maxPixels);
    if (maxPixels < multiple * multiple) {
      throw new Error(
        `maxPixels (${maxPixels}) must be at least multiple × multiple (${multiple * multiple}) so one block fits`,
      );
    }
  }

  let contentWidth = width;
  let contentHeight = height;
  if (maxPixels !== undefined && width * height > maxPixels) {
    const scale = Math.sqrt(maxPixels / (width * height));
    contentWidth = Math.max(1, Math.floor(width * scale));
    contentHeight = Math.max(1, Math.floor(height * scale));
    // Only possible for extremely thin images where one side was clamped up to 1 pixel.
    if (contentWidth * contentHeight > maxPixels) {
      if (contentWidth === 1) contentHeight = Math.floor(maxPixels);
      else contentWidth = Math.max(1, Math.floor(maxPixels / contentHeight));
    }
  }

  const round = mode === 'pad' ? Math.ceil : Math.round;
  const workWidth = Math.max(multiple, round(contentWidth / multiple) * multiple);
  const workHeight = Math.max(multiple, round(contentHeight / multiple) * multiple);
  if (workWidth === width && workHeight === height) {
    // Scaling down only to round back up to the source size would lose detail for nothing.
    contentWidth = width;
    contentHeight = height;
  }
  return {
    mode,
    sourceWidth: width,
    sourceHeight: height,
    workWidth,
    workHeight,
    contentWidth,
    contentHeight,
  };
}

/** True when the plan changes nothing: fitImage and restoreImage are identities. */
export function isIdentityPlan(plan: FitPlan): boolean {
  return plan.workWidth === plan.sourceWidth && plan.workHeight === plan.sourceHeight;
}

function checkSize(img: RgbImage, width: number, height: number, what: string): void {
  assertRgbImage(img);
  if (img.width !== width || img.height !== height) {
    throw new Error(`Expected ${what} of ${width}x${height} but received ${img.width}x${img.height}`);
  }
}

/** Copies `img` into a width x height image at the top-left, repeating the last column and row. */
function padEdge(img: RgbImage, width: number, height: number): RgbImage {
  const src = img.data;
  const data = new Float32Array(3 * width * height);
  for (let c = 0; c < 3; c++) {
    const srcPlane = c * img.width * img.height;
    const dstPlane = c * width * height;
    for (let y = 0; y < height; y++) {
      const sy = Math.min(y, img.height - 1);
      const srcRow = srcPlane + sy * img.width;
      const dstRow = dstPlane + y * width;
      data.set(src.subarray(srcRow, srcRow + img.width), dstRow);
      const edge = src[srcRow + img.width - 1] as number;
      data.fill(edge, dstRow + img.width, dstRow + width);
    }
  }
  return { width, height, data };
}

/** The top-left width x height region of `img`. */
function cropTopLeft(img: RgbImage, width: number, height: number): RgbImage {
  const src = img.data;
  const data = new Float32Array(3 * width * height);
  for (let c = 0; c < 3; c++) {
    const srcPlane = c * img.width * img.height;
    const dstPlane = c * width * height;
    for (let y = 0; y < height; y++) {
      const srcRow = srcPlane + y * img.width;
      data.set(src.subarray(srcRow, srcRow + width), dstPlane + y * width);
    }
  }
  return { width, height, data };
}

/**
 * Brings a source-sized image to the plan's working size. Returns `img` itself when the
 * plan is an identity.
 */
export async function fitImage(img: RgbImage, plan: FitPlan): Promise<RgbImage> {
  checkSize(img, plan.sourceWidth, plan.sourceHeight, 'an image at the source size');
  if (isIdentityPlan(plan)) return img;
  if (plan.mode === 'resize') return resizeImage(img, plan.workWidth, plan.workHeight);
  const content =
    plan.contentWidth === plan.sourceWidth && plan.contentHeight === plan.sourceHeight
      ? img
      : await resizeImage(img, plan.contentWidth, plan.contentHeight);
  return padEdge(content, plan.workWidth, plan.workHeight);
}

/**
 * Brings a working-size image (for example the edited result) back to the source size:
 * `resize` resizes it; `pad` crops the content region and, if the content had been scaled
 * down, resizes it back up. Returns `img` itself when the plan is an identity.
 */
export async function restoreImage(img: RgbImage, plan: FitPlan): Promise<RgbImage> {
  checkSize(img, plan.workWidth, plan.workHeight, 'an image at the working size');
  if (isIdentityPlan(plan)) return img;
  if (plan.mode === 'resize') return resizeImage(img, plan.sourceWidth, plan.sourceHeight);
  const content = cropTopLeft(img, plan.contentWidth, plan.contentHeight);
  if (plan.contentWidth === plan.sourceWidth && plan.contentHeight === plan.sourceHeight) return content;
  return resizeImage(content, plan.sourceWidth, plan.sourceHeight);
}

/**
 * The size a decoder should deliver the source at so that only working-size pixels reach memory:
 * the working size for `resize`, the content size for `pad` (padding follows with fitImage and
 * decodedPlan). The identity plan's is the source size.
 */
export function decodeSizeFor(plan: FitPlan): { width: number; height: number } {
  if (isIdentityPlan(plan)) return { width: plan.sourceWidth, height: plan.sourceHeight };
  return plan.mode === 'resize' ? { width: plan.workWidth, height: plan.workHeight } : { width: plan.contentWidth, height: plan.contentHeight };
}

/**
 * The plan that brings frames decoded at decodeSizeFor(plan) to the working size: an identity for
 * `resize`, an edge padding for `pad`. fitImage(decoded, decodedPlan(plan)) equals
 * fitImage(source, plan) up to the decoder's own scaling.
 */
export function decodedPlan(plan: FitPlan): FitPlan {
  const { width, height } = decodeSizeFor(plan);
  return { ...plan, sourceWidth: width, sourceHeight: height, contentWidth: width, contentHeight: height };
}

/**
 * Brings a one-channel plane at the working size (e.g. a mask) back to the source size as
 * restoreImage brings an image: the content region (the whole plane for `resize`) scaled to the
 * source size, here bilinearly and in plain arithmetic, which costs a few milliseconds where a
 * three-channel Lanczos resize of a full-HD frame costs most of a second. Meant for planes whose
 * edges are thresholded afterwards. Returns `m` itself when the plan is an identity.
 */
export function restorePlane(m: Float32Array, plan: FitPlan): Float32Array {
  const { workWidth: w, workHeight: h, sourceWidth: W, sourceHeight: H } = plan;
  if (m.length !== w * h) throw new Error(`Expected a plane of ${w}x${h} = ${w * h} values but received ${m.length}`);
  if (isIdentityPlan(plan)) return m;
  const cw = plan.mode === 'resize' ? w : plan.contentWidth; // the content sits at the top-left
  const ch = plan.mode === 'resize' ? h : plan.contentHeight;
  const out = new Float32Array(W * H); // [H, W]
  for (let y = 0; y < H; y++) {
    const sy = Math.min(ch - 1, Math.max(0, ((y + 0.5) * ch) / H - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(ch - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < W; x++) {
      const sx = Math.min(cw - 1, Math.max(0, ((x + 0.5) * cw) / W - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(cw - 1, x0 + 1);
      const fx = sx - x0;
      const top = m[y0 * w + x0]! * (1 - fx) + m[y0 * w + x1]! * fx;
      const bottom = m[y1 * w + x0]! * (1 - fx) + m[y1 * w + x1]! * fx;
      out[y * W + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}
