/**
 * The swap use case on stills and clips held in memory: prepare the mask (align, grow, feather),
 * fit, invert each window (once for any number of target prompts), swap inside the mask on the
 * latent grid, decode, cross-fade windows,
 * restore the source size, and blend in pixel space so that where the mask is 0 every pixel is
 * exactly the source's (a VAE round trip alone would change them).
 */
import { latentMask } from '../../attention/mask.js';
import { fitImage, restoreImage, type FitMode, type FitPlan } from '../../media/fit.js';
import type { RgbImage } from '../../media/image.js';
import { alignMask, blendMasked, checkMaskOptions, mapMaskPlane, shapedPlanes, type Mask, type MaskOptions, type PlaneScaler, type ShapedMask } from '../../media/mask.js';
import type { Manifest } from '../../model/manifest.js';
import type { LoadedPack } from '../../model/pack.js';
import type { SolverName } from '../../solvers/index.js';
import type { InvertedSource } from './auto-mask.js';
import type { LatentInversion } from '../latent/invert.js';
import { assertSameModel, fitFrames, frameSize, invertWindows, planWorkSize, sampleWorkWindows, type ClipFrames } from './pipeline.js';
import { inversionsOf, type InversionFile } from './inversion-file.js';
import type { RunOptions } from '../latent/progress.js';
import { FLOWEDIT_DEFAULTS, resolveSettings, shareOptionsFrom, type MaskedTask, type SettingOptions, type Settings } from './settings.js';
import { swapLatent, type SwapLatentSettings } from '../latent/swap.js';
import { assertNegativePromptFits } from '../latent/velocity.js';
import { planWindows, windowFrames, type ClipWindow } from './windows.js';

export interface SwapSettings extends SwapLatentSettings {
  readonly sourcePrompt: string;
  readonly steps: number;
  readonly solver: SolverName;
  /** σ of a static schedule shift for the inversion, replacing the pack's schedule */
  readonly shift?: number;
  readonly fit: FitMode;
  /** grow, feather (pixels at the source size) and invert */
  readonly mask: MaskOptions;
  /** frames shared by neighbouring windows of a long clip (default: a quarter window, at least 1) */
  readonly overlap?: number;
  /** most frames in one pass (--window; an allowed count, default the pack's largest) */
  readonly window?: number;
}

/** A swap's prompts: the source's (empty if not given), the target's, and optionally one to steer away from. */
export interface SwapPrompts {
  readonly sourcePrompt?: string;
  readonly targetPrompt: string;
  readonly negativePrompt?: string;
}

/** Swap settings from resolved run settings, the prompts and the mask's shape (checked here). */
export function swapSettingsFrom(r: Settings, prompts: SwapPrompts, mask: MaskOptions, clip: { readonly overlap?: number; readonly window?: number } = {}): SwapSettings {
  checkMaskOptions(mask);
  const negative = prompts.negativePrompt ?? r.negativePrompt;
  return {
    sourcePrompt: prompts.sourcePrompt ?? FLOWEDIT_DEFAULTS.sourcePrompt,
    targetPrompt: prompts.targetPrompt,
    ...(negative !== undefined ? { negativePrompt: negative } : {}),
    steps: r.steps,
    ...(r.shift !== undefined ? { shift: r.shift } : {}),
    solver: r.solver,
    guidance: r.guidance,
    guideAgainst: r.guideAgainst,
    share: shareOptionsFrom(r),
    maskBias: r.maskBias,
    fit: r.fit,
    mask,
    ...(clip.overlap !== undefined ? { overlap: clip.overlap } : {}),
    ...(clip.window !== undefined ? { window: clip.window } : {}),
  };
}

/**
 * Swap settings from the pack's defaults for a masked task (`swap` unless `task` names another of
 * MASKED_TASKS, whose defaults override the swap's), then flowedit's, overridden by `o`;
 * validated here, before any work.
 */
export function swapSettings(
  manifest: Manifest,
  prompts: SwapPrompts,
  o: SettingOptions & { readonly mask?: Partial<MaskOptions>; readonly overlap?: number; readonly window?: number } = {},
  task: MaskedTask = 'swap',
): SwapSettings {
  const r = resolveSettings(manifest, task, { ...o, maskGrow: o.mask?.grow ?? o.maskGrow, maskFeather: o.mask?.feather ?? o.maskFeather });
  assertNegativePromptFits({ manifest }, prompts.negativePrompt);
  return swapSettingsFrom(r, prompts, { grow: r.maskGrow, feather: r.maskFeather, invert: o.mask?.invert ?? false }, o);
}

