/**
 * The batch queue on Redis, through BullMQ: the one module that imports bullmq and ioredis.
 * A queue client (enqueue, follow, count, retry, drain) and a queue worker (takes jobs, keeps
 * their locks, hands a job back when its worker dies). Job ids are given by the caller, so adding
 * a job that is already there adds nothing. Nothing prints; the URL's password never leaves here.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { redactIn, redactUrl } from './redis-url.js';

/** The queue every batch job goes on. */
export const QUEUE_NAME = 'flowedit-batch';
/** The name of a batch item's job (a worker runs no other). */
export const ITEM_JOB = 'flowedit-item';

export type JobStateName = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'prioritized' | 'waiting-children' | 'unknown';

export interface JobView {
  readonly id: string;
  readonly state: JobStateName;
  readonly data: unknown;
  readonly progress: unknown;
  readonly failedReason?: string;
  readonly returnValue?: unknown;
  /** milliseconds since the epoch */
  readonly processedOn?: number;
  readonly finishedOn?: number;
  /** how many times the job was taken back from a worker that stopped answering */
  readonly stalledCount?: number;
}

/** An error naming the redacted URL, with what to do. */
function unreachable(url: string, err: unknown): Error {
  const reason = redactIn((err as Error)?.message ?? String(err), url);
  return new Error(`cannot reach Redis at ${redactUrl(url)} (${reason}); start one (redis-server --port 6379) or check --queue`);
}

/** Connects once, with a short timeout and no retries: a clear error within seconds when Redis is not there. */
export async function probeRedis(url: string, timeoutMs = 3000): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => undefined); // reported through connect()'s rejection
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw unreachable(url, err);
  } finally {
    client.disconnect();
  }
}

/** A connection that waits through a Redis restart (BullMQ needs maxRetriesPerRequest: null). */
function connection(url: string, onError?: (message: string) => void): Redis {
  const options: RedisOptions = { maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 200, 2000) };
  const client = new Redis(url, options);
  client.on('error', (err: Error) => onError?.(redactIn(err.message, url)));
  return client;
}

export interface QueueClient {
  /** Adds the jobs whose ids are not in the queue; a finished job (completed or failed) with the same id is replaced when `replaceFinished` says so. Returns the ids added. */
  add(jobs: readonly { id: string; data: object }[], replaceFinished: (id: string) => boolean): Promise<{ added: string[]; present: string[] }>;
  /** The jobs with these ids (state 'unknown' for a missing one). */
  view(ids: readonly string[]): Promise<JobView[]>;
  counts(): Promise<Record<'waiting' | 'active' | 'completed' | 'failed' | 'delayed', number>>;
  failed(limit: number): Promise<JobView[]>;
  /** Moves every failed job back to waiting; returns how many. */
  retryFailed(): Promise<number>;
  /** Removes the waiting (and delayed) jobs; returns how many. */
  drain(): Promise<number>;
  close(): Promise<void>;
}

async function viewOf(job: Job | undefined, id: string): Promise<JobView> {
  if (!job) return { id, state: 'unknown', data: undefined, progress: undefined };
  const state = (await job.getState()) as JobStateName;
  return {
    id,
    state,
    data: job.data,
    progress: job.progress,
    ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    ...(job.returnvalue !== undefined && job.returnvalue !== null ? { returnValue: job.returnvalue } : {}),
    ...(job.processedOn ? { processedOn: job.processedOn } : {}),
    ...(job.finishedOn ? { finishedOn: job.finishedOn } : {}),
    ...(job.stalledCounter ? { stalledCount: job.stalledCounter } : {}),
  };
}

