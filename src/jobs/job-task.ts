/** A job (JobSpec) as a pool task: run on the worker's pack, its load time counted in the summary. */
import type { Progress } from '../edit/latent/progress.js';
import type { JobSpec, JobSummary } from './job.js';
import { defineTask } from './pool-task.js';
import { runJob } from './run-job.js';

export const jobTask = defineTask<JobSpec, JobSummary, Progress>(import.meta.url, 'jobTask', async (pack, spec, run) => {
  const summary = await runJob(spec, run, pack);
  return { ...summary, seconds: summary.seconds + run.loadSeconds, loadSeconds: run.loadSeconds };
});
