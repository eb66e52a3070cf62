import { planGenerate } from '../../jobs/plan-generate.js';
import type { GenerateRequest } from '../../jobs/request.js';
import type { GlobalArgs, PresetArgs } from '../options.js';
import { planWithWorker } from '../early-worker.js';
import { runPlan } from '../run-plan.js';
import { sayDrawnSeed } from '../variants.js';
import { printedConfig } from './common.js';

/** The parsed command line: yargs gives every flag by its camelCase name too, which is the request. */
export type GenerateArgs = GlobalArgs & PresetArgs & GenerateRequest;

export async function generateAction(a: GenerateArgs): Promise<void> {
  await planWithWorker(a, () => planGenerate(a, (config) => printedConfig(a, config)), async (plan, pool) => {
    if (plan.spec.kind === 'generate') sayDrawnSeed(a, plan.spec.request.seed, plan.spec.variants?.length ?? 1);
    await runPlan(a, plan, pool);
  });
}
