import { planSharing } from '../../attention/plan.js';
import { assertEditable } from '../../edit/edit.js';
import { assertPromptsFit } from '../../edit/velocity.js';
import type { EditArgs, GlobalArgs, InputLimitArgs, ModelArgs, NegativePromptArgs, OutputArgs, PresetArgs, ShiftArgs, SolverArgs, VideoArgs } from '../options.js';
import { UserError } from '../errors.js';
import { runInWorker } from '../run-in-worker.js';
import { checkCompare, compareMaskFile, compareTarget, writeCompare, type CompareArgs } from '../compare.js';
import {
  assertSourcePromptFor,
  assertSourceUnchanged,
  checkInputPixels,
  checkMediaOutput,
  checkOutput,
  checkPackWindow,
  checkModelFlags,
  checkVideoFlags,
  checkWriteTargets,
  inspectInput,
  inversionInput,
  jobExtras,
  printedConfig,
  reportDone,
  resolvePack,
  settingsFrom,
  userCheck,
} from './common.js';

export interface EditCommandArgs extends GlobalArgs, ModelArgs, SolverArgs, ShiftArgs, EditArgs, NegativePromptArgs, VideoArgs, PresetArgs, OutputArgs, InputLimitArgs, CompareArgs {
  input: string;
  'source-prompt': string | undefined;
  'target-prompt': string;
  'save-inversion': string | undefined;
  'save-mask': string | undefined;
}

export async function editAction(a: EditCommandArgs): Promise<void> {
  const model = checkModelFlags(a);
  checkVideoFlags(a);
  const pack = await resolvePack(a);
  checkPackWindow(a, pack);
  await userCheck(() => assertEditable(pack));
  const settings = await settingsFrom(pack, 'edit', a);
  const input = await inspectInput(a.input, a.ffmpeg, { maxInputPixels: a['max-input-pixels'] });
  const isInversion = input.kind === 'inversion';
  // An inversion file fixes the steps, solver and source prompt: flags must not disagree with it.
  const header = isInversion ? await inversionInput(a, pack, 'edit') : null;
  if (header && settings.autoMask > 0) await userCheck(() => assertSourceUnchanged(header, 'edit'));
  const steps = header ? header.settings.steps : settings.steps;
  await userCheck(() => planSharing({ layers: settings.shareLayers, fraction: settings.shareSteps }, pack.manifest.transformer.contextLayers, steps));
  const negative = a['negative-prompt'];
  const prompts = [
    { text: a['target-prompt'], what: '--target-prompt' },
    ...(header ? [] : [{ text: a['source-prompt'] ?? '', what: '--source-prompt' }]),
    ...(negative !== undefined ? [{ text: negative, what: '--negative-prompt' }] : []),
  ];
  await userCheck(() => assertPromptsFit(pack, prompts));
  const used = header ? { ...settings, steps: header.settings.steps, solver: header.settings.solver, ...(header.settings.shift !== undefined ? { shift: header.settings.shift } : {}) } : settings;
  const sourcePrompt = header ? header.settings.sourcePrompt : (a['source-prompt'] ?? '');
  if (printedConfig(a, { command: 'edit', model: pack.manifest.id, sourcePrompt, targetPrompt: a['target-prompt'], settings: used })) return;
  // guidance against the source prompt needs one (a negative prompt takes its place)
  if (negative === undefined) assertSourcePromptFor(settings, sourcePrompt, a['guide-against'] !== undefined, header ? a.input : undefined);
  if (settings.autoMask > 0 && sourcePrompt.trim() === a['target-prompt'].trim()) {
    throw new UserError(`The source and target prompts are the same, so the automatic mask (--auto-mask ${settings.autoMask}) has nothing to mark: change --target-prompt to say what should differ`);
  }
  const saveMask = a['save-mask'];
  if (saveMask !== undefined && !(settings.autoMask > 0)) throw new UserError(`--save-mask saves the automatic mask, which is off for this edit: give --auto-mask θ (0 < θ < 1) as well`);
  // what it reads and writes: the input, and from an inversion the source its automatic mask keeps
  const source = header && settings.autoMask > 0 ? header.source.path : null;
  await checkWriteTargets({
    outputs: [
      { path: a.output, flag: '-o' },
      ...(a['save-inversion'] ? [{ path: a['save-inversion'], flag: '--save-inversion' }] : []),
      ...(saveMask !== undefined ? [{ path: saveMask, flag: '--save-mask' }] : []),
      ...compareTarget(a),
    ],
    inputs: [
      { path: a.input, what: 'the input' },
      ...(header ? [{ path: header.source.path, what: "the inversion's source" }] : []),
    ],
    force: a.force,
  });
  if (source) await checkInputPixels(source, a['max-input-pixels'], a.ffmpeg);
  await checkMediaOutput(a.output, header ? header.clip !== undefined : input.kind === 'video', a.ffmpeg);
  if (a['save-inversion']) await checkOutput(a['save-inversion']);
  if (saveMask !== undefined) await checkMediaOutput(saveMask, header ? header.clip !== undefined : input.kind === 'video', a.ffmpeg);
  await checkCompare(a, header ? header.source.path : a.input);
  const maskFile = compareMaskFile(a, settings.autoMask > 0, saveMask, header ? header.clip !== undefined : input.kind === 'video');
  const summary = await runInWorker(
    {
      kind: 'edit',
      packDir: pack.dir,
      input: a.input,
      inputIsInversion: isInversion,
      inputIsVideo: input.kind === 'video',
      output: a.output,
      sourcePrompt: a['source-prompt'] ?? '',
      targetPrompt: a['target-prompt'],
      settings,
      ...(a['save-inversion'] ? { saveInversion: a['save-inversion'] } : {}),
      ...(maskFile !== undefined ? { saveMask: maskFile } : {}),
      maxInputPixels: a['max-input-pixels'],
      ...jobExtras(a, model),
    },
    a,
  );
  reportDone('wrote', summary, a.quiet);
  await writeCompare(a, { source: header ? header.source.path : a.input, result: a.output, label: 'edit', ...(maskFile ? { mask: { path: maskFile } } : {}) }, maskFile !== saveMask ? maskFile : undefined);
}
