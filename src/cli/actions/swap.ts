import { planSharing } from '../../attention/plan.js';
import { assertEditable } from '../../edit/edit.js';
import { resolveSettings, type MaskedTask } from '../../edit/settings.js';
import { assertNegativePromptFits, assertPromptsFit } from '../../edit/velocity.js';
import { assertMaskFrames, type MaskOptions } from '../../media/mask.js';
import type { EditArgs, GlobalArgs, InputLimitArgs, MaskArgs, ModelArgs, OutputArgs, PresetArgs, ShiftArgs, SolverArgs, VideoArgs } from '../options.js';
import { runInWorker } from '../run-in-worker.js';
import { checkCompare, compareTarget, writeCompare, type CompareArgs } from '../compare.js';
import { EXIT, UserError } from '../errors.js';
import { settingOptions } from '../../batch/recipe.js';
import {
  assertPresetFor,
  assertSourcePromptFor,
  assertSourceUnchanged,
  checkInputPixels,
  checkMediaOutput,
  checkPackWindow,
  checkModelFlags,
  checkVideoFlags,
  checkWriteTargets,
  groupSourceOf,
  inspectInput,
  inspectMask,
  inversionInput,
  jobExtras,
  presetFrom,
  printedConfig,
  recipeFrom,
  reportDone,
  resolvePack,
  userCheck,
} from './common.js';

export interface SwapArgs extends GlobalArgs, ModelArgs, SolverArgs, ShiftArgs, Omit<EditArgs, 'auto-mask'>, VideoArgs, MaskArgs, PresetArgs, OutputArgs, InputLimitArgs, CompareArgs {
  input: string;
  task: MaskedTask;
  'source-prompt': string | undefined;
  'target-prompt': string;
  'negative-prompt': string | undefined;
}

/**
 * --mask, checked first: a swap regenerates only what the mask covers. Not demanded by the flag
 * parser, so that a swap preset's missing mask is refused in the preset's own words.
 */
async function withMask(a: SwapArgs): Promise<SwapArgs & { mask: string }> {
  if (a.mask !== undefined) return { ...a, mask: a.mask };
  const preset = await presetFrom(a);
  assertPresetFor(preset, a.preset, 'swap');
  const what = 'white = edit: one image for every frame, or for a clip a folder of per-frame PNGs or a mask video';
  if (preset?.recipe.command === 'swap') {
    throw new UserError(`Preset "${a.preset}" is a swap: it regenerates only what a mask covers and keeps the source's pixels elsewhere, so it needs one: add --mask FILE (${what})`, EXIT.usage);
  }
  throw new UserError(`flowedit swap replaces what a mask covers: add --mask FILE (${what}), or run flowedit edit to edit everywhere`, EXIT.usage);
}

export async function swapAction(args: SwapArgs): Promise<void> {
  const a = await withMask(args);
  // 1. settings and pack, before anything is read
  const model = checkModelFlags(a);
  checkVideoFlags(a);
  const pack = await resolvePack(a);
  checkPackWindow(a, pack);
  await userCheck(() => assertEditable(pack));
  // flowedit's defaults < pack defaults < --preset < flags, for the settings and the mask's shape alike
  const recipe = await recipeFrom(a, 'swap');
  const negative = a['negative-prompt'];
  const negativeField = negative !== undefined ? { negativePrompt: negative } : {};
  const settings = await userCheck(() => resolveSettings(pack.manifest, a.task, settingOptions(recipe, groupSourceOf(a))));
  await userCheck(() =>
    assertPromptsFit(pack, [
      { text: a['source-prompt'] ?? '', what: '--source-prompt' },
      { text: a['target-prompt'], what: '--target-prompt' },
      ...(negative !== undefined ? [{ text: negative, what: '--negative-prompt' }] : []),
    ]),
  );
  await userCheck(() => assertNegativePromptFits(pack, negative));
  const maskOptions: MaskOptions = { grow: settings.maskGrow, feather: settings.maskFeather, invert: a['invert-mask'] };
  // 2. the input: an image, a clip, or an inversion of one (which fixes steps, solver and source prompt)
  const input = await inspectInput(a.input, a.ffmpeg, { maxInputPixels: a['max-input-pixels'] });
  const header = input.kind === 'inversion' ? await inversionInput(a, pack, 'swap') : null;
  if (header) await userCheck(() => assertSourceUnchanged(header));
  const used = header ? { ...settings, steps: header.settings.steps, solver: header.settings.solver, ...(header.settings.shift !== undefined ? { shift: header.settings.shift } : {}) } : settings;
  await userCheck(() => planSharing({ layers: used.shareLayers, fraction: used.shareSteps }, pack.manifest.transformer.contextLayers, used.steps));
  const sourcePrompt = header ? header.settings.sourcePrompt : (a['source-prompt'] ?? '');
  if (printedConfig(a, { command: 'swap', model: pack.manifest.id, sourcePrompt, targetPrompt: a['target-prompt'], ...negativeField, settings: used, mask: maskOptions })) return;
  // guidance against the source prompt needs one (a negative prompt takes its place)
  if (negative === undefined) assertSourcePromptFor(used, sourcePrompt, a['guide-against'] !== undefined, header ? a.input : undefined);
  const isVideo = header ? header.clip !== undefined : input.kind === 'video';
  const frames = header ? (header.clip?.frames ?? 1) : input.frames;
  // 3. nothing it reads is written over; then the source and the mask, probed
  const source = header ? header.source.path : a.input;
  await checkWriteTargets({
    outputs: [{ path: a.output, flag: '-o' }, ...compareTarget(a)],
    inputs: [
      { path: a.input, what: 'the input' },
      { path: a.mask, what: 'the mask' },
      ...(header ? [{ path: source, what: "the inversion's source" }] : []),
    ],
    force: a.force,
  });
  if (header) await checkInputPixels(source, a['max-input-pixels'], a.ffmpeg); // the input itself was held to it above
  await checkInputPixels(a.mask, a['max-input-pixels'], a.ffmpeg);
  // the mask's frame count must agree with the input's
  const maskFrames = await inspectMask(a.mask, a.ffmpeg, a['invert-mask']);
  // declared counts must agree; decoding may then drop a frame or two of either, which prepareMask absorbs
  await userCheck(() => assertMaskFrames(maskFrames, frames));
  // 4. the output can be written
  await checkMediaOutput(a.output, isVideo, a.ffmpeg);
  await checkCompare(a, source);
  const summary = await runInWorker(
    {
      kind: 'swap',
      packDir: pack.dir,
      input: a.input,
      inputIsInversion: header !== null,
      inputIsVideo: isVideo,
      mask: a.mask,
      maskOptions,
      output: a.output,
      sourcePrompt,
      targetPrompt: a['target-prompt'],
      ...negativeField,
      settings: used,
      maxInputPixels: a['max-input-pixels'],
      ...jobExtras(a, model),
    },
    a,
  );
  reportDone('wrote', summary, a.quiet);
  await writeCompare(a, { source, result: a.output, label: 'swap', mask: { path: a.mask, shape: maskOptions } });
}
