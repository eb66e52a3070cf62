/** A planned job on the command line: run on the worker, then its --compare picture, then the result line (and --json). */
import type { Plan } from '../jobs/plan.js';
import type { TaskPool } from '../jobs/pool.js';
import { planCompare, withCompare, type CompareArgs } from './compare.js';
import { reportDone, type ResultArgs } from './progress/result.js';
import { runInWorker } from './run-in-worker.js';
import { profileSink } from './profile.js';

/** Runs the plan on `pool` (a pool of one, perhaps loading the pack already), which it closes; a check failing here stops it at once. */
export async function runPlan(a: ResultArgs & Partial<CompareArgs> & { force?: boolean | undefined; ffmpeg?: string | undefined; profile?: string | undefined }, plan: Plan, pool: TaskPool, what = 'wrote'): Promise<void> {
  const args = { ...a, compare: a.compare };
  const compare = await planCompare(args, plan.spec).catch((err: unknown) => {
    // the worker stops once the load it may have begun has settled: ended while onnxruntime opens a session, the process would abort
    void pool.close();
    throw err;
  });
  const profile = profileSink(a.profile);
  const summary = await runInWorker(compare.spec, a, pool, profile.onProfile).catch(async (err: unknown) => {
    await compare.discard();
    throw err;
  });
  await compare.write();
  reportDone(what, withCompare(summary, args, compare), a, plan.config);
  await profile.finish();
}
