import { planSwap } from '../../jobs/plan-swap.js';
import type { SwapRequest } from '../../jobs/request.js';
import type { GlobalArgs, PresetArgs } from '../options.js';
import { runInWorker } from '../run-in-worker.js';
import { printedConfig, reportDone } from './common.js';

/** The parsed command line: yargs gives every flag by its camelCase name too, which is the request. */
export type SwapArgs = GlobalArgs & PresetArgs & SwapRequest;

export async function swapAction(a: SwapArgs): Promise<void> {
  const plan = await planSwap(a, (config) => printedConfig(a, config));
  if (!plan) return;
  const summary = await runInWorker(plan.spec, a);
  reportDone('wrote', summary, a, plan.config);
}
