/** swap: replace what a mask covers in an image, a clip or an inversion file of one. */
import { DEFAULT_MAX_INPUT_PIXELS } from '../media/limits.js';
import type { MaskOptions } from '../media/mask.js';
import {
  assertPresetFor,
  assertSourcePromptFor,
  assertSourceUnchanged,
  checkEditable,
  checkInputPixels,
  checkMaskAhead,
  checkMediaOutput,
  checkModelFlags,
  checkPackWindow,
  checkPrompts,
  checkSharing,
  checkVideoFlags,
  checkWriteTargets,
  groupSourceOf,
  inspectInput,
  inversionInput,
  jobExtras,
  presetFrom,
  recipeFrom,
  resolvePack,
  settingsOfRecipe,
  userCheck,
} from './checks.js';
import { EXIT, UserError } from './errors.js';
import type { ConfigStop, Plan } from './plan.js';
import { checkRequest, maskedTaskOf, type SwapRequest } from './request.js';

/**
 * The mask, checked first: a swap regenerates only what the mask covers. A swap preset's missing
 * mask is refused in the preset's own words.
 */
async function maskOf(r: SwapRequest): Promise<string> {
  if (r.mask !== undefined) return r.mask;
  const preset = await presetFrom(r);
  assertPresetFor(preset, r.preset, 'swap');
  const what = 'white = edit: one image for every frame, or for a clip a folder of per-frame PNGs or a mask video';
  if (preset?.recipe.command === 'swap') {
    throw new UserError(`Preset "${r.preset}" is a swap: it regenerates only what a mask covers and keeps the source's pixels elsewhere, so it needs one: add --mask FILE (${what})`, EXIT.usage);
  }
  throw new UserError(`flowedit swap replaces what a mask covers: add --mask FILE (${what}), or run flowedit edit to edit everywhere`, EXIT.usage);
}

export function planSwap(r: SwapRequest): Promise<Plan>;
export function planSwap(r: SwapRequest, stop: ConfigStop): Promise<Plan | undefined>;
export async function planSwap(r: SwapRequest, stop?: ConfigStop): Promise<Plan | undefined> {
  checkRequest(r, ['input', 'targetPrompt', 'output']);
  const mask = await maskOf(r);
  const maxInputPixels = r.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const invertMask = r.invertMask ?? false;
  // 1. settings and pack, before anything is read
  const model = checkModelFlags(r);
  checkVideoFlags(r);
  const pack = await resolvePack(r);
  checkPackWindow(r, pack);
  await checkEditable(pack);
  // flowedit's defaults < pack defaults < preset < request, for the settings and the mask's shape alike
  const recipe = await recipeFrom(r, 'swap');
  const negative = r.negativePrompt;
  const negativeField = negative !== undefined ? { negativePrompt: negative } : {};
  const settings = await settingsOfRecipe(pack, maskedTaskOf(r), recipe, groupSourceOf(r));
  const prompts = [
    { text: r.sourcePrompt ?? '', what: '--source-prompt' },
    { text: r.targetPrompt, what: '--target-prompt' },
    ...(negative !== undefined ? [{ text: negative, what: '--negative-prompt' }] : []),
  ];
  await checkPrompts(pack, prompts, { text: negative });
  const maskOptions: MaskOptions = { grow: settings.maskGrow, feather: settings.maskFeather, invert: invertMask };
  // 2. the input: an image, a clip, or an inversion of one (which fixes steps, solver and source prompt);
  // the mask is read beside it (each ffmpeg run is mostly start-up), its problems reported after the input's
  const maskCheck = checkMaskAhead(mask, { maxInputPixels, ffmpeg: r.ffmpeg, invert: invertMask });
  const input = await inspectInput(r.input, r.ffmpeg, { maxInputPixels });
  const header = input.kind === 'inversion' ? await inversionInput(r, pack, 'swap') : null;
  if (header) await userCheck(() => assertSourceUnchanged(header));
  const used = header ? { ...settings, steps: header.settings.steps, solver: header.settings.solver, ...(header.settings.shift !== undefined ? { shift: header.settings.shift } : {}) } : settings;
  await checkSharing(pack, used);
  const sourcePrompt = header ? header.settings.sourcePrompt : (r.sourcePrompt ?? '');
  const config = { command: 'swap', model: pack.manifest.id, sourcePrompt, targetPrompt: r.targetPrompt, ...negativeField, settings: used, mask: maskOptions };
  if (stop?.(config)) return undefined;
  // guidance against the source prompt needs one (a negative prompt takes its place)
  if (negative === undefined) assertSourcePromptFor(used, sourcePrompt, r.guideAgainst !== undefined, header ? r.input : undefined);
  const isVideo = header ? header.clip !== undefined : input.kind === 'video';
  const frames = header ? (header.clip?.frames ?? 1) : input.frames;
  // 3. nothing it reads is written over; then the source and the mask, probed
  const source = header ? header.source.path : r.input;
  await checkWriteTargets({
    outputs: [{ path: r.output, flag: '-o' }],
    inputs: [
      { path: r.input, what: 'the input' },
      { path: mask, what: 'the mask' },
      ...(header ? [{ path: source, what: "the inversion's source" }] : []),
    ],
    force: r.force ?? false,
  });
  if (header) await checkInputPixels(source, maxInputPixels, r.ffmpeg); // the input itself was held to it above
  // the mask: within the limit, selecting something, its frame count agreeing with the input's
  await maskCheck.fits(frames);
  // 4. the output can be written
  await checkMediaOutput(r.output, isVideo, r.ffmpeg);
  const spec = {
    kind: 'swap' as const,
    packDir: pack.dir,
    input: r.input,
    inputIsInversion: header !== null,
    inputIsVideo: isVideo,
    mask,
    maskOptions,
    output: r.output,
    sourcePrompt,
    targetPrompt: r.targetPrompt,
    ...negativeField,
    settings: used,
    maxInputPixels,
    ...jobExtras(r, model),
  };
  return { spec, config };
}
