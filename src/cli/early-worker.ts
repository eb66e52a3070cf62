/**
 * A command's inference worker, started before its checks: while the main thread checks the
 * request (reads the input, probes clips, tokenizes prompts), the worker loads the pack the job
 * will run on, and the job then waits only for what is left of that load.
 */
import { checkModelFlags, resolvePack } from '../jobs/checks.js';
import { warmTools } from '../media/ffmpeg-tools.js';
import { isVideoPath } from '../media/video.js';
import type { Plan } from '../jobs/plan.js';
import { createTaskPool, type TaskPool } from '../jobs/pool.js';
import { takeBootedWorker } from '../jobs/worker-boot.js';
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

/** Whether a command names a clip to read or write (its input, mask or output), so that it will run ffmpeg. */
function namesClip(a: object): boolean {
  const paths = a as { input?: unknown; image?: unknown; mask?: unknown; output?: unknown };
  return [paths.input, paths.image, paths.mask, paths.output].some((p) => typeof p === 'string' && isVideoPath(p));
}

/**
 * Plans a command with its worker loading the pack alongside, then runs the plan on that worker.
 * A plan that fails or stops (--print-config, where no worker starts) stops the worker once the
 * load it has begun has settled.
 * A command on clips gets both threads ready to start ffmpeg (warmTools) as it begins.
 */
export async function planWithWorker(a: ModelRequest & Partial<PresetArgs>, plan: () => Promise<Plan | undefined>, run: (plan: Plan, pool: TaskPool) => Promise<void>): Promise<void> {
  // the worker the command started first thing (cli/boot.ts), when it did
  const pool = createTaskPool({ size: 1 }, takeBootedWorker());
  const tools = !a['print-config'] && namesClip(a);
  if (tools) warmTools();
  if (!a['print-config']) void packRefOf(a).then((ref) => ref && pool.preload(ref, { tools }));
  let planned: Plan | undefined;
  try {
    planned = await plan();
  } catch (err) {
    // the worker stops once its load has settled: terminated while onnxruntime opens a session, the process would abort
    void pool.close();
    throw err;
  }
  if (!planned) return void pool.close();
  await run(planned, pool);
}
