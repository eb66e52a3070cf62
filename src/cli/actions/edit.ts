import { planSharing } from '../../attention/plan.js';
import type { EditArgs, GlobalArgs, ModelArgs, SolverArgs } from '../options.js';
import { runInWorker } from '../run-in-worker.js';
import { checkInput, checkOutput, checkThreads, reportDone, resolvePack, settingsFrom, userCheck } from './common.js';

export interface EditCommandArgs extends GlobalArgs, ModelArgs, SolverArgs, EditArgs {
  input: string;
  'source-prompt': string;
  'target-prompt': string;
  output: string;
  'save-inversion': string | undefined;
}

export async function editAction(a: EditCommandArgs): Promise<void> {
  const threads = checkThreads(a);
  const pack = await resolvePack(a);
  const settings = await settingsFrom(pack, 'edit', a);
  await userCheck(() => planSharing({ layers: settings.shareLayers, fraction: settings.shareSteps }, pack.manifest.transformer.contextLayers, settings.steps));
  const { isInversion } = await checkInput(a.input);
  await checkOutput(a.output);
  if (a['save-inversion']) await checkOutput(a['save-inversion']);
  const summary = await runInWorker(
    {
      kind: 'edit',
      packDir: pack.dir,
      input: a.input,
      inputIsInversion: isInversion,
      output: a.output,
      sourcePrompt: a['source-prompt'],
      targetPrompt: a['target-prompt'],
      settings,
      ...(a['save-inversion'] ? { saveInversion: a['save-inversion'] } : {}),
      ...(threads ? { threads } : {}),
    },
    a,
  );
  reportDone('wrote', summary, a.quiet);
}
