/**
 * Runs one planned item on a loaded pack through the job runner every command uses: one output
 * per pending target, all from one source (one inversion, or one prepared swap source). Around
 * each write the batch checks that the output still lies inside the output folder, and after it
 * writes the output's sidecar. Runs inside an inference worker.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RunOptions } from '../edit/latent/progress.js';
import type { JobTarget } from '../jobs/job.js';
import { runTargets } from '../jobs/run-job.js';
import type { LoadedPack } from '../model/pack.js';
import { flowEditVersion } from '../version.js';
import type { PlannedItem, PlannedOutput } from './plan.js';
import { assertOutputInside } from './confine.js';
import { makeSidecar, writeSidecar } from './sidecar.js';

export interface OutputDone {
  readonly code: string;
  readonly file: string;
  /** the model calls behind the output, its share of the item's source included */
  readonly calls: number;
}

/** Makes the outputs of `item` whose codes are in `pending`; `onOutput` hears of each once its sidecar is written. */
export async function executeItem(pack: LoadedPack, item: PlannedItem, pending: readonly string[], run: RunOptions = {}, onOutput?: (done: OutputDone) => void): Promise<OutputDone[]> {
  const outputs = item.outputs.filter((o) => pending.includes(o.code));
  const byFile = new Map<string, PlannedOutput>(outputs.map((o) => [o.file, o]));
  const done: OutputDone[] = [];
  const targets: JobTarget[] = outputs.map((o) => ({ output: o.file, ...(o.targetPrompt !== undefined ? { targetPrompt: o.targetPrompt } : {}) }));
  await runTargets(pack, item.job, targets, run, {
    // a link made inside the output folder since the plan was checked must not lead the write out
    beforeWrite: async (t) => {
      const out = byFile.get(t.output)!;
      const confined = async () => {
        for (const f of [out.file, out.sidecar]) await assertOutputInside(item.outDir, f);
      };
      await confined();
      await mkdir(dirname(out.file), { recursive: true });
      await confined();
    },
    // a sidecar only ever describes a complete file
    afterWrite: async (t, calls) => {
      const out = byFile.get(t.output)!;
      await writeSidecar(out.sidecar, makeSidecar(item, out, pack.manifest.id, flowEditVersion(), await readFile(out.file)));
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
