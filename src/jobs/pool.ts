/**
 * A pool of inference workers: jobs (and the other pool tasks: batch items, layer studies) run on
 * worker threads, so the caller's event loop stays free while onnxruntime computes. Tasks queue in
 * order; each worker runs one at a time and keeps its loaded pack for the next task on the same
 * model, or loads one ahead of its task (preload). Idle workers do not keep the process alive.
 */
import type { Worker } from 'node:worker_threads';
import type { Progress } from '../edit/latent/progress.js';
import { mediaFacts } from '../media/facts.js';
import { toolFacts } from '../media/ffmpeg-tools.js';
import { threadShare } from '../model/threads.js';
import type { Profile } from '../media/profile.js';
import { UserError } from './errors.js';
import type { JobSpec, JobSummary } from './job.js';
import { jobTask } from './job-task.js';
import type { PoolParentMessage, PoolWorkerMessage } from './pool-protocol.js';
import type { PackRef, PoolTask } from './pool-task.js';
import { newPoolWorker } from './worker-boot.js';

export interface TaskHooks<P> {
  readonly onProgress?: (p: P) => void;
  readonly onWarning?: (message: string) => void;
  /** cancels the task: before it starts it is dropped from the queue, while it runs it stops after the current step */
  readonly signal?: AbortSignal;
  /**
   * Asks for the task's profile (where its wall time went, collected on the worker): called once,
   * before the task's promise resolves; not called for a task that fails.
   */
  readonly onProfile?: (profile: Profile) => void;
}

/** A job's hooks: its progress events are the edit layer's. */
export type JobHooks = TaskHooks<Progress>;

export interface WorkerPool {
  /** how many jobs run at once */
  readonly size: number;
  run(spec: JobSpec, hooks?: JobHooks): Promise<JobSummary>;
  /**
   * Starts loading a pack on an idle worker (one is started if none is idle and the pool has room),
   * for the next task on that pack, which then waits only for what is left of the load. A failed
   * load is dropped: the task loads again and reports it. Nothing happens once the pool is closing.
   * With `tools`, the task will run ffmpeg: the worker gets ready to start it beside the load.
   */
  preload(ref: PackRef, opts?: { readonly tools?: boolean }): void;
  /** lets running jobs finish, refuses queued and new ones, and stops the workers */
  close(): Promise<void>;
  /** stops the workers at once: running jobs fail (their worker stopped; a cancelled one with its signal's reason), queued and new ones are refused */
  terminate(): Promise<void>;
}

/** A pool that also runs the tasks other layers define (batch items, layer studies). */
export interface TaskPool extends WorkerPool {
  /** runs a task defined with defineTask (pool-task.ts) on a worker */
  runTask<I extends PackRef, R, P>(task: PoolTask<I, R, P>, input: I, hooks?: TaskHooks<P>): Promise<R>;
}

export interface PoolOptions {
  /** workers, each running one job at a time with its own model session (default 1) */
  readonly size?: number;
}

/**
 * A task's pack ref with its CPU threads settled: the ones it names; else, in a pool of several
 * workers, each gets an equal share of the cores (at least 1), so workers running side by side do
 * not ask for more threads than there are cores. A lone worker keeps a session's default.
 */
export function withThreads<I extends PackRef>(ref: I, size: number): I {
  return ref.threads || size === 1 ? ref : { ...ref, threads: threadShare(size) };
}

/** A task's worker stopped before the task ended (it crashed, or the pool was terminated). */
export class WorkerStoppedError extends Error {
  constructor(readonly exitCode: number) {
    super(`the inference worker stopped (exit code ${exitCode})`);
    this.name = 'WorkerStoppedError';
  }
}

interface Queued {
  readonly task: PoolTask<PackRef, unknown, unknown>;
  readonly input: unknown;
  readonly hooks: TaskHooks<unknown>;
  readonly resolve: (r: unknown) => void;
  readonly reject: (e: unknown) => void;
}

interface Slot {
  readonly worker: Worker;
  /** asks the worker to cancel its task (the listener added to the task's signal) */
  readonly abort: () => void;
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

/** A pool of inference workers for jobs. */
export function createPool(opts: PoolOptions = {}): WorkerPool {
  return createTaskPool(opts);
}

/** A pool that also runs other layers' tasks; its first worker is `booted` when one is given (worker-boot.ts) and still runs. */
export function createTaskPool(opts: PoolOptions = {}, booted?: Worker | null): TaskPool {
  const size = opts.size ?? 1;
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`Expected a positive integer for the pool size but received ${size}`);
  const queue: Queued[] = [];
  const slots: Slot[] = [];
  let closing = false;

