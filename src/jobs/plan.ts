/** What a planner gives: the checked job, and the resolved settings `--print-config` shows. */
import type { JobSpec } from './job.js';

export interface Plan {
  /** the job, every check passed: hand it to runJob or a worker pool */
  readonly spec: JobSpec;
  /** what the task would run with (model, prompts, resolved settings), as `--print-config` prints it */
  readonly config: PlanConfig;
}

/** The resolved settings of a plan: always names its command. */
export type PlanConfig = Readonly<Record<string, unknown>> & { readonly command: string };

/**
 * Sees the resolved settings as soon as they are known; returning true stops planning there,
 * before the checks of the input's neighbours and of the outputs (the CLI's --print-config).
 */
export type ConfigStop = (config: PlanConfig) => boolean;
