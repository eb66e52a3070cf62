/**
 * Runs one planned item on a loaded pack: one inversion, then one output per pending target, each
 * PNG written atomically and followed by its sidecar. Runs inside an inference worker.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { editImage, invertImage, reconstructImage } from '../edit/image-jobs.js';
import { encodeImageOutput, type OutputRecord } from '../edit/outputs.js';
import type { RunOptions } from '../edit/progress.js';
import { writeFileAtomic } from '../media/atomic-file.js';
import type { LoadedPack } from '../model/pack.js';
import { flowEditVersion } from '../version.js';
import type { PlannedItem } from './plan.js';
import { makeSidecar, writeSidecar } from './sidecar.js';

export interface OutputDone {
  readonly code: string;
  readonly png: string;
  readonly calls: number;
}

/** Makes the outputs of `item` whose codes are in `pending`. */
export async function executeItem(pack: LoadedPack, item: PlannedItem, pending: readonly string[], run: RunOptions = {}): Promise<OutputDone[]> {
  const s = item.settings;
  const base = { model: pack.manifest.id, flowedit: flowEditVersion(), steps: s.steps, solver: s.solver, seed: s.seed };
  // 1. invert once; every target of the item starts from the same noise
  const file = await invertImage(pack, item.input, { sourcePrompt: item.sourcePrompt, steps: s.steps, solver: s.solver, fit: s.fit }, run);
  const done: OutputDone[] = [];
  for (const out of item.outputs.filter((o) => pending.includes(o.code))) {
    run.signal?.throwIfAborted();
    // 2. sample this output
    let image;
    let record: OutputRecord;
    let calls = file.inversion.calls;
    if (item.command === 'edit') {
      const targetPrompt = out.targetPrompt ?? '';
      const edited = await editImage(pack, file, { targetPrompt, guidance: s.guidance, share: { layers: s.shareLayers, fraction: s.shareSteps } }, run);
      image = edited.image;
      calls += edited.calls;
      record = { ...base, command: 'edit', sourcePrompt: item.sourcePrompt, targetPrompt, guidance: s.guidance, shareLayers: s.shareLayers, shareSteps: s.shareSteps };
    } else {
      image = await reconstructImage(pack, file, run);
      record = { ...base, command: 'reconstruct', prompt: item.sourcePrompt };
    }
    run.signal?.throwIfAborted();
    // 3. write the PNG, then its sidecar: a sidecar only ever describes a complete PNG
    const png = await encodeImageOutput(image, record);
    await mkdir(dirname(out.png), { recursive: true });
    await writeFileAtomic(out.png, png);
    await writeSidecar(out.sidecar, makeSidecar(item, out, pack.manifest.id, flowEditVersion(), png));
    done.push({ code: out.code, png: out.png, calls });
  }
  return done;
}

/** An item runner on an already loaded pack, in this thread: for library use (the CLI uses workers). */
export function packRunner(pack: LoadedPack): { healthy: boolean; run: (item: PlannedItem, pending: readonly string[], hooks: RunOptions) => Promise<OutputDone[]>; close: () => Promise<void> } {
  return { healthy: true, run: (item, pending, hooks) => executeItem(pack, item, pending, hooks), close: async () => undefined };
}
