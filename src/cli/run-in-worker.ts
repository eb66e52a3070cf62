/**
 * Main-thread side of a job: starts the inference worker, draws its progress, and turns Ctrl-C
 * into a cancel between steps (a second Ctrl-C stops at once). Outputs are written atomically by
 * the worker, so a cancelled or failed run leaves no partial file.
 */
import { Worker } from 'node:worker_threads';
import { removeTempFiles } from '../media/atomic-file.js';
import { EXIT, UserError } from './errors.js';
import type { JobSpec, JobSummary, WorkerMessage } from './job.js';
import { progressLine } from './progress-bar.js';

export async function runInWorker(job: JobSpec, opts: { quiet: boolean }): Promise<JobSummary> {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: job });
  const bar = progressLine(process.stderr, opts.quiet);
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      bar.done();
      process.stderr.write('flowedit: cancelling after the current step (Ctrl-C again to stop now)\n');
      worker.postMessage({ type: 'abort' });
    } else {
      void worker.terminate();
    }
  };
  process.on('SIGINT', onSigint);
  try {
    return await new Promise<JobSummary>((resolve, reject) => {
      let settled = false;
      worker.on('message', (msg: WorkerMessage) => {
        switch (msg.type) {
          case 'progress': {
            const { phase, step, steps, window } = msg.progress;
            bar.update(window ? `${phase} ${window.index + 1}/${window.count}` : phase, step, steps);
            break;
          }
          case 'warning':
            bar.done();
            process.stderr.write(`flowedit: warning: ${msg.message}\n`);
            break;
          case 'done':
            settled = true;
            resolve(msg.summary);
            break;
          case 'cancelled':
            settled = true;
            reject(new UserError('cancelled; no output was written', EXIT.cancelled));
            break;
          case 'error': {
            settled = true;
            // ffmpeg gets the terminal's Ctrl-C too: its failure after an interrupt is the cancel
            if (interrupts > 0) {
              reject(new UserError('cancelled; no output was written', EXIT.cancelled));
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
        const outputs = [job.output, ...('saveInversion' in job && job.saveInversion ? [job.saveInversion] : [])];
        void Promise.all(outputs.map((o) => removeTempFiles(o))).finally(() => reject(new UserError('stopped; no output was written', EXIT.cancelled)));
      });
    });
  } finally {
    bar.done();
    process.off('SIGINT', onSigint);
  }
}
