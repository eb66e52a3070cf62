/**
 * A pool of inference workers: jobs run on worker threads, so the caller's event loop stays free
 * while onnxruntime computes. Jobs queue in order; each worker runs one at a time and keeps its
 * loaded pack for the next job on the same model. Idle workers do not keep the process alive.
 */
import { Worker } from 'node:worker_threads';
import type { Progress } from '../edit/progress.js';
import { UserError } from './errors.js';
import type { JobSpec, JobSummary } from './job.js';
import type { PoolParentMessage, PoolWorkerMessage } from './pool-protocol.js';

export interface JobHooks {
  readonly onProgress?: (p: Progress) => void;
  readonly onWarning?: (message: string) => void;
  /** cancels the job: before it starts it is dropped from the queue, while it runs it stops after the current step */
  readonly signal?: AbortSignal;
}

export interface WorkerPool {
  /** how many jobs run at once */
  readonly size: number;
  run(spec: JobSpec, hooks?: JobHooks): Promise<JobSummary>;
  /** lets running jobs finish, refuses queued and new ones, and stops the workers */
  close(): Promise<void>;
}

export interface PoolOptions {
  /** workers, each running one job at a time with its own model session (default 1) */
  readonly size?: number;
}

interface Queued {
  readonly spec: JobSpec;
  readonly hooks: JobHooks;
  readonly resolve: (s: JobSummary) => void;
  readonly reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  job: Queued | null;
  stopping: boolean;
  exited: Promise<void>;
}

const cancelled = (signal: AbortSignal): unknown => signal.reason ?? new Error('cancelled');

function failure(m: Extract<PoolWorkerMessage, { type: 'error' }>): Error {
  const err = m.user ? new UserError(m.message, m.exitCode) : new Error(m.message);
  if (m.stack) err.stack = m.stack;
  return err;
}

export function createPool(opts: PoolOptions = {}): WorkerPool {
  const size = opts.size ?? 1;
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`Expected a positive integer for the pool size but received ${size}`);
  const queue: Queued[] = [];
  const slots: Slot[] = [];
  let closing = false;

  const post = (slot: Slot, m: PoolParentMessage) => slot.worker.postMessage(m);

  function startSlot(): Slot {
    const worker = new Worker(new URL('./pool-worker.js', import.meta.url));
    const slot: Slot = { worker, job: null, stopping: false, exited: new Promise((r) => worker.once('exit', () => r())) };
    worker.on('message', (m: PoolWorkerMessage) => onMessage(slot, m));
    const die = (err: Error) => {
      const i = slots.indexOf(slot);
      if (i >= 0) slots.splice(i, 1);
      const job = slot.job;
      slot.job = null;
      if (job) job.reject(job.hooks.signal?.aborted ? cancelled(job.hooks.signal) : err);
      pump();
    };
    worker.on('error', (err) => die(err));
    worker.on('exit', (code) => die(new Error(`the inference worker stopped (exit code ${code})`)));
    slots.push(slot);
    return slot;
  }

  function finish(slot: Slot, settle: (job: Queued) => void): void {
    const job = slot.job;
    if (!job) return;
    slot.job = null;
    job.hooks.signal?.removeEventListener('abort', abortOf(slot));
    slot.worker.unref();
    settle(job);
    pump();
  }

  const aborts = new WeakMap<Slot, () => void>();
  function abortOf(slot: Slot): () => void {
    let f = aborts.get(slot);
    if (!f) {
      f = () => post(slot, { type: 'abort' });
      aborts.set(slot, f);
    }
    return f;
  }

  function onMessage(slot: Slot, m: PoolWorkerMessage): void {
    const job = slot.job;
    if (!job) return;
    switch (m.type) {
      case 'progress':
        job.hooks.onProgress?.(m.progress);
        break;
      case 'warning':
        job.hooks.onWarning?.(m.message);
        break;
      case 'done':
        finish(slot, (j) => j.resolve(m.summary));
        break;
      case 'cancelled':
        finish(slot, (j) => j.reject(cancelled(j.hooks.signal!)));
        break;
      case 'error':
        finish(slot, (j) => j.reject(j.hooks.signal?.aborted ? cancelled(j.hooks.signal) : failure(m)));
        break;
    }
  }

  /** Hands queued jobs to idle workers, starting workers up to the pool's size. */
  function pump(): void {
    while (queue.length > 0) {
      const slot = slots.find((s) => s.job === null) ?? (slots.length < size ? startSlot() : null);
      if (!slot) return;
      const job = queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      job.hooks.signal?.addEventListener('abort', abortOf(slot), { once: true });
      post(slot, { type: 'run', spec: job.spec });
    }
    if (!closing) return;
    for (const s of slots.filter((x) => x.job === null && !x.stopping)) {
      s.stopping = true;
      post(s, { type: 'stop' });
    }
  }

  return {
    size,
    run(spec, hooks = {}) {
      if (closing) return Promise.reject(new Error('This worker pool is closed: create another to run more jobs'));
      if (hooks.signal?.aborted) return Promise.reject(cancelled(hooks.signal));
      return new Promise<JobSummary>((resolve, reject) => {
        const job: Queued = { spec, hooks, resolve, reject };
        // cancelled while still queued: it never starts
        hooks.signal?.addEventListener(
          'abort',
          () => {
            const i = queue.indexOf(job);
            if (i >= 0) {
              queue.splice(i, 1);
              reject(cancelled(hooks.signal!));
            }
          },
          { once: true },
        );
        queue.push(job);
        pump();
      });
    },
    async close() {
      closing = true;
      // the workers keep the process alive until they have released their models and stopped
      for (const s of slots) s.worker.ref();
      for (const job of queue.splice(0)) job.reject(new Error('The worker pool was closed before this job started'));
      pump();
      await Promise.all(slots.map((s) => s.exited));
    },
  };
}
