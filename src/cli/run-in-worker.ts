/**
 * Main-thread side of a command's inference: runs its task on a worker pool of one, passes on
 * progress and warnings, and turns Ctrl-C or SIGTERM into a cancel between steps (a second one
 * stops the worker at once). Outputs are written atomically by the worker, so a cancelled or
 * failed run leaves no partial file; a run first sweeps the temporary files an earlier run that
 * was killed outright left beside its outputs.
 */
import { removeTempFiles } from '../media/atomic-file.js';
import type { Profile } from '../media/profile.js';
import type { JobSpec } from '../jobs/job.js';
import { createTaskPool, type TaskPool } from '../jobs/pool.js';
import type { PackRef, PoolTask } from '../jobs/pool-task.js';
import { jobTask } from '../jobs/job-task.js';
import { EXIT, UserError } from './errors.js';
import { jobProgress } from './progress/job-progress.js';
import { progressOutput, type ResultArgs, type RunSummary } from './progress/result.js';

export interface WorkerHooks<P> {
  readonly onProgress: (p: P) => void;
  readonly onWarning: (message: string) => void;
  /** tells the user the run is being cancelled */
  readonly notice: (text: string) => void;
  /** every file the task writes: temporary files beside them are swept before it and after a stop */
  readonly outputs: readonly string[];
  /** asks for the task's profile (--profile) */
  readonly onProfile?: ((p: Profile) => void) | undefined;
}

/**
 * Runs one task on an inference worker, with the signals handled as the module comment says: on
 * `pool` (a pool of one the command started early, see early-worker.ts) or a new one; either is
 * closed when the task ends.
 */
export async function runTaskInWorker<I extends PackRef, R, P>(task: PoolTask<I, R, P>, input: I, w: WorkerHooks<P>, pool: TaskPool = createTaskPool({ size: 1 })): Promise<R> {
  const sweep = () => Promise.all(w.outputs.map((o) => removeTempFiles(o)));
  await sweep();
  const controller = new AbortController();
  let interrupts = 0;
  let stopped = false;
  // the first signal decides the exit status: 130 for Ctrl-C, 143 for SIGTERM
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts += 1;
    stoppedBy ??= signal;
    if (interrupts === 1) {
      const how = signal === 'SIGINT' ? 'Ctrl-C again' : 'another signal';
      w.notice(`${signal === 'SIGINT' ? '' : `${signal}: `}cancelling after the current step (${how} to stop now)`);
      controller.abort();
    } else {
      stopped = true;
      void pool.terminate();
    }
  };
  const exitCode = () => (stoppedBy === 'SIGTERM' ? EXIT.terminated : EXIT.cancelled);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await pool.runTask(task, input, { signal: controller.signal, onProgress: w.onProgress, onWarning: w.onWarning, ...(w.onProfile ? { onProfile: w.onProfile } : {}) });
  } catch (err) {
    if (stopped) {
      // stopped mid-write: sweep what the unfinished writes left
      await sweep();
      throw new UserError('stopped; no output was written', exitCode());
    }
    // ffmpeg gets the terminal's Ctrl-C too: its failure after an interrupt is the cancel
    if (interrupts > 0) throw new UserError('cancelled; no output was written', exitCode());
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // the worker releases the model and ends; it keeps the process alive until then
    void pool.close();
  }
}

/** Every file a job writes. */
function outputsOf(job: JobSpec): string[] {
  if (job.kind === 'generate' && job.variants) return job.variants.map((v) => v.output);
  return [job.output, ...('saveInversion' in job && job.saveInversion ? [job.saveInversion] : []), ...('saveMask' in job && job.saveMask ? [job.saveMask] : [])];
}

/** Runs a command's job on the inference worker of `pool`, drawing its progress. */
export async function runInWorker(job: JobSpec, opts: ResultArgs, pool: TaskPool, onProfile?: (p: Profile) => void): Promise<RunSummary> {
  const outputs = outputsOf(job);
  const bar = jobProgress(job, progressOutput(opts));
  try {
    const summary = await runTaskInWorker(jobTask, job, { onProgress: (p) => bar.onProgress(p), onWarning: (m) => bar.warning(m), notice: (t) => bar.notice(t), outputs, onProfile }, pool);
    return { ...summary, outputs, phaseSeconds: bar.tracker.phaseSeconds };
  } finally {
    bar.end();
  }
}
