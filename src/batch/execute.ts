/**
 * Runs one planned item on a loaded pack: one output per pending target, each PNG written
 * atomically and followed by its sidecar. Edits and reconstructions share one inversion; a swap
 * inverts inside each target's run. Runs inside an inference worker.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { editImage, invertImage, reconstructImage } from '../edit/image-jobs.js';
import { encodeImageOutput, type OutputRecord } from '../edit/outputs.js';
import type { RunOptions } from '../edit/progress.js';
import { swapImage, swapSettingsFrom } from '../edit/swap-jobs.js';
import { writeFileAtomic } from '../media/atomic-file.js';
import { readImage, type RgbImage } from '../media/image.js';
import { readMask } from '../media/mask.js';
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
  // 1. edits and reconstructions invert once, so every target starts from the same noise;
  //    a swap reads its source and mask once
  const file = item.command === 'swap' ? null : await invertImage(pack, item.input, { sourcePrompt: item.sourcePrompt, steps: s.steps, solver: s.solver, fit: s.fit }, run);
  const swapInputs = item.command === 'swap' ? { source: await readImage(item.input), mask: await readMask(item.mask!) } : null;
  const done: OutputDone[] = [];
  for (const out of item.outputs.filter((o) => pending.includes(o.code))) {
    run.signal?.throwIfAborted();
    // 2. sample this output
    let image: RgbImage;
    let record: OutputRecord;
    let calls: number;
    const targetPrompt = out.targetPrompt ?? '';
    if (swapInputs) {
      const settings = swapSettingsFrom(s, { sourcePrompt: item.sourcePrompt, targetPrompt }, item.maskOptions!);
      const swapped = await swapImage(pack, swapInputs.source, swapInputs.mask, settings, run);
      image = swapped.image;
      calls = swapped.calls;
      record = { ...base, command: 'swap', sourcePrompt: item.sourcePrompt, targetPrompt, guidance: s.guidance, shareLayers: s.shareLayers, shareSteps: s.shareSteps };
    } else if (item.command === 'edit') {
      const edited = await editImage(pack, file!, { targetPrompt, guidance: s.guidance, share: { layers: s.shareLayers, fraction: s.shareSteps } }, run);
      image = edited.image;
      calls = file!.inversion.calls + edited.calls;
      record = { ...base, command: 'edit', sourcePrompt: item.sourcePrompt, targetPrompt, guidance: s.guidance, shareLayers: s.shareLayers, shareSteps: s.shareSteps };
    } else {
      image = await reconstructImage(pack, file!, run);
      calls = file!.inversion.calls;
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
