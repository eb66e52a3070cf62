/**
 * The media of calibration edits: checked against the pack before anything loads (inputs,
 * masks, answers and prompts; every problem at once, one line each, naming its entry), then
 * loaded at the size the analysis runs them.
 *
 * A clip is analysed in one window, its first: the first `frames` frames (by default, and at
 * most, as many as one pass of the pack takes; windows.ts), decoded straight to the pack's
 * working scale as the edit commands decode clips (decodeSizeFor), so a long or large clip never
 * reaches memory whole. The edit commands then cut this window as they cut any clip (planWindows:
 * one window, padded to a frame count the pack accepts).
 */
import { findFfmpeg, type FfmpegTools } from '../media/ffmpeg-tools.js';
import { decodeSizeFor, planFit, type FitMode } from '../media/fit.js';
import { assertStillReadable, imageSize, readImage, type RgbImage } from '../media/image.js';
import { assertMaskCovers, prepareMask, readMask, type Mask } from '../media/mask.js';
import { assertClipReadable, isVideoPath, probeVideo, videoFrames, type VideoInfo } from '../media/video.js';
import type { Manifest } from '../model/manifest.js';
import type { PackInfo } from '../model/pack.js';
import type { GuideAgainst } from '../edit/latent/velocity.js';
import { assertPromptsFit } from '../edit/latent/velocity.js';
import { isMaskedTask } from '../settings/tasks.js';
import { allowedFrameCounts } from '../edit/frames/windows.js';
import { CalibrationProblems, type AnalysisTask, type Calibration, type CalibrationCase } from './calibration.js';

export interface LoadedCalibrationCase extends CalibrationCase {
  /** the source frames the analysis edits: one for a still, a clip's first window; at the size it runs them */
  readonly frames: readonly RgbImage[];
  /** a clip's frames: those used (the first `used`) of how many */
  readonly clip: { readonly used: number; readonly total: number } | null;
  /** the edit region, at the frames' size (one plane for every frame, or one per frame); null: none given */
  readonly region: Mask | null;
  readonly truth: RgbImage | null;
  readonly checkMask: Mask | null;
}

export interface MediaOptions {
  /** the ffmpeg binary for clips (default: found as the edit commands find it) */
  readonly ffmpeg?: string;
  /** refuse inputs and masks whose frames hold more pixels than this */
  readonly maxInputPixels?: number;
  /** things worth telling the user that do not stop the run (e.g. a clip cut to its first window) */
  readonly onWarning?: (message: string) => void;
}

/** The most frames one pass of the pack takes (1: stills only). */
export function onePass(m: Pick<Manifest, 'frames' | 'latent'>): number {
  return Math.max(...allowedFrameCounts(m));
}

/** The frames of a clip of `total` frames the analysis uses: its first window. */
function usedFrames(c: CalibrationCase, total: number, pass: number): number {
  return Math.min(c.firstFrames ?? pass, total, pass);
}

const continued = (message: string): string => (/^[A-Z][a-z]/.test(message) ? message[0]!.toLowerCase() + message.slice(1) : message);

/** ffmpeg, found once and only when a clip needs it. */
function lazyTools(ffmpeg: string | undefined): () => Promise<FfmpegTools> {
  let tools: Promise<FfmpegTools> | undefined;
  return () => (tools ??= findFfmpeg(ffmpeg));
}

/** Whether a mask path is a clip of masks (decoding it needs ffmpeg). */
const maskNeedsTools = (path: string): boolean => isVideoPath(path);

/**
 * Checks every case's media and prompts against the pack and the task before anything loads:
 * the input decodes (a still) or is a complete, constant-rate clip the pack can take; a masked
 * task's case has a mask, of the input's size, with one plane or one per frame, selecting some
 * pixel; an answer (`expected`) belongs to a still of its size; the prompts fit the pack's
 * tokenizer; and guidance against the source prompt has one. Throws CalibrationProblems listing
 * every problem, each naming its entry.
 */