export interface SwappedFrames {
  /** at the source size and frame count */
  readonly frames: RgbImage[];
  /** the mask as applied: aligned, grown and feathered, at the source size (one plane = every frame) */
  readonly mask: Mask;
  readonly windows: readonly ClipWindow[];
  /** model calls: inversion and swap */
  readonly calls: number;
}

/** A mask plane [H, W] in [0, 1] brought to working size with the frames' own fit plan. */
function fitMaskPlane(m: Float32Array, width: number, height: number, plan: FitPlan): Promise<Float32Array> {
  return mapMaskPlane(m, width, height, (img) => fitImage(img, plan)); // [H_work, W_work]
}

/**
 * A swap's source side, shared by every target prompt, without the source's pixels: its size and
 * frame count, the mask as applied, the mask at the working size, and each window's inversion
 * with its whole trajectory. The source frames themselves are only needed for the final blend,
 * which can stream them (blendSwapped).
 */
export interface SwapSource {
  /** the source's size and frame count */
  readonly width: number;
  readonly height: number;
  readonly count: number;
  /** the mask as applied: aligned, grown and feathered, at the source size, each plane made when taken */
  readonly mask: ShapedMask;
  readonly fit: FitPlan;
  readonly windows: readonly ClipWindow[];
  /** mask planes at the working size: one for every frame, or one per frame */
  readonly workMask: readonly Float32Array[];
  readonly inversions: readonly LatentInversion[];
  /** model calls of the inversions */
  readonly calls: number;
}

/** A swap's source side with the source frames in memory. */
export interface PreparedSwap extends SwapSource {
  /** the source frames, at the source size */
  readonly frames: readonly RgbImage[];
}

/**
 * Prepares a swap of `frames` (one still, or a clip's frames): aligns and shapes the mask, fits
 * frames and mask to the working size and inverts each window under the source prompt. The mask
 * may be one still for every frame or one plane per frame; a mask of another size is scaled, with
 * a warning through run.onWarning.
 */
export async function prepareSwap(
  pack: LoadedPack,
  frames: readonly RgbImage[],
  mask: Mask,
  s: Pick<SwapSettings, 'sourcePrompt' | 'steps' | 'solver' | 'shift' | 'fit' | 'mask' | 'overlap' | 'window'>,
  run: RunOptions = {},
): Promise<PreparedSwap> {
  // 1. fit the frames to the working size; align, shape and fit the mask alike
  const { width, height } = frameSize(frames);
  const fit = planWorkSize(pack, width, height, s.fit);
  const windows = planWindows(frames.length, pack.manifest, s.overlap, s.window);
  const work = await fitFrames(frames, fit);
  const shaped = await shapeMask({ width, height, frames: frames.length }, mask, s.mask, fit, run);
  // 2. invert each window under the source condition, keeping the whole trajectory
  const inversions = await invertWindows(pack, work, windows, s, run);
  return { frames, width, height, count: frames.length, ...shaped, fit, windows, inversions, calls: inversions.reduce((n, v) => n + v.calls, 0) };
}

/**
 * Prepares a swap from frames already at the working size of `fit` (e.g. decoded straight to it),
 * so the source's full-resolution pixels are never held: the mask is shaped at the source size of
 * `fit` and fitted alike, and each window is inverted under the source prompt.
 */
export async function prepareSwapWork(
  pack: LoadedPack,
  work: readonly RgbImage[],
  fit: FitPlan,
  mask: Mask,
  s: Pick<SwapSettings, 'sourcePrompt' | 'steps' | 'solver' | 'shift' | 'mask' | 'overlap' | 'window'>,
  run: RunOptions = {},
): Promise<SwapSource> {
  // 1. the frames are at the working size; align, shape and fit the mask
  const size = frameSize(work);
  if (size.width !== fit.workWidth || size.height !== fit.workHeight) throw new Error(`Expected frames at the working size ${fit.workWidth}x${fit.workHeight} but received ${size.width}x${size.height}`);
  const target = { width: fit.sourceWidth, height: fit.sourceHeight, frames: work.length };
  const windows = planWindows(work.length, pack.manifest, s.overlap, s.window);
  const shaped = await shapeMask(target, mask, s.mask, fit, run);
  // 2. invert each window under the source condition, keeping the whole trajectory
  const inversions = await invertWindows(pack, work, windows, s, run);
  return { width: target.width, height: target.height, count: target.frames, ...shaped, fit, windows, inversions, calls: inversions.reduce((n, v) => n + v.calls, 0) };
}

