/**
 * The frame pipeline for stills and clips, as numbered phases over the layers below: fit the
 * frames to the pack's working size, cut them into the pack's windows, encode, invert,
 * reconstruct or edit each window, decode, cross-fade the windows and restore the source size.
 * A still is a one-frame clip in one window of one frame (its inversion file just has no clip
 * header).
 */
import type { FfmpegTools } from '../../media/ffmpeg-tools.js';
import { sha256File } from '../../media/file-bytes.js';
import { decodedPlan, decodeSizeFor, planFit, fitImage, restoreImage, type FitMode, type FitPlan } from '../../media/fit.js';
import { readImage, type RgbImage } from '../../media/image.js';
import { probeVideo, readVideo, type FrameRate, type VideoInfo } from '../../media/video.js';
import type { LoadedPack } from '../../model/pack.js';
import { editLatent, type EditSettings, type Edited } from '../latent/edit.js';
import { inversionHeader, inversionsOf, type InversionFile, type InversionHeader } from './inversion-file.js';
import { invertLatent, type InvertSettings, type LatentInversion } from '../latent/invert.js';
import { clipLatentShape, decodeFrames, encodeFrames } from './latents.js';
import { inWindow, type RunOptions } from '../latent/progress.js';
import { reconstructLatent } from '../latent/sample.js';
import { crossFade, planWindows, windowFrames, type ClipWindow } from './windows.js';

export interface ClipInversion {
  readonly fit: FitPlan;
  /** clip frames */
  readonly frames: number;
  readonly windows: readonly ClipWindow[];
  /** one per window, each with its whole trajectory */
  readonly inversions: readonly LatentInversion[];
  readonly calls: number;
}

export interface InvertClipSettings extends InvertSettings {
  readonly fit: FitMode;
  /** frames shared by neighbouring windows of a long clip (default: a quarter window, at least 1) */
  readonly overlap?: number;
  /** most frames in one pass (--window; an allowed count, default the pack's largest) */
  readonly window?: number;
  /** refuse a clip whose frames hold more pixels than this, before decoding (default DEFAULT_MAX_INPUT_PIXELS) */
  readonly maxInputPixels?: number;
}

/** How frames of width × height are brought to the pack's working size. */
export function planWorkSize(pack: LoadedPack, width: number, height: number, fit: FitMode): FitPlan {
  const plan = planFit(width, height, {
    multiple: pack.manifest.image.multiple,
    mode: fit,
    ...(pack.manifest.image.maxPixels ? { maxPixels: pack.manifest.image.maxPixels } : {}),
  });
  clipLatentShape(pack, plan.workWidth, plan.workHeight, 1); // throws if the working size does not suit the pack
  return plan;
}

export function fitFrames(frames: readonly RgbImage[], plan: FitPlan): Promise<RgbImage[]> {
  return Promise.all(frames.map((f) => fitImage(f, plan)));
}

export function restoreFrames(frames: readonly RgbImage[], plan: FitPlan): Promise<RgbImage[]> {
  return Promise.all(frames.map((f) => restoreImage(f, plan)));
}

/**
 * Working-size frames brought back to the source size one at a time, as they are taken: only one
 * source-size frame is held, e.g. while an encoder consumes them.
 */
export async function* restoredFrames(frames: readonly RgbImage[], plan: FitPlan): AsyncGenerator<RgbImage, void, undefined> {
  for (const f of frames) yield await restoreImage(f, plan);
}

/** A clip's frames at the working size, with the plan that restores the source size, and its rate. */
export interface WorkClip {
  /** at the working size */
  readonly frames: readonly RgbImage[];
  readonly fit: FitPlan;
  readonly rate: FrameRate;
}

/**
 * Decodes a video file straight to the working size of `plan` (ffmpeg scales while decoding, so
 * full-resolution frames never reach memory) and fits them: frames ready for the model.
 */
