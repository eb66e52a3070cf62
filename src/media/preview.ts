/** What to show of a still or a clip: the still itself or a clip's middle frame, and small copies of it. */
import { stat } from 'node:fs/promises';
import { readImage, resizeImage, type RgbImage } from './image.js';
import type { FfmpegTools } from './ffmpeg-tools.js';
import { isVideoPath, probeVideo, videoFrames } from './video.js';

export interface ShownFrame {
  readonly image: RgbImage;
  /** which frame it is (0 for a still) */
  readonly index: number;
  /** the frames the file holds (1 for a still) */
  readonly frames: number;
}

/**
 * A still's pixels, or one frame of a clip at its displayed size: frame `index` (default the
 * middle one, ⌊frames / 2⌋), or the last that decodes when the clip is shorter. Frames after it are
 * not decoded.
 */
export async function shownFrame(path: string, opts: { tools?: FfmpegTools; signal?: AbortSignal; index?: number } = {}): Promise<ShownFrame> {
  if (!isVideoPath(path)) return { image: await readImage(path), index: 0, frames: 1 };
  if (!(await stat(path).catch(() => null))?.isFile()) throw new Error(`Clip not found: ${path}`);
  const info = await probeVideo(path, opts.tools);
  const want = opts.index ?? Math.floor(info.frames / 2);
  let last: { image: RgbImage; index: number } | undefined;
  let i = 0;
  for await (const f of videoFrames(path, { info, ...(opts.tools ? { tools: opts.tools } : {}), ...(opts.signal ? { signal: opts.signal } : {}) })) {
    last = { image: f, index: i };
    if (i++ >= want) break;
  }
  if (!last) throw new Error(`${path}: no frame could be decoded`);
  return { ...last, frames: info.frames };
}

/** A copy whose longer side is at most `longest` pixels (aspect kept; Lanczos); a smaller image is returned as is. */
export async function thumbnail(img: RgbImage, longest = 256): Promise<RgbImage> {
  const scale = longest / Math.max(img.width, img.height);
  if (scale >= 1) return img;
  return resizeImage(img, Math.max(1, Math.round(img.width * scale)), Math.max(1, Math.round(img.height * scale)));
}
