import { planEdit } from '../../jobs/plan-edit.js';
import type { EditRequest } from '../../jobs/request.js';
import type { GlobalArgs, PresetArgs } from '../options.js';
import { runInWorker } from '../run-in-worker.js';
import { printedConfig, reportDone } from './common.js';

/** The parsed command line: yargs gives every flag by its camelCase name too, which is the request. */
export type EditCommandArgs = GlobalArgs & PresetArgs & EditRequest;

export async function editAction(a: EditCommandArgs): Promise<void> {
  const plan = await planEdit(a, (config) => printedConfig(a, config));
  if (!plan) return;
  const summary = await runInWorker(plan.spec, a);
  reportDone('wrote', summary, a, plan.config);
}