export async function decodeWorkFrames(
  path: string,
  info: VideoInfo,
  plan: FitPlan,
  media: { tools?: FfmpegTools; signal?: AbortSignal; maxInputPixels?: number } = {},
): Promise<RgbImage[]> {
  const clip = await readVideo(path, { ...media, info, size: decodeSizeFor(plan) });
  return fitFrames(clip.frames, decodedPlan(plan));
}

/** Checks the frames have one size and returns it. */
export function frameSize(frames: readonly RgbImage[]): { width: number; height: number } {
  const first = frames[0];
  if (!first) throw new Error('The clip holds no frames');
  frames.forEach((f, i) => {
    if (f.width !== first.width || f.height !== first.height) throw new Error(`Frame ${i} is ${f.width}x${f.height} but frame 0 is ${first.width}x${first.height}`);
  });
  return { width: first.width, height: first.height };
}

/** Encodes and inverts each window of working-size frames. */
export async function invertWindows(pack: LoadedPack, work: readonly RgbImage[], windows: readonly ClipWindow[], s: InvertSettings, run: RunOptions = {}): Promise<LatentInversion[]> {
  const inversions: LatentInversion[] = [];
  for (const [i, w] of windows.entries()) {
    const r = inWindow(run, i, windows.length);
    r.onProgress?.({ phase: 'encode', step: 0, steps: 1 });
    const z0 = await encodeFrames(pack, windowFrames(work, w)); // [1, C, F', H', W']
    r.onProgress?.({ phase: 'encode', step: 1, steps: 1 });
    inversions.push(await invertLatent(pack, z0, { sourcePrompt: s.sourcePrompt, steps: s.steps, solver: s.solver, ...(s.shift !== undefined ? { shift: s.shift } : {}) }, r));
  }
  return inversions;
}

/** Inverts frames (a clip, or one still): fit, cut into windows, encode, invert each window. */
export async function invertFrames(pack: LoadedPack, frames: readonly RgbImage[], s: InvertClipSettings, run: RunOptions = {}): Promise<ClipInversion> {
  // 1. fit the frames to the pack's working size and plan the windows
  const { width, height } = frameSize(frames);
  const fit = planWorkSize(pack, width, height, s.fit);
  const windows = planWindows(frames.length, pack.manifest, s.overlap, s.window);
  const work = await fitFrames(frames, fit);
  // 2. encode and invert each window under the source condition, guidance off
  const inversions = await invertWindows(pack, work, windows, s, run);
  return { fit, frames: frames.length, windows, inversions, calls: inversions.reduce((n, v) => n + v.calls, 0) };
}

/**
 * Runs `sample` on each window's inversion, decodes, cross-fades the windows and restores the
 * source size.
 */
export async function sampleWindows(
  pack: LoadedPack,
  ci: Pick<ClipInversion, 'fit' | 'frames' | 'windows' | 'inversions'>,
  run: RunOptions,
  sample: (inv: LatentInversion, run: RunOptions, window: ClipWindow) => Promise<{ data: Float32Array; shape: readonly number[] }>,
): Promise<RgbImage[]> {
  return restoreFrames(await sampleWorkWindows(pack, ci, run, sample), ci.fit);
}

/** As sampleWindows, but the frames stay at the working size (restoredFrames brings them back). */
export async function sampleWorkWindows(
  pack: LoadedPack,
  ci: Pick<ClipInversion, 'frames' | 'windows' | 'inversions'>,
  run: RunOptions,
  sample: (inv: LatentInversion, run: RunOptions, window: ClipWindow) => Promise<{ data: Float32Array; shape: readonly number[] }>,
): Promise<RgbImage[]> {
  const outputs: RgbImage[][] = [];
  for (const [i, inv] of ci.inversions.entries()) {
    const r = inWindow(run, i, ci.inversions.length);
    const z = await sample(inv, r, ci.windows[i]!);
    r.onProgress?.({ phase: 'decode', step: 0, steps: 1 });
    outputs.push(await decodeFrames(pack, z));
    r.onProgress?.({ phase: 'decode', step: 1, steps: 1 });
  }
  return crossFade(ci.windows, outputs, ci.frames);
}