/** The mask aligned with the frames and shaped at the source size, and its planes at the working size. */
async function shapeMask(
  target: { width: number; height: number; frames: number },
  mask: Mask,
  o: MaskOptions,
  fit: FitPlan,
  run: RunOptions,
  scale?: PlaneScaler,
): Promise<Pick<PreparedSwap, 'mask' | 'workMask'>> {
  const { width, height } = target;
  const applied = alignMask(mask, target, o, run.onWarning, scale);
  // one source-size plane at a time: only the working-size planes are kept
  const workMask: Float32Array[] = [];
  for (let i = 0; i < applied.count; i++) workMask.push(await fitMaskPlane(await applied.plane(i), width, height, fit));
  return { mask: applied, workMask };
}

/**
 * The fit, windows and inversions an inversion file holds (a still's file holds one window), for
 * `frames`, the source it was made from: their count and size must be the inversion's.
 */
export function invertedSourceOf(pack: LoadedPack, file: InversionFile, frames: readonly RgbImage[]): InvertedSource & { calls: number } {
  assertSameModel(pack, file.header);
  const h = file.header;
  const { width, height } = frameSize(frames);
  const count = h.clip?.frames ?? 1;
  if (frames.length !== count || width !== h.source.width || height !== h.source.height) {
    throw new Error(`${h.source.path} now gives ${frames.length} frame(s) of ${width}x${height}, but it was inverted as ${count} of ${h.source.width}x${h.source.height}: invert it again`);
  }
  return { fit: h.fit, windows: h.clip?.windows ?? planWindows(1, pack.manifest), inversions: inversionsOf(file), calls: 0 };
}

/**
 * Prepares a swap from a source already inverted (its fit, windows and trajectories), so no model
 * call is spent. `frames` are that source at its own size (the final blend keeps their pixels
 * outside the mask).
 */
export async function preparedFromSource(
  src: InvertedSource & { calls: number },
  frames: readonly RgbImage[],
  mask: Mask,
  o: MaskOptions,
  run: RunOptions = {},
): Promise<PreparedSwap> {
  const { width, height } = frameSize(frames);
  return { frames, ...(await sourceFromInverted(src, { width, height, count: frames.length }, mask, o, run)) };
}

/**
 * The swap source of an already inverted source of `size` (its size and frame count), without its
 * frames: the mask shaped at that size and fitted with the inversion's plan. A mask of another
 * size is brought to it by `scale` when given (see alignMask).
 */
export async function sourceFromInverted(
  src: InvertedSource & { calls: number },
  size: { width: number; height: number; count: number },
  mask: Mask,
  o: MaskOptions,
  run: RunOptions = {},
  scale?: PlaneScaler,
): Promise<SwapSource> {
  const shaped = await shapeMask({ width: size.width, height: size.height, frames: size.count }, mask, o, src.fit, run, scale);
  return { ...size, ...shaped, fit: src.fit, windows: src.windows, inversions: src.inversions, calls: src.calls };
}

/**
 * The swap source a saved inversion gives (its fit, windows and trajectories; no model call), for
 * a source that is still the one inverted (size and frame count from the file's header).
 */
export function sourceFromInversion(pack: LoadedPack, file: InversionFile, mask: Mask, o: MaskOptions, run: RunOptions = {}): Promise<SwapSource> {
  assertSameModel(pack, file.header);
  const h = file.header;
  const src = { fit: h.fit, windows: h.clip?.windows ?? planWindows(1, pack.manifest), inversions: inversionsOf(file), calls: 0 };
  return sourceFromInverted(src, { width: h.source.width, height: h.source.height, count: h.clip?.frames ?? 1 }, mask, o, run);
}

/**
 * Prepares a swap from a saved inversion. `frames` are the source the inversion was made from;
 * their count and size must be the inversion's.
 */
export async function preparedFromInversion(
  pack: LoadedPack,
  file: InversionFile,
  frames: readonly RgbImage[],
  mask: Mask,
  o: MaskOptions,
  run: RunOptions = {},
): Promise<PreparedSwap> {
  return preparedFromSource(invertedSourceOf(pack, file, frames), frames, mask, o, run);
}