export async function checkCases(
  cal: Calibration,
  cases: readonly CalibrationCase[],
  task: AnalysisTask,
  pack: PackInfo,
  st: { readonly guideAgainst: GuideAgainst },
  o: MediaOptions = {},
): Promise<void> {
  const problems: string[] = [];
  const tools = lazyTools(o.ffmpeg);
  const pass = onePass(pack.manifest);
  const attempt = async <T>(where: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      problems.push(`${where}: ${continued((err as Error).message)}`);
      return undefined;
    }
  };
  for (const c of cases) {
    const where = `entry ${c.id}`;
    const say = (p: string) => problems.push(`${where}: ${p}`);
    // 1. the input: a still that decodes, or a clip the pack can take
    let size: { width: number; height: number } | undefined;
    let clip: VideoInfo | undefined;
    if (isVideoPath(c.input)) {
      if (pass === 1) say(`the input is a clip, but pack '${pack.manifest.id}' takes stills only (its manifest has no frames); give a still`);
      else {
        clip = await attempt(where, async () => assertClipReadable(c.input, await tools(), o.maxInputPixels));
        size = clip;
        if (clip && c.firstFrames !== undefined && c.firstFrames > clip.frames) say(`frames: ${c.firstFrames}, but the clip has ${clip.frames}`);
        if (c.firstFrames !== undefined && c.firstFrames > pass) {
          say(`frames: ${c.firstFrames}, but pack '${pack.manifest.id}' takes at most ${pass} frames in one pass and the analysis runs one window: give at most ${pass}`);
        }
      }
    } else {
      size = await attempt(where, () => assertStillReadable(c.input, o.maxInputPixels));
      if (c.firstFrames !== undefined) say(`frames is for clips, but ${c.input} is a still: leave it out`);
    }
    const used = clip ? usedFrames(c, clip.frames, pass) : 1;
    // 2. the mask: needed by a masked task; the input's size, one plane or one per frame, selecting some pixel
    if (c.mask === undefined) {
      if (isMaskedTask(task)) say(`no mask, but ${task} edits inside a mask: add mask: <file> (white where the edit may change things, the input's size)`);
    } else if (size) {
      const maskPath = c.mask;
      const mask = await attempt(where, async () => readMask(maskPath, maskNeedsTools(maskPath) ? { tools: await tools() } : {}));
      if (mask) {
        const n = mask.frames.length;
        if (mask.width !== size.width || mask.height !== size.height) {
          say(`the mask is ${mask.width}×${mask.height} but the input is ${size.width}×${size.height}; draw it at the input's size`);
        } else if (!clip && n !== 1) {
          say(`the mask has ${n} frames but the input is a still; give one mask image`);
        } else if (clip && n !== 1 && n < used) {
          say(`the mask has ${n} frames but the analysis uses the clip's first ${used}; give one mask for every frame, or a single still`);
        } else {
          await attempt(`${where}: mask`, async () => assertMaskCovers({ ...mask, frames: mask.frames.slice(0, Math.max(1, Math.min(n, used))) }, false));
        }
      }
    }
    // 3. the answer: a still's, of its size
    if (c.expected !== undefined) {
      if (clip) say('expected is for stills: the right answer of a clip is not judged; leave it out');
      else if (size) {
        const e = await attempt(where, () => imageSize(c.expected!));
        if (e && (e.width !== size.width || e.height !== size.height)) say(`the expected image is ${e.width}×${e.height} but the input is ${size.width}×${size.height}`);
      }
    }
    // 4. the prompts
    for (const [key, text] of [['sourcePrompt', c.sourcePrompt], ['targetPrompt', c.targetPrompt]] as const) {
      await attempt(where, () => assertPromptsFit(pack, [{ text, what: key }]));
    }
    if (st.guideAgainst === 'source' && c.sourcePrompt.trim() === '') {
      say(`sourcePrompt is empty, but ${task} on pack '${pack.manifest.id}' guides against the source prompt: caption the input in sourcePrompt`);
    }
  }
  if (problems.length) throw new CalibrationProblems(cal.file, problems);
}