/** Samples every window back under its inversion's own condition; frames at the source size. */
export function reconstructFrames(pack: LoadedPack, ci: ClipInversion, run: RunOptions = {}): Promise<RgbImage[]> {
  return sampleWindows(pack, ci, run, async (inv, r) => (await reconstructLatent(pack, inv, r)).z);
}

/** Edits every window with shared context; frames at the source size, and the model calls made. */
export async function editFrames(pack: LoadedPack, ci: ClipInversion, s: EditSettings, run: RunOptions = {}): Promise<{ frames: RgbImage[]; calls: number }> {
  let calls = 0;
  const frames = await sampleWindows(pack, ci, run, async (inv, r) => {
    const edited = await editLatent(pack, inv, s, r);
    calls += edited.calls;
    return edited.z;
  });
  return { frames, calls };
}

/** A clip's frames and frame rate, as the clip use cases return them. */
export interface ClipFrames {
  readonly frames: readonly RgbImage[];
  readonly rate: FrameRate;
}

/**
 * Inverts a video file: probe, decode straight to the working size, cut into windows, encode,
 * invert each window. Only working-size frames are held.
 */
export async function invertClip(pack: LoadedPack, path: string, s: InvertClipSettings, run: RunOptions = {}, tools?: FfmpegTools): Promise<InversionFile> {
  // 1. probe, plan the working size, and decode to it (upright)
  const media = { ...(tools ? { tools } : {}), ...(run.signal ? { signal: run.signal } : {}), ...(s.maxInputPixels !== undefined ? { maxInputPixels: s.maxInputPixels } : {}) };
  const info = await probeVideo(path, tools);
  const fit = planWorkSize(pack, info.width, info.height, s.fit);
  const work = await decodeWorkFrames(path, info, fit, media);
  // 2. window, encode and invert
  const windows = planWindows(work.length, pack.manifest, s.overlap, s.window);
  const inversions = await invertWindows(pack, work, windows, s, run);
  const calls = inversions.reduce((n, v) => n + v.calls, 0);
  return {
    header: inversionHeader(pack.manifest.id, inversions[0]!, {
      source: { path, sha256: await sha256File(path), width: info.width, height: info.height },
      fit,
      calls,
      clip: { frames: work.length, rate: info.rate, windows },
    }),
    inversion: inversions[0]!,
    windows: inversions,
  };
}

export interface InvertImageSettings extends InvertSettings {
  readonly fit: FitMode;
  /** refuse an image of more pixels than this, before decoding (default DEFAULT_MAX_INPUT_PIXELS) */
  readonly maxInputPixels?: number;
}

/** A still's windows: one, of its one frame. */
const STILL: readonly ClipWindow[] = [{ start: 0, length: 1, padded: 1 }];

/** Inverts an image file as a one-frame clip: read, fit, encode, invert. */
export async function invertImage(pack: LoadedPack, path: string, s: InvertImageSettings, run: RunOptions = {}): Promise<InversionFile> {
  // 1. read the source
  const sha256 = await sha256File(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `Input image not found: ${path}` : `Cannot read ${path}: ${err.message}`);
  });
  const source = await readImage(path, s.maxInputPixels !== undefined ? { maxInputPixels: s.maxInputPixels } : {});
  // 2. fit it to the pack's working size, encode and invert it under the source condition
  const fit = planWorkSize(pack, source.width, source.height, s.fit);
  const [inversion] = await invertWindows(pack, await fitFrames([source], fit), STILL, s, run);
  return {
    header: inversionHeader(pack.manifest.id, inversion!, { source: { path, sha256, width: source.width, height: source.height }, fit, calls: inversion!.calls }),
    inversion: inversion!,
  };
}

/** Refuses an inversion made with another pack. */
export function assertSameModel(pack: { manifest: LoadedPack['manifest'] }, header: InversionHeader): void {
  if (header.modelId !== pack.manifest.id) {
    throw new Error(
      `This inversion was made with model '${header.modelId}' but the pack is '${pack.manifest.id}'; pass --model with the pack that made it, or invert again.`,
    );
  }
}