/** Opens the queue after checking that Redis answers. */
export async function openQueue(url: string): Promise<QueueClient> {
  await probeRedis(url);
  const client = connection(url);
  const queue = new Queue(QUEUE_NAME, { connection: client });
  queue.on('error', () => undefined);
  const counts = async () => {
    const c = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    return { waiting: c.waiting ?? 0, active: c.active ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0, delayed: c.delayed ?? 0 };
  };
  return {
    async add(jobs, replaceFinished) {
      const added: string[] = [];
      const present: string[] = [];
      const fresh: { name: string; data: object; opts: { jobId: string } }[] = [];
      for (const j of jobs) {
        const state = await queue.getJobState(j.id);
        if (state === 'completed' || state === 'failed') {
          if (!replaceFinished(j.id)) {
            present.push(j.id);
            continue;
          }
          await (await queue.getJob(j.id))?.remove();
        } else if (state !== 'unknown') {
          present.push(j.id);
          continue;
        }
        fresh.push({ name: ITEM_JOB, data: j.data, opts: { jobId: j.id } });
        added.push(j.id);
      }
      // kept when finished: a repeated enqueue finds them, --wait and `queue status` read them
      if (fresh.length > 0) await queue.addBulk(fresh.map((f) => ({ ...f, opts: { ...f.opts, attempts: 1, removeOnComplete: false, removeOnFail: false } })));
      return { added, present };
    },
    async view(ids) {
      return Promise.all(ids.map(async (id) => viewOf(await queue.getJob(id), id)));
    },
    counts,
    async failed(limit) {
      const jobs = await queue.getFailed(0, Math.max(0, limit - 1));
      return Promise.all(jobs.map((j) => viewOf(j as Job, j.id ?? '?')));
    },
    async retryFailed() {
      const before = (await counts()).failed;
      await queue.retryJobs({ state: 'failed' });
      return before - (await counts()).failed;
    },
    async drain() {
      const before = await counts();
      await queue.drain(true);
      const after = await counts();
      return before.waiting + before.delayed - (after.waiting + after.delayed);
    },
    async close() {
      await queue.close();
      client.disconnect(); // a connection handed to BullMQ is not closed by it
    },
  };
}

export interface TakenJob {
  readonly id: string;
  readonly name: string;
  readonly data: unknown;
  /** how many times this job was handed to a worker before (a worker died, or it was retried) */
  readonly redelivered: boolean;
  /** aborted when this worker could not renew the job's lock: the queue may have handed it to another worker, so stop without writing */
  readonly signal: AbortSignal;
  reportProgress(progress: object): Promise<void>;
}

export interface QueueWorkerOptions {
  readonly concurrency: number;
  /** how long a job's lock lasts without renewal; a dead worker's job is taken back after about this long */
  readonly lockMs: number;
  /** how often a job may be taken back from a dead worker before it fails */
  readonly maxStalled: number;
  readonly onError?: (message: string) => void;
}

export interface QueueWorker {
  /** Stops taking jobs; waits for the running ones (force: hands them back at once). */
  close(force?: boolean): Promise<void>;
}

/** Takes jobs from the queue, `concurrency` at a time; a job fails with the error `run` throws. */
export async function startQueueWorker(url: string, o: QueueWorkerOptions, run: (job: TakenJob) => Promise<object>): Promise<QueueWorker> {
  await probeRedis(url);
  const client = connection(url, o.onError);
  const running = new Map<string, AbortController>();
  const worker = new Worker(
    QUEUE_NAME,
    async (job: Job) => {
      const id = job.id ?? '';
      const lost = new AbortController();
      running.set(id, lost);
      try {
        return await run({
          id,
          name: job.name,
          data: job.data,
          redelivered: (job.stalledCounter ?? 0) > 0 || job.attemptsMade > 0 || (job.attemptsStarted ?? 0) > 1,
          signal: lost.signal,
          reportProgress: (p) => job.updateProgress(p),
        });
      } finally {
        running.delete(id);
      }
    },
    {
      connection: client,
      concurrency: o.concurrency,
      lockDuration: o.lockMs,
      stalledInterval: o.lockMs,
      maxStalledCount: o.maxStalled,
      autorun: true,
    },
  );
  worker.on('error', (err: Error) => o.onError?.(redactIn(err.message, url)));
  worker.on('lockRenewalFailed', (ids: string[]) => {
    for (const id of ids) running.get(id)?.abort(new Error(`lost the lock of job ${id} (Redis unreachable too long); the queue hands it to another worker`));
  });
  return {
    async close(force = false) {
      await worker.close(force);
      client.disconnect();
    },
  };
}
