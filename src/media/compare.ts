/**
 * A comparison picture: the source, the result and optionally the mask, side by side in one PNG.
 * For clips it shows one frame of each, the source's middle frame and the same frame of the
 * result and mask.
 */
import { writeFileAtomic } from './atomic-file.js';
import type { FfmpegTools } from './ffmpeg-tools.js';
import { encodePng, resizeImage, type RgbImage } from './image.js';
import { alignMask, maskPlaneImage, readMask, type MaskOptions } from './mask.js';
import { shownFrame, type ShownFrame } from './preview.js';
import { sideBySide, type Panel } from './side-by-side.js';

export interface Comparison {
  /** the source: a still or a clip */
  readonly source: string;
  /** the result (the same size as the source; for a clip, its frames match the source's) */
  readonly result: string;
  /** what the result is called in its label, e.g. "edit", "swap", "reconstruction" */
  readonly label: string;
  /**
   * a mask shown third: with `shape`, a mask as a swap is given it (white = edit; a still, a
   * folder of frames or a video), brought to the source's size and shaped as the swap shapes it;
   * without, a mask already as applied (e.g. --save-mask's), shown as it is
   */
  readonly mask?: { readonly path: string; readonly shape?: MaskOptions };
  readonly tools?: FfmpegTools;
  readonly signal?: AbortSignal;
}

const frameNote = (f: ShownFrame): string => (f.frames > 1 ? `, frame ${f.index + 1} of ${f.frames}` : '');

/** The mask's panel for frame `index` of a source of `source.frames` frames, at the source's size. */
async function maskImage(m: NonNullable<Comparison['mask']>, source: ShownFrame, c: Comparison): Promise<RgbImage> {
  const { width, height } = source.image;
  const opts = { ...(c.tools ? { tools: c.tools } : {}), ...(c.signal ? { signal: c.signal } : {}) };
  if (m.shape) {
    const shaped = alignMask(await readMask(m.path, opts), { width, height, frames: source.frames }, m.shape);
    return maskPlaneImage(await shaped.plane(Math.min(source.index, shaped.count - 1)), width, height);
  }
  const shown = (await shownFrame(m.path, { ...opts, index: source.index })).image;
  return shown.width === width && shown.height === height ? shown : resizeImage(shown, width, height);
}

/** The comparison as one image: source | result (| mask), labelled. */
export async function comparisonImage(c: Comparison): Promise<RgbImage> {
  const opts = { ...(c.tools ? { tools: c.tools } : {}), ...(c.signal ? { signal: c.signal } : {}) };
  const source = await shownFrame(c.source, opts);
  const result = await shownFrame(c.result, { ...opts, index: source.index });
  if (result.image.width !== source.image.width || result.image.height !== source.image.height) {
    throw new Error(`Cannot compare ${c.result} (${result.image.width}x${result.image.height}) with its source ${c.source} (${source.image.width}x${source.image.height}): the sizes differ`);
  }
  const panels: Panel[] = [
    { image: source.image, label: `source${frameNote(source)}` },
    { image: result.image, label: `${c.label}${frameNote(result)}` },
  ];
  if (c.mask) panels.push({ image: await maskImage(c.mask, source, c), label: 'mask' });
  return sideBySide(panels);
}

/** Writes the comparison to `path` as a PNG (atomically). */
export async function writeComparison(path: string, c: Comparison): Promise<void> {
  const image = await comparisonImage(c);
  c.signal?.throwIfAborted();
  await writeFileAtomic(path, await encodePng(image));
}
