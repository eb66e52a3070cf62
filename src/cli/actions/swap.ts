import { planSwap } from '../../jobs/plan-swap.js';
import type { SwapRequest } from '../../jobs/request.js';
import type { GlobalArgs, PresetArgs } from '../options.js';
import type { CompareArgs } from '../compare.js';
import { planWithWorker } from '../early-worker.js';
import { runPlan } from '../run-plan.js';
import { printedConfig } from './common.js';

/** The parsed command line: yargs gives every flag by its camelCase name too, which is the request. */
export type SwapArgs = GlobalArgs & PresetArgs & CompareArgs & SwapRequest;

export async function swapAction(a: SwapArgs): Promise<void> {
  await planWithWorker(a, () => planSwap(a, (config) => printedConfig(a, config)), (plan, pool) => runPlan(a, plan, pool));
}
