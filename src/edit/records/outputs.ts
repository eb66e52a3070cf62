/**
 * Writing results: PNGs carrying their settings in tEXt chunks ("parameters", as people read
 * them, and "flowedit", the same as JSON), H.264 clips carrying the same in their container
 * metadata ("comment" and "description"), and inversion files (parameters.ts has the text's
 * format); all written atomically so a failed or cancelled run leaves no partial file.
 */
import { basename, resolve } from 'node:path';
import { writeFileAtomic } from '../../media/atomic-file.js';
import type { FfmpegTools } from '../../media/ffmpeg-tools.js';
import { writeVideo, type FrameRate, type FrameSource, type VideoInfo } from '../../media/video.js';
import { encodePng, type RgbImage } from '../../media/image.js';
import { addPngTextChunks } from '../../media/png-text.js';
import { encodeInversion, inversionsOf, type InversionFile } from '../frames/inversion-file.js';
import { parametersText } from './parameters.js';

export { parametersText } from './parameters.js';

/** What produced an output: recorded in the PNG or the clip's metadata. */
export interface OutputRecord {
  readonly command: string;
  readonly model: string;
  readonly flowedit: string;
  readonly steps: number;
  readonly solver: string;
  readonly seed: number;
  readonly prompt?: string;
  readonly sourcePrompt?: string;
  readonly targetPrompt?: string;
  /** edit, swap, generate: the prompt the guidance steered away from, when one was given */
  readonly negativePrompt?: string;
  readonly guidance?: number;
  /** edit, swap: what the guidance steered away from (empty or source prompt) */
  readonly guideAgainst?: string;
  readonly shareLayers?: readonly number[];
  readonly shareSteps?: number;
  /** edit: θ of the mask estimated from the prompts */
  readonly autoMask?: number;
  /** edit, swap: the edit path also saw the reconstruction path's text keys (recorded when true) */
  readonly shareText?: boolean;
  /** the static schedule shift σ given instead of the pack's schedule */
  readonly shift?: number;
  /** edit, swap, reconstruct: how a size the pack does not take was fitted (pad or resize) */
  readonly fit?: string;
  /** swap: the mask, and how it was grown, feathered, biased and inverted */
  readonly mask?: string;
  readonly maskGrow?: number;
  readonly maskFeather?: number;
  readonly maskBias?: number;
  readonly invertMask?: boolean;
  /** generate: the frames of a clip (absent: a still) */
  readonly frames?: number;
  /** a clip's frame rate (the writer fills it in) */
  readonly fps?: number;
  /** the output's size in pixels (the writer fills it in) */
  readonly width?: number;
  readonly height?: number;
  /** the source image or clip: recorded by its file name only, unless recordPaths */
  readonly source?: string;
  /**
   * Not written: whether `source` and `mask` are recorded as full paths (--record-paths)
   * rather than by their file names, so that an output shared does not reveal where its
   * source lived.
   */
  readonly recordPaths?: boolean;
}

/** The record as an output holds it: file names instead of paths unless recordPaths, and no recordPaths itself. */
export function storedRecord(r: OutputRecord): OutputRecord {
  const { recordPaths, ...rest } = r;
  const name = (p: string) => (recordPaths ? resolve(p) : basename(p));
  return { ...rest, ...(r.source !== undefined ? { source: name(r.source) } : {}), ...(r.mask !== undefined ? { mask: name(r.mask) } : {}) };
}

/** The text chunks (or clip tags) of a record: "parameters" in the shared convention and "flowedit" as JSON. */
export function recordTexts(r: OutputRecord): { parameters: string; flowedit: string } {
  const stored = storedRecord(r);
  return { parameters: parametersText(stored), flowedit: JSON.stringify(stored) };
}

/** The PNG bytes of an output, its record in tEXt chunks. */
export async function encodeImageOutput(image: RgbImage, record: OutputRecord): Promise<Buffer> {
  return addPngTextChunks(await encodePng(image), recordTexts({ ...record, width: image.width, height: image.height }));
}

export async function writeImageOutput(path: string, image: RgbImage, record: OutputRecord): Promise<void> {
  await writeFileAtomic(path, await encodeImageOutput(image, record));
}

export async function writeInversionFile(path: string, file: InversionFile): Promise<void> {
  await writeFileAtomic(path, encodeInversion(file.header, inversionsOf(file).flatMap((w) => w.trajectory)));
}

export interface ClipOutputOptions {
  /** a file whose audio is copied unchanged (normally the source clip) */
  readonly audioFrom?: string;
  readonly tools?: FfmpegTools;
  readonly signal?: AbortSignal;
  readonly onWarning?: (message: string) => void;
  /** the source clip whose pixel aspect, bit depth and chroma the output keeps (see writeVideo) */
  readonly like?: VideoInfo;
}

/** Writes frames (an array, or a stream of them) as an H.264 clip at `rate`, with the record in its metadata. */
export async function writeClipOutput(
  path: string,
  clip: { readonly frames: FrameSource; readonly rate: FrameRate },
  record: OutputRecord,
  opts: ClipOutputOptions = {},
): Promise<void> {
  const { first, frames, close } = await peekFirst(clip.frames);
  const size = first ? { width: first.width, height: first.height } : {};
  const texts = recordTexts({ ...record, ...size, fps: Math.round((clip.rate.num / clip.rate.den) * 1000) / 1000 });
  try {
    await writeVideo(path, frames, {
      rate: clip.rate,
      metadata: { comment: texts.parameters, description: texts.flowedit },
      ...opts,
    });
  } finally {
    await close();
  }
}

/**
 * The first frame of a source (for the record's size) and the source again, whole; a stream is
 * read one frame ahead only. `close` ends the stream (its decoder) also when no one read on.
 */
async function peekFirst(src: FrameSource): Promise<{ first?: RgbImage; frames: FrameSource; close: () => Promise<void> }> {
  if (Array.isArray(src)) return { ...(src.length > 0 ? { first: src[0] as RgbImage } : {}), frames: src, close: async () => undefined };
  const it = Symbol.asyncIterator in src ? (src as AsyncIterable<RgbImage>)[Symbol.asyncIterator]() : (src as Iterable<RgbImage>)[Symbol.iterator]();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await it.return?.();
  };
  const head = await it.next();
  async function* whole(): AsyncGenerator<RgbImage> {
    try {
      if (head.done) return;
      yield head.value;
      for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    } finally {
      await close();
    }
  }
  return { ...(head.done ? {} : { first: head.value }), frames: whole(), close };
}