/** Swaps a prepared source for one target: frames at the source size, the source's outside the mask. */
export async function swapPrepared(pack: LoadedPack, p: PreparedSwap, s: SwapLatentSettings, run: RunOptions = {}): Promise<SwappedFrames> {
  // 1. swap inside the mask on each window's latent grid; decode and join the windows
  const edited = await swapToWork(pack, p, s, run);
  // 2. restore the source size and keep the source wherever the mask is 0
  const out: RgbImage[] = [];
  for await (const f of blendSwapped(p, edited.frames, p.frames)) out.push(f);
  return { frames: out, mask: await shapedPlanes(p.mask), windows: p.windows, calls: edited.calls };
}

/**
 * The swap itself for one target: inside the mask on each window's latent grid, decoded, the
 * windows joined; frames at the working size (blendSwapped finishes them), and the model calls
 * including the inversion's.
 */
export async function swapToWork(pack: LoadedPack, p: SwapSource, s: SwapLatentSettings, run: RunOptions = {}): Promise<{ frames: RgbImage[]; calls: number }> {
  const geometry = { spatial: pack.manifest.latent.spatialCompression, temporal: pack.manifest.latent.temporalCompression };
  let calls = p.calls;
  const frames = await sampleWorkWindows(pack, { frames: p.count, windows: p.windows, inversions: p.inversions }, run, async (inv, r, w) => {
    const planes = p.workMask.length === 1 ? p.workMask : windowFrames(p.workMask, w);
    const m = latentMask(planes, p.fit.workWidth, p.fit.workHeight, w.padded, inv.latentShape, geometry); // [F', H', W']
    const swapped = await swapLatent(pack, inv, m, s, r);
    calls += swapped.calls;
    return swapped.z;
  });
  return { frames, calls };
}

/**
 * The final pixel blend, one frame at a time: each edited working-size frame is restored to the
 * source size and blended with the source frame, taken from `source` as it comes (an array, or a
 * stream from the decoder), so that wherever the mask is 0 the pixel is exactly the source's.
 * Throws when `source` gives another frame count or size than the swap was prepared for.
 */
export async function* blendSwapped(p: SwapSource, edited: readonly RgbImage[], source: Iterable<RgbImage> | AsyncIterable<RgbImage>): AsyncGenerator<RgbImage, void, undefined> {
  let f = 0;
  for await (const src of source) {
    if (f >= p.count) throw new Error(`The source now gives more than the ${p.count} frame(s) the swap was prepared for: invert it again`);
    if (src.width !== p.width || src.height !== p.height) throw new Error(`Source frame ${f} is ${src.width}x${src.height} but the swap was prepared for ${p.width}x${p.height}`);
    const restored = await restoreImage(edited[f]!, p.fit);
    yield blendMasked(src, restored, await p.mask.plane(f));
    f += 1;
  }
  if (f !== p.count) throw new Error(`The source gave ${f} frame(s) but the swap was prepared for ${p.count}: invert it again`);
}

/** Swaps what the mask covers in `frames` (one still, or a clip's frames) for the target prompt. */
export async function swapFrames(pack: LoadedPack, frames: readonly RgbImage[], mask: Mask, s: SwapSettings, run: RunOptions = {}): Promise<SwappedFrames> {
  return swapPrepared(pack, await prepareSwap(pack, frames, mask, s, run), s, run);
}

/** Swaps inside the mask of one still. */
export async function swapImage(pack: LoadedPack, source: RgbImage, mask: Mask, s: SwapSettings, run: RunOptions = {}): Promise<{ image: RgbImage; mask: Float32Array; calls: number }> {
  const r = await swapFrames(pack, [source], mask, s, run);
  return { image: r.frames[0]!, mask: r.mask.frames[0]!, calls: r.calls };
}

/** Swaps inside the mask of a clip; the result keeps the clip's frame count and rate. */
export async function swapClip(pack: LoadedPack, clip: ClipFrames, mask: Mask, s: SwapSettings, run: RunOptions = {}): Promise<SwappedFrames & { rate: ClipFrames['rate'] }> {
  const r = await swapFrames(pack, clip.frames, mask, s, run);
  return { ...r, rate: clip.rate };
}
