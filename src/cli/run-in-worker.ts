/**
 * Main-thread side of a job: starts the inference worker, draws its progress, and turns Ctrl-C
 * or SIGTERM into a cancel between steps (a second one stops at once). Outputs are written
 * atomically by the worker, so a cancelled or failed run leaves no partial file; a run first
 * sweeps the temporary files an earlier run that was killed outright left beside its outputs.
 */
import { Worker } from 'node:worker_threads';
import { removeTempFiles } from '../media/atomic-file.js';
import { EXIT, UserError } from './errors.js';
import type { JobSpec, JobSummary, WorkerMessage } from '../jobs/job.js';
import { jobProgress } from './progress/job-progress.js';
import { progressOutput, type ResultArgs, type RunSummary } from './progress/result.js';

/** Every file a job writes. */
function outputsOf(job: JobSpec): string[] {
  if (job.kind === 'generate' && job.variants) return job.variants.map((v) => v.output);
  return [job.output, ...('saveInversion' in job && job.saveInversion ? [job.saveInversion] : []), ...('saveMask' in job && job.saveMask ? [job.saveMask] : [])];
}

export async function runInWorker(job: JobSpec, opts: ResultArgs): Promise<RunSummary> {
  const outputs = outputsOf(job);
  await Promise.all(outputs.map((o) => removeTempFiles(o)));
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: job });
  const bar = jobProgress(job, progressOutput(opts));
  let interrupts = 0;
  // the first signal decides the exit status: 130 for Ctrl-C, 143 for SIGTERM
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts += 1;
    stoppedBy ??= signal;
    if (interrupts === 1) {
      const how = signal === 'SIGINT' ? 'Ctrl-C again' : 'another signal';
      bar.notice(`${signal === 'SIGINT' ? '' : `${signal}: `}cancelling after the current step (${how} to stop now)`);
      worker.postMessage({ type: 'abort' });
    } else {
      void worker.terminate();
    }
  };
  const exitCode = () => (stoppedBy === 'SIGTERM' ? EXIT.terminated : EXIT.cancelled);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await new Promise<JobSummary>((resolve, reject) => {
      let settled = false;
      worker.on('message', (msg: WorkerMessage) => {
        switch (msg.type) {
          case 'progress':
            bar.onProgress(msg.progress);
            break;
          case 'warning':
            bar.warning(msg.message);
            break;
          case 'done':
            settled = true;
            resolve(msg.summary);
            break;
          case 'cancelled':
            settled = true;
            reject(new UserError('cancelled; no output was written', exitCode()));
            break;
          case 'error': {
            settled = true;
            // ffmpeg gets the terminal's Ctrl-C too: its failure after an interrupt is the cancel
            if (interrupts > 0) {
              reject(new UserError('cancelled; no output was written', exitCode()));
              break;
            }
            const err = msg.user ? new UserError(msg.message) : new Error(msg.message);
            if (msg.stack) err.stack = msg.stack;
            reject(err);
            break;
          }
        }
      });
      worker.on('error', (err) => {
        settled = true;
        reject(err);
      });
      worker.on('exit', (code) => {
        if (settled) return;
        if (interrupts === 0) return reject(new Error(`inference worker exited with code ${code}`));
        // stopped mid-write: sweep what the unfinished writes left
        void Promise.all(outputs.map((o) => removeTempFiles(o))).finally(() => reject(new UserError('stopped; no output was written', exitCode())));
      });
    });
    return { ...summary, outputs, phaseSeconds: bar.tracker.phaseSeconds };
  } finally {
    bar.end();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
