/**
 * What a pool worker can run besides a job: a task, defined in the layer that owns its code (a
 * batch item in batch/, a layer study in vital/) and found by the worker through its module. Every
 * task names the pack it runs on; the worker loads it, or reuses the one it kept from its last task
 * or loaded ahead of it (WorkerPool.preload).
 */
import { loadPack, type LoadedPack } from '../model/pack.js';
import type { Device } from '../model/devices.js';

/** The pack a task runs on, and how it is loaded. */
export interface PackRef {
  readonly packDir: string;
  /** CPU threads of the model's sessions (absent or 0: a session's default, the physical cores on Linux; a pool of several workers gives each an equal share) */
  readonly threads?: number;
  /** where the model runs (absent: cpu) */
  readonly device?: Device;
}

/** Loads the pack `ref` names, on its device and threads. */
export function loadPackOf(ref: PackRef): Promise<LoadedPack> {
  return loadPack(ref.packDir, { ...(ref.threads ? { threads: ref.threads } : {}), ...(ref.device ? { device: ref.device } : {}) });
}

/** What a task gets besides its input, in the worker. */
export interface TaskRun<P> {
  readonly signal: AbortSignal;
  readonly onProgress: (p: P) => void;
  readonly onWarning: (message: string) => void;
  /** seconds this task waited for its pack to load (0: the worker's kept pack, or one preloaded before the task came) */
  readonly loadSeconds: number;
}

/**
 * A kind of task: `I` in (structured-cloneable, naming its pack), `R` out (likewise), progress
 * events `P`. `module` and `name` say where the worker finds it: the export `name` of `module`.
 */
export interface PoolTask<I extends PackRef, R, P> {
  readonly module: string;
  readonly name: string;
  readonly run: (pack: LoadedPack, input: I, run: TaskRun<P>) => Promise<R>;
}

/**
 * Defines a task. Call it at the top level of a module as `export const <name> = defineTask(
 * import.meta.url, '<name>', run)`, so that the worker finds it under that name.
 */
export function defineTask<I extends PackRef, R, P>(module: string, name: string, run: PoolTask<I, R, P>['run']): PoolTask<I, R, P> {
  return { module, name, run };
}

/** Only loads the task's pack (or keeps the loaded one): a worker made ready before its first real task. */
export const loadTask = defineTask<PackRef, { loadSeconds: number }, never>(import.meta.url, 'loadTask', async (_pack, _input, run) => ({ loadSeconds: run.loadSeconds }));
