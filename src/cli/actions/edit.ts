import { planEdit } from '../../jobs/plan-edit.js';
import type { EditRequest } from '../../jobs/request.js';
import type { GlobalArgs, PresetArgs } from '../options.js';
import { planCompare, withCompare, type CompareArgs } from '../compare.js';
import { runInWorker } from '../run-in-worker.js';
import { printedConfig, reportDone } from './common.js';

/** The parsed command line: yargs gives every flag by its camelCase name too, which is the request. */
export type EditCommandArgs = GlobalArgs & PresetArgs & CompareArgs & EditRequest;

export async function editAction(a: EditCommandArgs): Promise<void> {
  const plan = await planEdit(a, (config) => printedConfig(a, config));
  if (!plan) return;
  const compare = await planCompare(a, plan.spec);
  const summary = await runInWorker(compare.spec, a).catch(async (err: unknown) => {
    await compare.discard();
    throw err;
  });
  await compare.write();
  reportDone('wrote', withCompare(summary, a, compare), a, plan.config);
}
