import { planInvert } from '../../jobs/plan-invert.js';
import type { InvertRequest } from '../../jobs/request.js';
import type { GlobalArgs, PresetArgs } from '../options.js';
import { planWithWorker } from '../early-worker.js';
import { runPlan } from '../run-plan.js';
import { printedConfig } from './common.js';

/** The parsed command line (camelCase keys as the request has them); the input is the `image` positional. */
export type InvertArgs = GlobalArgs & PresetArgs & Omit<InvertRequest, 'input'> & { image: string };

export async function invertAction(a: InvertArgs): Promise<void> {
  await planWithWorker(a, () => planInvert({ ...a, input: a.image }, (config) => printedConfig(a, config)), (plan, pool) => runPlan(a, plan, pool, 'wrote inversion'));
}
