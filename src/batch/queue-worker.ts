/**
 * A queue worker: takes batch items from the queue and makes them as a local batch does. Each job
 * is re-planned from its manifest and flags with the batch planner (one plan kept per manifest,
 * flags and manifest time), its item checked against the key it was queued with, its finished
 * outputs skipped (so a job handed back after its worker died writes nothing twice), and the
 * rest made in an inference worker. Events leave through `onEvent`; nothing prints.
 */
import { stat } from 'node:fs/promises';
import { relative } from 'node:path';
import type { Progress } from '../edit/latent/progress.js';
import type { Device } from '../model/devices.js';
import { threadShare } from '../model/threads.js';
import type { BatchPlan } from './plan.js';
import { ITEM_JOB, startQueueWorker, type TakenJob } from './queue.js';
import { itemKeyOf, planRequest, readItemJobData, requestKey } from './queue-job.js';
import { startQueueItemRunner, type QueueItemRunner } from './queue-task.js';
import { isDone, removeStaleTemps } from './sidecar.js';
import { realPathSoFar, within } from './confine.js';

export type QueueWorkerEvent =
  | { readonly type: 'job-start'; readonly job: string; readonly item: string; readonly index: number; readonly outDir: string; readonly pending: number; readonly redelivered: boolean }
  | { readonly type: 'progress'; readonly job: string; readonly item: string; readonly progress: Progress }
  | { readonly type: 'warning'; readonly job: string; readonly item: string; readonly message: string }
  | { readonly type: 'output'; readonly job: string; readonly item: string; readonly file: string; readonly outDir: string }
  | { readonly type: 'job-done'; readonly job: string; readonly item: string; readonly written: number; readonly skipped: number; readonly seconds: number }
  | { readonly type: 'job-failed'; readonly job: string; readonly item?: string; readonly reason: string }
  | { readonly type: 'connection'; readonly message: string };

/** What a finished job returns to the queue (the `--wait` report reads it). */
export interface ItemJobResult {
  /** output files written by this delivery, relative to the output folder */
  readonly written: readonly string[];
  /** outputs already finished when the job started */
  readonly skipped: readonly string[];
  readonly seconds: number;
}

export interface QueueWorkerRunOptions {
  readonly url: string;
  readonly concurrency: number;
  /** CPU threads shared among the inference workers (default: every core) */
  readonly threads?: number;
  readonly device?: Device;
  /** a job's lock; a dead worker's job returns to the queue after about this long (and at most twice that) */
  readonly lockMs: number;
  readonly maxStalled: number;
  /** folders every manifest, output folder and pack a job names must lie in (by real path); empty: anywhere the worker can reach */
  readonly roots?: readonly string[];
  readonly onEvent?: (e: QueueWorkerEvent) => void;
}

export interface RunningQueueWorker {
  /** Stops taking jobs, lets the running ones finish, releases the models. */
  close(): Promise<void>;
}

/** How often a running job's progress is written to Redis. */
const PROGRESS_MS = 1000;
/**
 * A job names the paths it uses (its manifest, output folder and pack); with roots given, each
 * must lie inside one of them by real path, links followed, or the job fails unrun.
 */
async function assertInRoots(roots: readonly string[], data: { readonly manifest: string; readonly outDir: string; readonly packDir: string }): Promise<void> {
  if (roots.length === 0) return;
  const real = await Promise.all(roots.map((r) => realPathSoFar(r)));
  for (const [what, path] of [['manifest', data.manifest], ['output folder', data.outDir], ['model pack', data.packDir]] as const) {
    const at = await realPathSoFar(path);
    if (!real.some((root) => within(root, at))) throw new Error(`the job's ${what} ${path} is outside the folders this worker serves (--root ${roots.join(' ')}); it was not run`);
  }
}

/** Plans kept (one per manifest, flags and manifest time). */
const PLANS_KEPT = 8;

