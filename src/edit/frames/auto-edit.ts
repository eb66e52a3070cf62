/**
 * Text-guided edit without a drawn mask: the mask is estimated from where the source and target
 * prompts make the model disagree (auto-mask.ts), then the masked swap (swap-jobs.ts) edits inside
 * it under the target prompt and keeps every pixel outside it exactly.
 */
import type { RgbImage } from '../../media/image.js';
import type { Mask, MaskOptions } from '../../media/mask.js';
import type { LoadedPack } from '../../model/pack.js';
import { estimateEditMask, estimateEditMaskWork, MASK_PROBE, restoreMaskPlane, type InvertedSource } from './auto-mask.js';
import { assertSameModel, editFrames, invertFrames, type ClipInversion } from './pipeline.js';
import type { RunOptions } from '../latent/progress.js';
import { inversionsOf, type InversionFile, type InversionHeader } from './inversion-file.js';
import { editSettingsFrom, type Settings } from './settings.js';
import type { SwapLatentSettings } from '../latent/swap.js';
import { planWindows } from './windows.js';
import { invertedSourceOf, preparedFromSource, sourceFromInverted, swapPrepared, swapSettingsFrom, swapToWork, type SwappedFrames, type SwapSource } from './swap-jobs.js';

/** The prompts of an edit: the source's, which it was inverted under, and the target's. */
export interface EditPrompts {
  readonly sourcePrompt: string;
  readonly targetPrompt: string;
}

export interface AutoMaskEditSettings extends SwapLatentSettings {
  readonly sourcePrompt: string;
  /** θ: share of the largest prompt disagreement a latent position needs to be edited, in (0, 1) */
  readonly threshold: number;
  /** grow and feather (pixels at the source size) of the estimated mask */
  readonly mask: MaskOptions;
}

export interface AutoMaskEdited extends SwappedFrames {
  /** the mask as estimated, before it is grown and feathered, at the source size */
  readonly estimated: Mask;
}

/** Edits an inverted source (frames at the source size) inside the mask its prompts give. */
export async function editInEstimatedMask(
  pack: LoadedPack,
  src: InvertedSource & { calls: number },
  frames: readonly RgbImage[],
  s: AutoMaskEditSettings,
  run: RunOptions = {},
): Promise<AutoMaskEdited> {
  // 1. estimate the mask from the prompts on each window's source latent
  const estimated = await estimateEditMask(pack, src, frames.length, { source: s.sourcePrompt, target: s.targetPrompt }, s.threshold, run);
  const maskCalls = 2 * MASK_PROBE.draws * src.inversions.length;
  // 2. swap inside it, keeping the source outside
  const prepared = await preparedFromSource(src, frames, estimated, s.mask, run);
  const out = await swapPrepared(pack, prepared, s, run);
  return { ...out, calls: out.calls + maskCalls, estimated };
}

/**
 * editInversionInAutoMask without the source's frames: the edit at the working size and the swap
 * source (size, frame count and mask from the file's header) whose blendSwapped finishes it with
 * the source frames, e.g. streamed from the decoder.
 */
export async function editInversionInAutoMaskWork(
  pack: LoadedPack,
  file: InversionFile,
  s: Settings,
  targetPrompt: string,
  run: RunOptions = {},
): Promise<{ source: SwapSource; frames: RgbImage[]; calls: number; /** the estimated mask, at the working size */ estimated: Mask }> {
  assertSameModel(pack, file.header);
  const h: InversionHeader = file.header;
  const src = { fit: h.fit, windows: h.clip?.windows ?? planWindows(1, pack.manifest), inversions: inversionsOf(file), calls: 0 };
  const size = { width: h.source.width, height: h.source.height, count: h.clip?.frames ?? 1 };
  const settings = autoMaskEditSettings(s, { sourcePrompt: h.settings.sourcePrompt, targetPrompt });
  // 1. estimate the mask from the prompts on each window's source latent
  const estimated = await estimateEditMaskWork(pack, src, size.count, { source: settings.sourcePrompt, target: settings.targetPrompt }, settings.threshold, run);
  const maskCalls = 2 * MASK_PROBE.draws * src.inversions.length;
  // 2. swap inside it, at the working size; each plane reaches the source size only when the blend takes it
  const source = await sourceFromInverted(src, size, estimated, settings.mask, run, restoreMaskPlane(src.fit));
  const out = await swapToWork(pack, source, settings, run);
  return { source, frames: out.frames, calls: out.calls + maskCalls, estimated };
}

/** The automatic-mask edit's settings from resolved edit settings (`s.autoMask` > 0 is θ). */
export function autoMaskEditSettings(s: Settings, prompts: EditPrompts): AutoMaskEditSettings {
  return { ...swapSettingsFrom(s, prompts, { grow: s.maskGrow, feather: s.maskFeather, invert: false }), threshold: s.autoMask };
}

/**
 * Edits from an inversion file in the mask its prompts give, with resolved edit settings
 * (`s.autoMask` > 0 is θ). `frames` are the source the file was made from, at its own size.
 */
export function editInversionInAutoMask(
  pack: LoadedPack,
  file: InversionFile,
  frames: readonly RgbImage[],
  s: Settings,
  targetPrompt: string,
  run: RunOptions = {},
): Promise<AutoMaskEdited> {
  const src = invertedSourceOf(pack, file, frames);
  const settings = autoMaskEditSettings(s, { sourcePrompt: file.header.settings.sourcePrompt, targetPrompt });
  return editInEstimatedMask(pack, src, frames, settings, run);
}

/**
 * A text edit of an inverted source (`frames`, one still or a clip's frames, at their own size) as
 * `flowedit edit` runs it with resolved settings `st`: inside the mask the prompts give when
 * st.autoMask > 0, else everywhere with shared context.
 */
export async function textEditInverted(
  pack: LoadedPack,
  ci: ClipInversion,
  frames: readonly RgbImage[],
  prompts: EditPrompts,
  st: Settings,
  run: RunOptions = {},
): Promise<RgbImage[]> {
  if (st.autoMask > 0) return (await editInEstimatedMask(pack, ci, frames, autoMaskEditSettings(st, prompts), run)).frames;
  return (await editFrames(pack, ci, editSettingsFrom(st, prompts.targetPrompt), run)).frames;
}

/** The same from the frames themselves: inverted first under the source prompt. */
export async function textEditFrames(
  pack: LoadedPack,
  frames: readonly RgbImage[],
  prompts: EditPrompts,
  st: Settings,
  run: RunOptions = {},
): Promise<RgbImage[]> {
  const ci = await invertFrames(pack, frames, { sourcePrompt: prompts.sourcePrompt, steps: st.steps, solver: st.solver, ...(st.shift !== undefined ? { shift: st.shift } : {}), fit: st.fit }, run);
  return textEditInverted(pack, ci, frames, prompts, st, run);
}
