import { planEdit } from '../../jobs/plan-edit.js';
import type { EditRequest } from '../../jobs/request.js';
import type { GlobalArgs, PresetArgs } from '../options.js';
import type { CompareArgs } from '../compare.js';
import { planWithWorker } from '../early-worker.js';
import { runPlan } from '../run-plan.js';
import { printedConfig } from './common.js';

/** The parsed command line: yargs gives every flag by its camelCase name too, which is the request. */
export type EditCommandArgs = GlobalArgs & PresetArgs & CompareArgs & EditRequest;

export async function editAction(a: EditCommandArgs): Promise<void> {
  await planWithWorker(a, () => planEdit(a, (config) => printedConfig(a, config)), (plan, pool) => runPlan(a, plan, pool));
}
