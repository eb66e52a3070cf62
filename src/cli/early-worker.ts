/**
 * A command's inference worker, started before its checks: while the main thread checks the
 * request (reads the input, probes clips, tokenizes prompts), the worker loads the pack the job
 * will run on, and the job then waits only for what is left of that load.
 */
import { checkModelFlags, resolvePack } from '../jobs/checks.js';
import type { Plan } from '../jobs/plan.js';
import { createTaskPool, type TaskPool } from '../jobs/pool.js';
import type { PackRef } from '../jobs/pool-task.js';
import type { ModelRequest } from '../jobs/request.js';
import type { PresetArgs } from './options.js';

/** The pack a request's job will run on, keyed as the job is (packDir, threads, device); null if the checks will refuse it. */
async function packRefOf(a: ModelRequest): Promise<PackRef | null> {
  try {
    const model = checkModelFlags(a);
    return { packDir: (await resolvePack(a)).dir, ...model };
  } catch {
    // the plan reports a bad pack or flag, with the command's message
    return null;
  }
}

/**
 * Plans a command with its worker loading the pack alongside, then runs the plan on that worker.
 * A plan that fails or stops (--print-config, where no worker starts) stops the worker at once.
 */
export async function planWithWorker(a: ModelRequest & Partial<PresetArgs>, plan: () => Promise<Plan | undefined>, run: (plan: Plan, pool: TaskPool) => Promise<void>): Promise<void> {
  const pool = createTaskPool({ size: 1 });
  if (!a['print-config']) void packRefOf(a).then((ref) => ref && pool.preload(ref));
  let planned: Plan | undefined;
  try {
    planned = await plan();
  } catch (err) {
    void pool.terminate();
    throw err;
  }
  if (!planned) return void pool.terminate();
  await run(planned, pool);
}
