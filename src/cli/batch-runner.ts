/** An item runner backed by a batch worker thread (one model session per worker). */
import { Worker } from 'node:worker_threads';
import type { ItemRunner } from '../batch/run.js';
import type { BatchParentMessage, BatchWorkerData, BatchWorkerMessage } from './batch-job.js';

/** Starts a worker and resolves once its model is loaded. */
export async function startWorkerRunner(data: BatchWorkerData): Promise<ItemRunner> {
  const worker = new Worker(new URL('./batch-worker.js', import.meta.url), { workerData: data });
  let healthy = true;
  let closed = false;
  /** the handler of the item in flight (or of the start-up) */
  let onMessage: ((m: BatchWorkerMessage) => void) | null = null;
  let onDeath: ((err: Error) => void) | null = null;
  const post = (m: BatchParentMessage) => worker.postMessage(m);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (m: BatchWorkerMessage) => onMessage?.(m));
  worker.on('error', (err) => {
    healthy = false;
    onDeath?.(err);
  });
  worker.on('exit', (code) => {
    healthy = false;
    if (!closed) onDeath?.(new Error(`the inference worker stopped (exit code ${code})`));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      onDeath = reject;
      onMessage = (m) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'failed') {
          healthy = false;
          reject(new Error(m.message));
        }
      };
    });
  } catch (err) {
    // a worker that could not start must not keep the process alive
    closed = true;
    onMessage = null;
    onDeath = null;
    await worker.terminate();
    throw err;
  }
  const runner: ItemRunner = {
    get healthy() {
      return healthy;
    },
    run(item, pending, hooks) {
      return new Promise((resolve, reject) => {
        const abort = () => post({ type: 'abort' });
        hooks.signal.addEventListener('abort', abort, { once: true });
        const settle = () => {
          hooks.signal.removeEventListener('abort', abort);
          onMessage = null;
          onDeath = null;
        };
        onDeath = (err) => {
          settle();
          reject(err);
        };
        onMessage = (m) => {
          if (m.type === 'progress') hooks.onProgress(m.progress);
          else if (m.type === 'warning') hooks.onWarning(m.message);
          else if (m.type === 'done') {
            settle();
            resolve(m.outputs);
          } else if (m.type === 'failed') {
            settle();
            reject(new Error(m.message));
          }
        };
        post({ type: 'run', item, pending });
        if (hooks.signal.aborted) abort();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      healthy = false;
      post({ type: 'stop' });
      await exited;
    },
  };
  return runner;
}