export async function runQueueWorker(o: QueueWorkerRunOptions): Promise<RunningQueueWorker> {
  if (!(Number.isInteger(o.concurrency) && o.concurrency > 0)) throw new Error(`Expected a positive integer for concurrency but received ${o.concurrency}`);
  const emit = (e: QueueWorkerEvent) => o.onEvent?.(e);
  const threads = threadShare(o.concurrency, o.threads);

  // plans, kept per request and manifest time: thirty jobs of one batch hash its inputs once
  const plans = new Map<string, Promise<BatchPlan>>();
  const planOf = async (data: ReturnType<typeof readItemJobData>): Promise<BatchPlan> => {
    const mtime = (await stat(data.manifest).catch(() => null))?.mtimeMs ?? -1;
    const key = `${requestKey(data)}@${mtime}`;
    let plan = plans.get(key);
    if (!plan) {
      plan = planRequest(data);
      plans.set(key, plan);
      plan.catch(() => plans.delete(key));
      while (plans.size > PLANS_KEPT) plans.delete(plans.keys().next().value!);
    }
    return plan;
  };

  // inference workers, one per running job at most, each kept for its pack
  const idle: QueueItemRunner[] = [];
  let live = 0;
  const acquire = async (packDir: string): Promise<QueueItemRunner> => {
    const i = idle.findIndex((r) => r.packDir === packDir);
    if (i >= 0) return idle.splice(i, 1)[0]!;
    if (live >= o.concurrency && idle.length > 0) {
      live -= 1;
      await idle.shift()!.close();
    }
    live += 1;
    try {
      return await startQueueItemRunner({ packDir, threads, ...(o.device ? { device: o.device } : {}) });
    } catch (err) {
      live -= 1;
      throw err;
    }
  };
  const release = async (r: QueueItemRunner) => {
    if (r.healthy) idle.push(r);
    else {
      live -= 1;
      await r.close();
    }
  };

  const runJob = async (job: TakenJob): Promise<ItemJobResult> => {
    const started = performance.now();
    let itemId: string | undefined;
    try {
      if (job.name !== ITEM_JOB) throw new Error(`the job "${job.name}" is not a batch item; a worker runs only ${ITEM_JOB} jobs`);
      const data = readItemJobData(job.data);
      await assertInRoots(o.roots ?? [], data);
      const plan = await planOf(data);
      const item = plan.items[data.itemIndex];
      if (!item || itemKeyOf(item) !== data.itemKey) throw new Error(`the manifest changed since it was queued (item ${data.itemIndex} of ${data.manifest} is not the one queued); run flowedit batch --queue again`);
      itemId = item.id;
      // what a killed worker left: its temporaries, and the outputs it finished
      await removeStaleTemps(item.outputs);
      const pending: string[] = [];
      const skipped: string[] = [];
      for (const out of item.outputs) {
        if (await isDone(out)) skipped.push(relative(plan.outDir, out.file));
        else pending.push(out.code);
      }
      emit({ type: 'job-start', job: job.id, item: item.id, index: item.index, outDir: plan.outDir, pending: pending.length, redelivered: job.redelivered });
      const written: string[] = [];
      if (pending.length > 0) {
        const runner = await acquire(plan.packDir);
        let lastSent = 0;
        try {
          await runner.run(item, pending, {
            signal: job.signal,
            onEvent: (e) => {
              if ('output' in e) {
                written.push(relative(plan.outDir, e.output.file));
                emit({ type: 'output', job: job.id, item: item.id, file: relative(plan.outDir, e.output.file), outDir: plan.outDir });
                return;
              }
              emit({ type: 'progress', job: job.id, item: item.id, progress: e.progress });
              const now = performance.now();
              if (now - lastSent >= PROGRESS_MS) {
                lastSent = now;
                job.reportProgress({ ...e.progress, outputs: pending.length }).catch(() => undefined);
              }
            },
            onWarning: (message) => emit({ type: 'warning', job: job.id, item: item.id, message }),
          });
        } finally {
          await release(runner);
        }
      }
      const seconds = Math.round((performance.now() - started) / 10) / 100;
      emit({ type: 'job-done', job: job.id, item: item.id, written: written.length, skipped: skipped.length, seconds });
      return { written, skipped, seconds };
    } catch (err) {
      emit({ type: 'job-failed', job: job.id, ...(itemId !== undefined ? { item: itemId } : {}), reason: (err as Error).message });
      throw err;
    }
  };

  const worker = await startQueueWorker(o.url, { concurrency: o.concurrency, lockMs: o.lockMs, maxStalled: o.maxStalled, onError: (message) => emit({ type: 'connection', message }) }, (job) =>
    runJob(job) as Promise<object>,
  );
  return {
    async close() {
      await worker.close();
      await Promise.all(idle.splice(0).map((r) => r.close()));
    },
  };
}
