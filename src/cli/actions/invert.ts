import { assertPromptsFit } from '../../edit/velocity.js';
import { UserError } from '../errors.js';
import type { GlobalArgs, InputLimitArgs, ModelArgs, OutputArgs, PresetArgs, ShiftArgs, SolverArgs, VideoArgs } from '../options.js';
import { runInWorker } from '../run-in-worker.js';
import { checkOutput, checkPackWindow, checkModelFlags, checkVideoFlags, checkWriteTargets, inspectInput, jobExtras, printedConfig, reportDone, resolvePack, settingsFrom, userCheck } from './common.js';

export interface InvertArgs extends GlobalArgs, ModelArgs, SolverArgs, ShiftArgs, VideoArgs, PresetArgs, OutputArgs, InputLimitArgs {
  image: string;
  'source-prompt': string;
}

export async function invertAction(a: InvertArgs): Promise<void> {
  const model = checkModelFlags(a);
  checkVideoFlags(a);
  const pack = await resolvePack(a);
  checkPackWindow(a, pack);
  const settings = await settingsFrom(pack, 'invert', a);
  await userCheck(() => assertPromptsFit(pack, [{ text: a['source-prompt'], what: '--source-prompt' }]));
  const input = await inspectInput(a.image, a.ffmpeg, { maxInputPixels: a['max-input-pixels'] });
  if (input.kind === 'inversion') throw new UserError(`${a.image} is already an inversion file; invert takes an image or a clip`);
  const { steps, solver, fit, shift } = settings;
  const config = { command: 'invert', model: pack.manifest.id, sourcePrompt: a['source-prompt'], settings: { steps, solver, fit, ...(shift !== undefined ? { shift } : {}) } };
  if (printedConfig(a, config)) return;
  await checkWriteTargets({ outputs: [{ path: a.output, flag: '-o' }], inputs: [{ path: a.image, what: 'the input' }], force: a.force });
  await checkOutput(a.output);
  const summary = await runInWorker(
    {
      kind: 'invert',
      packDir: pack.dir,
      input: a.image,
      inputIsVideo: input.kind === 'video',
      output: a.output,
      sourcePrompt: a['source-prompt'],
      settings,
      maxInputPixels: a['max-input-pixels'],
      ...jobExtras(a, model),
    },
    a,
  );
  reportDone('wrote inversion', summary, a, config);
}