/** A still's inversion file as the one window of a one-frame clip; throws for a clip's file. */
function stillInversionOf(file: InversionFile): ClipInversion {
  if (file.header.clip) throw new Error(`${file.header.source.path} was inverted as a clip, not a still image`);
  return { fit: file.header.fit, frames: 1, windows: STILL, inversions: [file.inversion], calls: file.header.calls };
}

/** Samples back from a still's inversion and returns the image at the source's size. */
export async function reconstructImage(pack: LoadedPack, file: InversionFile, run: RunOptions = {}): Promise<RgbImage> {
  assertSameModel(pack, file.header);
  const [image] = await reconstructFrames(pack, stillInversionOf(file), run);
  return image!;
}

export interface EditedImage {
  readonly image: RgbImage;
  /** the reconstruction path at the source's size, when the settings keep it */
  readonly reconstruction: RgbImage | null;
  readonly calls: number;
}

/** Edits a still from its inversion: shared-context sampling, then decode and restore the source size. */
export async function editImage(pack: LoadedPack, file: InversionFile, s: EditSettings, run: RunOptions = {}): Promise<EditedImage> {
  assertSameModel(pack, file.header);
  let edited: Edited | undefined;
  const [image] = await sampleWindows(pack, stillInversionOf(file), run, async (inv, r) => {
    edited = await editLatent(pack, inv, s, r);
    return edited.z;
  });
  const rec = edited!.reconstruction;
  const reconstruction = rec ? await restoreImage((await decodeFrames(pack, rec))[0]!, file.header.fit) : null;
  return { image: image!, reconstruction, calls: edited!.calls };
}

/** The clip inversion an inversion file holds; throws for a still's file. */
export function clipInversionOf(file: InversionFile): ClipInversion & { rate: FrameRate } {
  const clip = file.header.clip;
  if (!clip) throw new Error(`${file.header.source.path} was inverted as a still image, not a clip`);
  const inversions = inversionsOf(file);
  return { fit: file.header.fit, frames: clip.frames, windows: clip.windows, inversions, calls: file.header.calls, rate: clip.rate };
}

/** Samples a clip back from its inversion file: frames at the source size and rate. */
export async function reconstructClip(pack: LoadedPack, file: InversionFile, run: RunOptions = {}): Promise<ClipFrames> {
  assertSameModel(pack, file.header);
  const ci = clipInversionOf(file);
  return { frames: await reconstructFrames(pack, ci, run), rate: ci.rate };
}

/** Edits a clip from its inversion file: frames at the source size and rate. */
export async function editClip(pack: LoadedPack, file: InversionFile, s: EditSettings, run: RunOptions = {}): Promise<ClipFrames & { calls: number }> {
  const edited = await editClipWork(pack, file, s, run);
  return { frames: await restoreFrames(edited.frames, edited.fit), rate: edited.rate, calls: edited.calls };
}

/** reconstructClip with the frames left at the working size (restoredFrames streams them back). */
export async function reconstructClipWork(pack: LoadedPack, file: InversionFile, run: RunOptions = {}): Promise<WorkClip> {
  assertSameModel(pack, file.header);
  const ci = clipInversionOf(file);
  const frames = await sampleWorkWindows(pack, ci, run, async (inv, r) => (await reconstructLatent(pack, inv, r)).z);
  return { frames, fit: ci.fit, rate: ci.rate };
}

/** editClip with the frames left at the working size (restoredFrames streams them back). */
export async function editClipWork(pack: LoadedPack, file: InversionFile, s: EditSettings, run: RunOptions = {}): Promise<WorkClip & { calls: number }> {
  assertSameModel(pack, file.header);
  const ci = clipInversionOf(file);
  let calls = 0;
  const frames = await sampleWorkWindows(pack, ci, run, async (inv, r) => {
    const edited = await editLatent(pack, inv, s, r);
    calls += edited.calls;
    return edited.z;
  });
  return { frames, fit: ci.fit, rate: ci.rate, calls };
}
