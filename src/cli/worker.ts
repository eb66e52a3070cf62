/**
 * The inference worker: loads the pack and runs one job off the main thread, so the progress
 * bar keeps moving during onnxruntime's synchronous runs and Ctrl-C can cancel between steps.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runJob } from '../jobs/run-job.js';
import type { JobSpec, ParentMessage, WorkerMessage } from '../jobs/job.js';
import { UserError } from './errors.js';

const port = parentPort;
if (!port) throw new Error('worker.js must run as a worker thread');
const controller = new AbortController();
port.on('message', (msg: ParentMessage) => {
  if (msg.type === 'abort') controller.abort();
});
const send = (m: WorkerMessage) => port.postMessage(m);

try {
  const summary = await runJob(workerData as JobSpec, {
    signal: controller.signal,
    onProgress: (progress) => send({ type: 'progress', progress }),
    onWarning: (message) => send({ type: 'warning', message }),
  });
  send({ type: 'done', summary });
} catch (err) {
  if (controller.signal.aborted) send({ type: 'cancelled' });
  else {
    const e = err as Error;
    send({ type: 'error', message: e.message, ...(e.stack ? { stack: e.stack } : {}), user: e instanceof UserError });
  }
} finally {
  port.close();
}
