/**
 * An inference worker started ahead of its pool: a command that will run a model starts it first
 * thing (cli/boot.ts), so that the worker's own start (a thread, its modules, onnxruntime: about
 * 0.2 s here) and, where the command line leaves no doubt about the pack, the pack's load run
 * beside the loading of the command's modules and its checks instead of after them. The command's
 * pool then adopts the worker (createTaskPool). This module imports nothing heavy: it is
 * evaluated before the rest of the command line.
 */
import { Worker } from 'node:worker_threads';
import type { PoolParentMessage } from './pool-protocol.js';
import type { PackRef } from './pool-task.js';

/** The worker started by bootPoolWorker, until a pool takes it; null once it has stopped. */
let booted: Worker | null = null;
/** whether it was asked to load a pack (then it must stop cleanly: see stopBootedWorker) */
let loading = false;

/** A new pool worker thread (pool-worker.ts), not keeping the process alive. */
export function newPoolWorker(): Worker {
  const worker = new Worker(new URL('./pool-worker.js', import.meta.url));
  worker.unref();
  return worker;
}

/** Starts a pool worker now. It does not keep the process alive until a pool gives it work. */
export function bootPoolWorker(): void {
  if (booted) return;
  const worker = newPoolWorker();
  // a worker that fails before a pool takes it is dropped: the pool starts its own, which reports the failure
  const drop = () => {
    if (booted === worker) booted = null;
  };
  worker.once('error', drop);
  worker.once('exit', drop);
  booted = worker;
}

/** Has the booted worker, if there is one and no pool has taken it yet, start loading `ref`. */
export function loadOnBootedWorker(ref: PackRef): void {
  if (!booted) return;
  loading = true;
  booted.postMessage({ type: 'load', ref } satisfies PoolParentMessage);
}

/** The booted worker, still running, for a pool to adopt (once); null when none was started or it has stopped. */
export function takeBootedWorker(): Worker | null {
  const worker = booted;
  booted = null;
  return worker;
}

/**
 * Stops a booted worker no pool took (a command refused before it planned): once its load has
 * settled, since a worker stopped while onnxruntime opens a session aborts the process.
 */
export async function stopBootedWorker(): Promise<void> {
  const worker = takeBootedWorker();
  if (!worker) return;
  if (!loading) return void (await worker.terminate());
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.ref();
  worker.postMessage({ type: 'stop' } satisfies PoolParentMessage);
  await exited;
}