  const post = (slot: Slot, m: PoolParentMessage) => slot.worker.postMessage(m);

  /** An idle worker, started if none is and the pool has room. */
  const idleSlot = (): Slot | null => slots.find((s) => s.job === null && !s.stopping) ?? (slots.length < size ? startSlot() : null);

  let adopt = booted ?? null;
  function startSlot(): Slot {
    // idle: it keeps the process alive only while it has a task, or while the pool closes
    const worker = adopt ?? newPoolWorker();
    adopt = null;
    worker.unref();
    const slot: Slot = { worker, abort: () => worker.postMessage({ type: 'abort' } satisfies PoolParentMessage), job: null, stopping: false, exited: new Promise((r) => worker.once('exit', () => r())) };
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
    worker.on('exit', (code) => die(new WorkerStoppedError(code)));
    slots.push(slot);
    return slot;
  }

  function finish(slot: Slot, settle: (job: Queued) => void): void {
    const job = slot.job;
    if (!job) return;
    slot.job = null;
    job.hooks.signal?.removeEventListener('abort', slot.abort);
    slot.worker.unref();
    settle(job);
    pump();
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
        if (m.profile) job.hooks.onProfile?.(m.profile);
        finish(slot, (j) => j.resolve(m.result));
        break;
      case 'cancelled':
        finish(slot, (j) => j.reject(cancelled(j.hooks.signal!)));
        break;
      case 'error':
        finish(slot, (j) => j.reject(j.hooks.signal?.aborted ? cancelled(j.hooks.signal) : failure(m)));
        break;
    }
  }

  /** Hands queued tasks to idle workers, starting workers up to the pool's size. */
  function pump(): void {
    while (queue.length > 0) {
      const slot = idleSlot();
      if (!slot) return;
      const job = queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      job.hooks.signal?.addEventListener('abort', slot.abort, { once: true });
      post(slot, { type: 'run', module: job.task.module, name: job.task.name, input: job.input, ...(job.hooks.onProfile ? { profile: true } : {}), media: mediaFacts() });
    }
    if (!closing) return;
    for (const s of slots.filter((x) => x.job === null && !x.stopping)) {
      s.stopping = true;
      post(s, { type: 'stop' });
    }
  }

  function runTask<I extends PackRef, R, P>(task: PoolTask<I, R, P>, input: I, hooks: TaskHooks<P> = {}): Promise<R> {
    if (closing) return Promise.reject(new Error('This worker pool is closed: create another to run more jobs'));
    if (hooks.signal?.aborted) return Promise.reject(cancelled(hooks.signal));
    return new Promise<R>((resolve, reject) => {
      const job: Queued = { task: task as unknown as Queued['task'], input: withThreads(input, size), hooks: hooks as TaskHooks<unknown>, resolve: resolve as (r: unknown) => void, reject };
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
  }

  /** Refuses the queued tasks and any new one. */
  function shut(): void {
    closing = true;
    for (const job of queue.splice(0)) job.reject(new Error('The worker pool was closed before this job started'));
  }

  // a booted worker may be loading a pack already: the pool owns it from now on, so that close() waits for that load
  if (adopt) startSlot();

  return {
    size,
    run: (spec, hooks) => runTask(jobTask, spec, hooks),
    runTask,
    preload(ref, opts = {}) {
      if (closing) return;
      const slot = idleSlot();
      if (!slot) return;
      // an idle worker, loading or not, does not keep the process alive
      slot.worker.unref();
      // only the pack's fields: a job spec passed as the ref is not cloned whole
      const { threads } = withThreads(ref, size);
      post(slot, { type: 'load', ref: { packDir: ref.packDir, ...(threads ? { threads } : {}), ...(ref.device ? { device: ref.device } : {}) }, ...(opts.tools ? { tools: toolFacts() } : {}) });
    },
    async close() {
      shut();
      // the workers keep the process alive until they have released their models and stopped
      for (const s of slots) s.worker.ref();
      pump();
      await Promise.all(slots.map((s) => s.exited));
    },
    async terminate() {
      shut();
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
