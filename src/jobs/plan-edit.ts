/** edit: a text-guided edit of an image, a clip or an inversion file (in the automatic mask when --auto-mask). */
import { DEFAULT_MAX_INPUT_PIXELS } from '../media/limits.js';
import {
  assertSourcePromptFor,
  assertSourceUnchanged,
  checkEditable,
  checkInputPixels,
  checkMediaOutput,
  checkModelFlags,
  checkOutput,
  checkPackWindow,
  checkPrompts,
  checkSharing,
  checkVideoFlags,
  checkWriteTargets,
  inspectInput,
  inversionInput,
  jobExtras,
  resolvePack,
  settingsFrom,
  userCheck,
} from './checks.js';
import { UserError } from './errors.js';
import type { ConfigStop, Plan } from './plan.js';
import { checkRequest, type EditRequest } from './request.js';

export function planEdit(r: EditRequest): Promise<Plan>;
export function planEdit(r: EditRequest, stop: ConfigStop): Promise<Plan | undefined>;
export async function planEdit(r: EditRequest, stop?: ConfigStop): Promise<Plan | undefined> {
  checkRequest(r, ['input', 'targetPrompt', 'output']);
  const maxInputPixels = r.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const model = checkModelFlags(r);
  checkVideoFlags(r);
  const pack = await resolvePack(r);
  checkPackWindow(r, pack);
  await checkEditable(pack);
  const settings = await settingsFrom(pack, 'edit', r);
  const input = await inspectInput(r.input, r.ffmpeg, { maxInputPixels });
  const isInversion = input.kind === 'inversion';
  // An inversion file fixes the steps, solver and source prompt: the request must not disagree with it.
  const header = isInversion ? await inversionInput(r, pack, 'edit') : null;
  if (header && settings.autoMask > 0) await userCheck(() => assertSourceUnchanged(header, 'edit'));
  const steps = header ? header.settings.steps : settings.steps;
  await checkSharing(pack, { ...settings, steps });
  const negative = r.negativePrompt;
  const prompts = [
    { text: r.targetPrompt, what: '--target-prompt' },
    ...(header ? [] : [{ text: r.sourcePrompt ?? '', what: '--source-prompt' }]),
    ...(negative !== undefined ? [{ text: negative, what: '--negative-prompt' }] : []),
  ];
  await checkPrompts(pack, prompts);
  const used = header ? { ...settings, steps: header.settings.steps, solver: header.settings.solver, ...(header.settings.shift !== undefined ? { shift: header.settings.shift } : {}) } : settings;
  const sourcePrompt = header ? header.settings.sourcePrompt : (r.sourcePrompt ?? '');
  const config = { command: 'edit', model: pack.manifest.id, sourcePrompt, targetPrompt: r.targetPrompt, settings: used };
  if (stop?.(config)) return undefined;
  // guidance against the source prompt needs one (a negative prompt takes its place)
  if (negative === undefined) assertSourcePromptFor(settings, sourcePrompt, r.guideAgainst !== undefined, header ? r.input : undefined);
  if (settings.autoMask > 0 && sourcePrompt.trim() === r.targetPrompt.trim()) {
    throw new UserError(`The source and target prompts are the same, so the automatic mask (--auto-mask ${settings.autoMask}) has nothing to mark: change --target-prompt to say what should differ`);
  }
  const saveMask = r.saveMask;
  if (saveMask !== undefined && !(settings.autoMask > 0)) throw new UserError(`--save-mask saves the automatic mask, which is off for this edit: give --auto-mask θ (0 < θ < 1) as well`);
  // what it reads and writes: the input, and from an inversion the source its automatic mask keeps
  const source = header && settings.autoMask > 0 ? header.source.path : null;
  await checkWriteTargets({
    outputs: [
      { path: r.output, flag: '-o' },
      ...(r.saveInversion ? [{ path: r.saveInversion, flag: '--save-inversion' }] : []),
      ...(saveMask !== undefined ? [{ path: saveMask, flag: '--save-mask' }] : []),
    ],
    inputs: [
      { path: r.input, what: 'the input' },
      ...(header ? [{ path: header.source.path, what: "the inversion's source" }] : []),
    ],
    force: r.force ?? false,
  });
  if (source) await checkInputPixels(source, maxInputPixels, r.ffmpeg);
  const isVideo = header ? header.clip !== undefined : input.kind === 'video';
  await checkMediaOutput(r.output, isVideo, r.ffmpeg);
  if (r.saveInversion) await checkOutput(r.saveInversion);
  if (saveMask !== undefined) await checkMediaOutput(saveMask, isVideo, r.ffmpeg);
  const spec = {
    kind: 'edit' as const,
    packDir: pack.dir,
    input: r.input,
    inputIsInversion: isInversion,
    inputIsVideo: input.kind === 'video',
    output: r.output,
    sourcePrompt: r.sourcePrompt ?? '',
    targetPrompt: r.targetPrompt,
    settings,
    ...(r.saveInversion ? { saveInversion: r.saveInversion } : {}),
    ...(saveMask !== undefined ? { saveMask } : {}),
    maxInputPixels,
    ...jobExtras(r, model),
  };
  return { spec, config };
}
