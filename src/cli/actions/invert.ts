import { planInvert } from '../../jobs/plan-invert.js';
import type { InvertRequest } from '../../jobs/request.js';
import type { GlobalArgs, PresetArgs } from '../options.js';
import { runInWorker } from '../run-in-worker.js';
import { printedConfig, reportDone } from './common.js';

/** The parsed command line (camelCase keys as the request has them); the input is the `image` positional. */
export type InvertArgs = GlobalArgs & PresetArgs & Omit<InvertRequest, 'input'> & { image: string };

export async function invertAction(a: InvertArgs): Promise<void> {
  const plan = await planInvert({ ...a, input: a.image }, (config) => printedConfig(a, config));
  if (!plan) return;
  const summary = await runInWorker(plan.spec, a);
  reportDone('wrote inversion', summary, a, plan.config);
}
