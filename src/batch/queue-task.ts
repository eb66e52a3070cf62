/**
 * A queued item on the worker pool: the item's pending outputs made as a local batch makes them
 * (executeItem: confinement before each write, atomic writes, the sidecar after), each output
 * reported as soon as its sidecar is written, so a worker killed between two outputs has told of
 * the first.
 */
import type { Progress } from '../edit/latent/progress.js';
import { WorkerStoppedError } from '../jobs/pool.js';
import { defineTask, type PackRef } from '../jobs/pool-task.js';
import { executeItem, type OutputDone } from './execute.js';
import { startLoadedPool, type ItemTaskInput } from './pool-runner.js';
import type { PlannedItem } from './plan.js';

/** What the task reports while it runs: its progress, or an output written. */
export type QueueItemEvent = { readonly progress: Progress } | { readonly output: OutputDone };

export const queueItemTask = defineTask<ItemTaskInput, OutputDone[], QueueItemEvent>(import.meta.url, 'queueItemTask', (pack, input, run) =>
  executeItem(pack, input.item, input.pending, { signal: run.signal, onProgress: (progress) => run.onProgress({ progress }), onWarning: run.onWarning }, (output) => run.onProgress({ output })),
);

export interface QueueItemRunner {
  readonly packDir: string;
  readonly healthy: boolean;
  run(item: PlannedItem, pending: readonly string[], hooks: { signal?: AbortSignal; onEvent: (e: QueueItemEvent) => void; onWarning: (message: string) => void }): Promise<OutputDone[]>;
  close(): Promise<void>;
}

/** Starts an inference worker on the pack and resolves once the model is loaded. */
export async function startQueueItemRunner(ref: PackRef): Promise<QueueItemRunner> {
  const pool = await startLoadedPool(ref);
  let healthy = true;
  return {
    packDir: ref.packDir,
    get healthy() {
      return healthy;
    },
    run: (item, pending, hooks) =>
      pool.runTask(queueItemTask, { ...ref, item, pending }, { ...(hooks.signal ? { signal: hooks.signal } : {}), onProgress: hooks.onEvent, onWarning: hooks.onWarning }).catch((err: unknown) => {
        if (err instanceof WorkerStoppedError) healthy = false;
        throw err;
      }),
    close() {
      healthy = false;
      return pool.close();
    },
  };
}
