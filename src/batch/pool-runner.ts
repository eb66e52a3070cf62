/**
 * Batch items on the worker pool: an item runner is a pool of one worker, whose pack is loaded
 * before the runner is handed out and kept for every item it runs.
 */
import type { Progress } from '../edit/latent/progress.js';
import type { Profile } from '../media/profile.js';
import { createTaskPool, WorkerStoppedError } from '../jobs/pool.js';
import { defineTask, loadTask, type PackRef } from '../jobs/pool-task.js';
import { executeItem, type OutputDone } from './execute.js';
import type { PlannedItem } from './plan.js';
import type { ItemRunner } from './run.js';

export interface ItemTaskInput extends PackRef {
  readonly item: PlannedItem;
  /** the codes of the item's outputs still to make */
  readonly pending: readonly string[];
}

/** Makes an item's pending outputs on the worker's pack. */
export const itemTask = defineTask<ItemTaskInput, OutputDone[], Progress>(import.meta.url, 'itemTask', (pack, input, run) => executeItem(pack, input.item, input.pending, run));

/** A pool of one inference worker with the pack loaded; a pack that fails to load ends it. */
export async function startLoadedPool(ref: PackRef, onProfile?: (p: Profile) => void): Promise<ReturnType<typeof createTaskPool>> {
  const pool = createTaskPool({ size: 1 });
  try {
    await pool.runTask(loadTask, ref, onProfile ? { onProfile } : {});
  } catch (err) {
    await pool.terminate();
    throw new Error(`cannot load the model pack: ${(err as Error).message}`);
  }
  return pool;
}

/** Starts a worker and resolves once its model is loaded; with `onProfile`, the load and every item are profiled. */
export async function startPoolRunner(ref: PackRef, onProfile?: (p: Profile) => void): Promise<ItemRunner> {
  const pool = await startLoadedPool(ref, onProfile);
  let healthy = true;
  return {
    get healthy() {
      return healthy;
    },
    run: (item, pending, hooks) =>
      pool.runTask(itemTask, { ...ref, item, pending }, onProfile ? { ...hooks, onProfile } : hooks).catch((err: unknown) => {
        // its worker is gone: the runner is closed and another started
        if (err instanceof WorkerStoppedError) healthy = false;
        throw err;
      }),
    close() {
      healthy = false;
      return pool.close();
    },
  };
}
