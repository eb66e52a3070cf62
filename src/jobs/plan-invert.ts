/** invert: an image or a clip to noise, written as an inversion file. */
import { assertPromptsFit } from '../edit/latent/velocity.js';
import { DEFAULT_MAX_INPUT_PIXELS } from '../media/limits.js';
import { checkModelFlags, checkOutput, checkPackWindow, checkVideoFlags, checkWriteTargets, inspectInput, jobExtras, resolvePack, settingsFrom, userCheck } from './checks.js';
import { UserError } from './errors.js';
import type { ConfigStop, Plan } from './plan.js';
import { checkRequest, type InvertRequest } from './request.js';

export function planInvert(r: InvertRequest): Promise<Plan>;
export function planInvert(r: InvertRequest, stop: ConfigStop): Promise<Plan | undefined>;
export async function planInvert(r: InvertRequest, stop?: ConfigStop): Promise<Plan | undefined> {
  checkRequest(r, ['input', 'output']);
  const maxInputPixels = r.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const sourcePrompt = r.sourcePrompt ?? '';
  const model = checkModelFlags(r);
  checkVideoFlags(r);
  const pack = await resolvePack(r);
  checkPackWindow(r, pack);
  const settings = await settingsFrom(pack, 'invert', r);
  await userCheck(() => assertPromptsFit(pack, [{ text: sourcePrompt, what: '--source-prompt' }]));
  const input = await inspectInput(r.input, r.ffmpeg, { maxInputPixels });
  if (input.kind === 'inversion') throw new UserError(`${r.input} is already an inversion file; invert takes an image or a clip`);
  const { steps, solver, fit, shift } = settings;
  const config = { command: 'invert', model: pack.manifest.id, sourcePrompt, settings: { steps, solver, fit, ...(shift !== undefined ? { shift } : {}) } };
  if (stop?.(config)) return undefined;
  await checkWriteTargets({ outputs: [{ path: r.output, flag: '-o' }], inputs: [{ path: r.input, what: 'the input' }], force: r.force ?? false });
  await checkOutput(r.output);
  const spec = {
    kind: 'invert' as const,
    packDir: pack.dir,
    input: r.input,
    inputIsVideo: input.kind === 'video',
    output: r.output,
    sourcePrompt,
    settings,
    maxInputPixels,
    ...jobExtras(r, model),
  };
  return { spec, config };
}
