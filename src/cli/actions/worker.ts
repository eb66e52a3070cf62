/**
 * `flowedit worker --queue URL`: makes batch items from the Redis queue until stopped. One line
 * per job event on stderr (JSON Lines with --progress json, an "output" event per file written).
 * SIGTERM or Ctrl-C: no new jobs, the running ones finished, exit 0; a second signal stops at
 * once and the running jobs return to the queue for another worker.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { checkRedisUrl, redactUrl } from '../../batch/redis-url.js';
import { QUEUE_NAME } from '../../batch/queue.js';
import { runQueueWorker, type QueueWorkerEvent, type RunningQueueWorker } from '../../batch/queue-worker.js';
import { progressOutput } from '../progress/result.js';
import { EXIT, UserError } from '../errors.js';
import type { GlobalArgs } from '../options.js';
import { checkModelFlags, userCheck } from './common.js';

export type WorkerArgs = GlobalArgs & {
  queue: string;
  concurrency: number;
  threads: number | undefined;
  device: string | undefined;
  /** --root DIR [DIR …]: the folders a job's manifest, output folder and pack must lie in */
  root: string[] | undefined;
};

/** FLOWEDIT_QUEUE_STALLED_MS: a job's lock, and how soon a dead worker's job returns to the queue. */
export const STALLED_ENV = 'FLOWEDIT_QUEUE_STALLED_MS';
const DEFAULT_LOCK_MS = 10_000;
/** times a job may return from dead workers before it fails */
const MAX_STALLED = 20;
/** JSON progress events per job at most this often */
const JSON_PROGRESS_MS = 1000;

function lockMs(): number {
  const raw = process.env[STALLED_ENV];
  if (raw === undefined || raw === '') return DEFAULT_LOCK_MS;
  const n = Number(raw);
  if (!(Number.isInteger(n) && n >= 200)) throw new UserError(`Expected ${STALLED_ENV} to be whole milliseconds, at least 200, but it is ${JSON.stringify(raw)}`, EXIT.usage);
  return n;
}

function plainLine(e: QueueWorkerEvent): string | undefined {
  const short = 'job' in e ? e.job.slice(0, 8) : '';
  switch (e.type) {
    case 'job-start':
      return `job ${short}: item ${e.item}: ${e.pending === 0 ? 'already done' : `making ${e.pending} output${e.pending === 1 ? '' : 's'}`}${e.redelivered ? ' (taken over from a stopped worker)' : ''}`;
    case 'output':
      return `job ${short}: item ${e.item}: wrote ${e.file}`;
    case 'job-done':
      return `job ${short}: item ${e.item}: done in ${e.seconds.toFixed(1)} s (${e.written} written, ${e.skipped} already done)`;
    case 'job-failed':
      return `job ${short}: ${e.item !== undefined ? `item ${e.item}: ` : ''}FAILED: ${e.reason}`;
    case 'warning':
      return `flowedit: warning: ${e.item}: ${e.message}`;
    case 'connection':
      return `flowedit: queue connection: ${e.message}`;
    case 'progress':
      return undefined;
  }
}

