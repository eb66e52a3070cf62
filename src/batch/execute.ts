/**
 * Runs one planned item on a loaded pack through the job runner every command uses: one output
 * per pending target, all from one source (one inversion, or one prepared swap source). Around
 * each write the batch checks that the output still lies inside the output folder, and after it
 * writes the output's sidecar. Runs inside an inference worker.
 */
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunOptions } from '../edit/latent/progress.js';
import type { JobTarget } from '../jobs/job.js';
import { runTargets } from '../jobs/run-job.js';
import type { LoadedPack } from '../model/pack.js';
import { flowEditVersion } from '../version.js';
import type { PlannedItem, PlannedOutput } from './plan.js';
import { assertOutputInside } from './confine.js';
import { assertWritable, stagedPathFor, withCommitLock } from '../media/atomic-file.js';
import { isDone, makeSidecar, writeSidecar } from './sidecar.js';

export interface OutputDone {
  readonly code: string;
  readonly file: string;
  /** the model calls behind the output, its share of the item's source included */
  readonly calls: number;
}

/** Makes the outputs of `item` whose codes are in `pending`; `onOutput` hears of each once its sidecar is written. */
export async function executeItem(pack: LoadedPack, item: PlannedItem, pending: readonly string[], run: RunOptions = {}, onOutput?: (done: OutputDone) => void): Promise<OutputDone[]> {
  const outputs = item.outputs.filter((o) => pending.includes(o.code));
  // each output is written whole to a staged name, described by its sidecar, then renamed into place:
  // a run killed at any moment leaves an output either in place with its sidecar or not at all,
  // so one that runs the item again never writes an output twice
  const byFile = new Map<string, PlannedOutput>(outputs.map((o) => [stagedPathFor(o.file), o]));
  const done: OutputDone[] = [];
  const targets: JobTarget[] = [...byFile].map(([staged, o]) => ({ output: staged, ...(o.targetPrompt !== undefined ? { targetPrompt: o.targetPrompt } : {}) }));
  await runTargets(pack, item.job, targets, run, {
    // a link made inside the output folder since the plan was checked must not lead the write out
    beforeWrite: async (t) => {
      const out = byFile.get(t.output)!;
      const confined = async () => {
        for (const f of [out.file, out.sidecar, t.output]) await assertOutputInside(item.outDir, f);
      };
      await confined();
      await mkdir(dirname(out.file), { recursive: true });
      await confined();
      await assertWritable(out.file); // e.g. not a folder: said before the output is made, not when it is renamed into place
      // another worker given the same item (its first taker thought dead) may have made it meanwhile
      return !(await isDone(out));
    },
    // a sidecar only ever describes a complete file; of two workers that made the same output,
    // the second to commit finds the first's in place and drops its own
    afterWrite: async (t, calls) => {
      const out = byFile.get(t.output)!;
      const committed = await withCommitLock(out.file, async () => {
        try {
          if (await isDone(out)) return false;
          await writeSidecar(out.sidecar, makeSidecar(item, out, pack.manifest.id, flowEditVersion(), await readFile(t.output)));
          for (const f of [out.file, t.output]) await assertOutputInside(item.outDir, f);
          await rename(t.output, out.file);
          return true;
        } finally {
          await rm(t.output, { force: true });
        }
      });
      if (!committed) return;
      const one = { code: out.code, file: out.file, calls };
      done.push(one);
      onOutput?.(one);
    },
  });
  return done;
}

/** An item runner on an already loaded pack, in this thread: for library use (the CLI uses workers). */
export function packRunner(pack: LoadedPack): { healthy: boolean; run: (item: PlannedItem, pending: readonly string[], hooks: RunOptions) => Promise<OutputDone[]>; close: () => Promise<void> } {
  return { healthy: true, run: (item, pending, hooks) => executeItem(pack, item, pending, hooks), close: async () => undefined };
}
