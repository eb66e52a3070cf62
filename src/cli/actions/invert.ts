import { assertPromptFits } from '../../edit/velocity.js';
import { UserError } from '../errors.js';
import type { GlobalArgs, ModelArgs, PresetArgs, SolverArgs } from '../options.js';
import { runInWorker } from '../run-in-worker.js';
import { checkInput, checkOutput, checkThreads, printedConfig, reportDone, resolvePack, settingsFrom, userCheck } from './common.js';

export interface InvertArgs extends GlobalArgs, ModelArgs, SolverArgs, PresetArgs {
  image: string;
  'source-prompt': string;
  output: string;
}

export async function invertAction(a: InvertArgs): Promise<void> {
  const threads = checkThreads(a);
  const pack = await resolvePack(a);
  const settings = await settingsFrom(pack, 'invert', a);
  await userCheck(() => assertPromptFits(pack, a['source-prompt'], '--source-prompt'));
  const { isInversion } = await checkInput(a.image);
  if (isInversion) throw new UserError(`${a.image} is already an inversion file; invert takes an image`);
  const { steps, solver, fit } = settings;
  if (printedConfig(a, { command: 'invert', model: pack.manifest.id, sourcePrompt: a['source-prompt'], settings: { steps, solver, fit } })) return;
  await checkOutput(a.output);
  const summary = await runInWorker(
    { kind: 'invert', packDir: pack.dir, input: a.image, output: a.output, sourcePrompt: a['source-prompt'], settings, ...(threads ? { threads } : {}) },
    a,
  );
  reportDone('wrote inversion', summary, a.quiet);
}