export async function workerAction(a: WorkerArgs): Promise<void> {
  try {
    checkRedisUrl(a.queue);
  } catch (err) {
    throw new UserError((err as Error).message, EXIT.usage);
  }
  if (!(Number.isInteger(a.concurrency) && a.concurrency > 0)) throw new UserError(`Expected a positive integer for --concurrency but received ${a.concurrency}`, EXIT.usage);
  const model = checkModelFlags({ model: undefined, threads: a.threads, device: a.device });
  if (model.device !== undefined && a.concurrency > 1) throw new UserError(`--concurrency ${a.concurrency} with --device ${model.device}: on a device the items run one at a time; leave --concurrency out, or run more workers on CPU`, EXIT.usage);
  const roots = (a.root ?? []).map((r) => resolve(r));
  for (const r of roots) {
    if (!(await stat(r).catch(() => null))?.isDirectory()) throw new UserError(`--root ${r} is not a folder: give the shared folders this worker serves (where the manifests, inputs and output folders lie)`, EXIT.usage);
  }
  const lock = lockMs();
  const mode = progressOutput(a).mode;
  const say = (text: string, json: Record<string, unknown>) => {
    if (mode === 'json') process.stderr.write(`${JSON.stringify(json)}\n`);
    else if (mode !== 'none') process.stderr.write(`${text}\n`);
  };
  const lastJson = new Map<string, number>();
  // while Redis is away every connection retries: each message once per 10 s
  const lastSaid = new Map<string, number>();
  const onEvent = (e: QueueWorkerEvent) => {
    if (e.type === 'connection') {
      const now = performance.now();
      if (now - (lastSaid.get(e.message) ?? -Infinity) < 10_000) return;
      lastSaid.set(e.message, now);
    }
    if (mode === 'json') {
      if (e.type === 'progress') {
        const now = performance.now();
        if (now - (lastJson.get(e.job) ?? -Infinity) < JSON_PROGRESS_MS) return;
        lastJson.set(e.job, now);
        process.stderr.write(`${JSON.stringify({ event: 'progress', job: e.job, item: e.item, phase: e.progress.phase, step: e.progress.step, steps: e.progress.steps, ...(e.progress.window ? { window: e.progress.window } : {}) })}\n`);
        return;
      }
      if (e.type === 'job-done' || e.type === 'job-failed') lastJson.delete(e.job);
      const { type, ...rest } = e;
      process.stderr.write(`${JSON.stringify({ event: type === 'connection' ? 'connection-error' : type, ...rest })}\n`);
      return;
    }
    if (mode === 'none') return;
    if (e.type === 'progress') return;
    const line = plainLine(e);
    if (line !== undefined) process.stderr.write(`${line}\n`);
  };
  const shown = redactUrl(a.queue);
  // the signal handlers come first: a job may start (and end) before the worker says it is ready
  let worker: RunningQueueWorker | undefined;
  let stopping: NodeJS.Signals | undefined;
  let finished = false;
  let resolveStopped = () => {};
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  const close = (w: RunningQueueWorker, sig: NodeJS.Signals) =>
    w.close().then(
      () => {
        say('worker: stopped', { event: 'stopped', signal: sig, handedBack: false });
        // the handlers stay: a signal between now and the process's end (Redis connections closing)
        // must not kill it with the signal's default action
        finished = true;
        resolveStopped();
      },
      (err: unknown) => {
        say(`worker: ${(err as Error).message}`, { event: 'error', message: (err as Error).message });
        process.exit(EXIT.failed);
      },
    );
  const onSignal = (sig: NodeJS.Signals) => {
    if (finished) process.exit(EXIT.ok);
    if (stopping) {
      say('worker: stopped; its running jobs return to the queue for another worker', { event: 'stopped', signal: sig, handedBack: true });
      process.exit(EXIT.ok);
    }
    stopping = sig;
    say(`worker: ${sig}: taking no new jobs, finishing the running ones (${sig} again to stop now and hand them back)`, { event: 'stopping', signal: sig });
    if (worker) void close(worker, sig);
  };
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, onSignal);
  worker = await userCheck(() =>
    runQueueWorker({ url: a.queue, concurrency: a.concurrency, ...(model.threads !== undefined ? { threads: model.threads } : {}), ...(model.device ? { device: model.device } : {}), lockMs: lock, maxStalled: MAX_STALLED, roots, onEvent }),
  );
  say(`worker: taking jobs from ${shown} queue ${QUEUE_NAME} (${a.concurrency} at a time); SIGTERM or Ctrl-C to stop after the running ones`, { event: 'ready', queue: shown, name: QUEUE_NAME, concurrency: a.concurrency, pid: process.pid });
  // a signal while it was starting: stop now that it can
  if (stopping) void close(worker, stopping);
  await stopped;
}
