import { planInvert } from '../../jobs/plan-invert.js';
import type { InvertRequest } from '../../jobs/request.js';
import type { GlobalArgs, PresetArgs } from '../options.js';
import { runPlan } from '../run-plan.js';
import { printedConfig } from './common.js';

/** The parsed command line (camelCase keys as the request has them); the input is the `image` positional. */
export type InvertArgs = GlobalArgs & PresetArgs & Omit<InvertRequest, 'input'> & { image: string };

export async function invertAction(a: InvertArgs): Promise<void> {
  const plan = await planInvert({ ...a, input: a.image }, (config) => printedConfig(a, config));
  if (!plan) return;
  await runPlan(a, plan, 'wrote inversion');
}
