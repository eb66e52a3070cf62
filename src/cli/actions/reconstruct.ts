import { planReconstruct } from '../../jobs/plan-reconstruct.js';
import type { ReconstructRequest } from '../../jobs/request.js';
import type { GlobalArgs, PresetArgs } from '../options.js';
import type { CompareArgs } from '../compare.js';
import { planWithWorker } from '../early-worker.js';
import { runPlan } from '../run-plan.js';
import { sayDrawnSeed } from '../variants.js';
import { printedConfig } from './common.js';

/** The parsed command line (camelCase keys as the request has them); the input is the `inversion` positional. */
export type ReconstructArgs = GlobalArgs & PresetArgs & CompareArgs & Omit<ReconstructRequest, 'input'> & { inversion: string };

export async function reconstructAction(a: ReconstructArgs): Promise<void> {
  await planWithWorker(a, () => planReconstruct({ ...a, input: a.inversion }, (config) => printedConfig(a, config)), async (plan, pool) => {
    if (plan.spec.kind === 'reconstruct') sayDrawnSeed(a, plan.spec.seed, 1);
    await runPlan(a, plan, pool);
  });
}