/** A clip's first `used` frames, decoded straight to `size`. */
async function firstFrames(path: string, info: VideoInfo, used: number, size: { width: number; height: number }, tools: FfmpegTools, maxInputPixels?: number): Promise<RgbImage[]> {
  const frames: RgbImage[] = [];
  for await (const f of videoFrames(path, { tools, info, size, ...(maxInputPixels !== undefined ? { maxInputPixels } : {}) })) {
    frames.push(f);
    if (frames.length === used) break; // stops ffmpeg
  }
  return frames;
}

/**
 * Loads checked cases (checkCases) for the pack of `manifest` with fit `fit`: a still at its own size; a clip's
 * first window at the pack's working scale (one pass; see the module comment), its mask scaled
 * alike. A clip cut to its first window is reported through `onWarning`.
 */
export async function loadCases(cal: Calibration, cases: readonly CalibrationCase[], manifest: Manifest, fit: FitMode, o: MediaOptions = {}): Promise<LoadedCalibrationCase[]> {
  const tools = lazyTools(o.ffmpeg);
  const pass = onePass(manifest);
  const limit = o.maxInputPixels !== undefined ? { maxInputPixels: o.maxInputPixels } : {};
  const out: LoadedCalibrationCase[] = [];
  for (const c of cases) {
    const mask = c.mask === undefined ? null : await readMask(c.mask, maskNeedsTools(c.mask) ? { tools: await tools() } : {});
    const checkMask = c.check ? await readMask(c.check.mask) : null;
    if (isVideoPath(c.input)) {
      const info = await probeVideo(c.input, await tools());
      const used = usedFrames(c, info.frames, pass);
      const { image } = manifest;
      const size = decodeSizeFor(planFit(info.width, info.height, { multiple: image.multiple, mode: fit, ...(image.maxPixels ? { maxPixels: image.maxPixels } : {}) }));
      const frames = await firstFrames(c.input, info, used, size, await tools(), o.maxInputPixels);
      if (c.firstFrames === undefined && info.frames > used) {
        o.onWarning?.(`${cal.file}: entry ${c.id}: the clip has ${info.frames} frames; the analysis uses its first ${used}, one pass of pack '${manifest.id}' (set frames to use fewer)`);
      }
      const region = mask && prepareMask({ ...mask, frames: mask.frames.length === 1 ? mask.frames : mask.frames.slice(0, frames.length) }, { ...size, frames: frames.length }, { grow: 0, feather: 0, invert: false });
      out.push({ ...c, frames, clip: { used: frames.length, total: info.frames }, region, truth: null, checkMask: null });
      continue;
    }
    const source = await readImage(c.input, limit);
    const truth = c.expected ? await readImage(c.expected, limit) : null;
    if (truth && (truth.width !== source.width || truth.height !== source.height)) {
      throw new Error(`${cal.file}: case ${c.id}: the expected image is ${truth.width}×${truth.height} but the source is ${source.width}×${source.height}`);
    }
    for (const [what, m] of [['mask', mask], ['check mask', checkMask]] as const) {
      if (m && (m.width !== source.width || m.height !== source.height || m.frames.length !== 1)) {
        throw new Error(`${cal.file}: case ${c.id}: the ${what} is ${m.width}×${m.height}${m.frames.length !== 1 ? ` with ${m.frames.length} frames` : ''} but the source is a ${source.width}×${source.height} still; draw it at the image's size`);
      }
    }
    out.push({ ...c, frames: [source], clip: null, region: mask, truth, checkMask });
  }
  return out;
}

/** Whether any case carries a right answer the trials can be judged by: an expected image, or a scene-world check. */
export function hasAnswers(cases: readonly LoadedCalibrationCase[], world: boolean): boolean {
  return cases.some((c) => c.truth !== null || (world && c.check !== undefined && c.checkMask !== null));
}

/** The same before loading, from what the cases name. */
export function namesAnswers(cases: readonly CalibrationCase[], world: boolean): boolean {
  return cases.some((c) => c.expected !== undefined || (world && c.check !== undefined));
}
