/**
 * Writing results: PNGs carrying their settings in tEXt chunks ("parameters", as people read
 * them, and "flowedit", the same as JSON), H.264 clips carrying the same in their container
 * metadata ("comment" and "description"), and inversion files; all written atomically so a
 * failed or cancelled run leaves no partial file.
 */
import { writeFileAtomic } from '../media/atomic-file.js';
import type { FfmpegTools } from '../media/ffmpeg-tools.js';
import { writeVideo, type FrameRate, type FrameSource, type VideoInfo } from '../media/video.js';
import { encodePng, type RgbImage } from '../media/image.js';
import { addPngTextChunks } from '../media/png-text.js';
import { encodeInversion, inversionsOf, type InversionFile } from './inversion-file.js';

/** What produced an output: recorded in the PNG. */
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
  readonly source?: string;
}

/** The human-readable "parameters" text. */
export function parametersText(r: OutputRecord): string {
  const lines: string[] = [];
  if (r.prompt !== undefined) lines.push(r.prompt);
  if (r.sourcePrompt !== undefined) lines.push(`Source prompt: ${r.sourcePrompt}`);
  if (r.targetPrompt !== undefined) lines.push(`Target prompt: ${r.targetPrompt}`);
  if (r.negativePrompt !== undefined) lines.push(`Negative prompt: ${r.negativePrompt}`);
  const fields: [string, unknown][] = [
    ['Command', r.command],
    ['Steps', r.steps],
    ['Solver', r.solver],
    ['Guidance', r.guidance],
    ['Guide against', r.guideAgainst],
    ['Seed', r.seed],
    ['Share layers', r.shareLayers?.join(' ')],
    ['Share steps', r.shareSteps],
    ['Share text', r.shareText],
    ['Shift', r.shift],
    ['Auto mask', r.autoMask],
    ['Model', r.model],
    ['Version', `flowedit ${r.flowedit}`],
  ];
  lines.push(fields.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${String(v)}`).join(', '));
  return lines.join('\n');
}

/** The PNG bytes of an output, its record in tEXt chunks. */
export async function encodeImageOutput(image: RgbImage, record: OutputRecord): Promise<Buffer> {
  return addPngTextChunks(await encodePng(image), { parameters: parametersText(record), flowedit: JSON.stringify(record) });
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
  await writeVideo(path, clip.frames, {
    rate: clip.rate,
    metadata: { comment: parametersText(record), description: JSON.stringify(record) },
    ...opts,
  });
}
