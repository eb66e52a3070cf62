/**
 * Runs one planned item on a loaded pack: one output per pending target, each written atomically
 * (a PNG for a still, an H.264 MP4 for a clip, with the source's audio) and followed by its
 * sidecar. Every target of an item starts from one inversion: edits and reconstructions share the
 * inversion file, swaps share the prepared source (mask, fit, inverted windows). Runs inside an
 * inference worker.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { clipInversionOf, editFrames, invertClip, reconstructFrames } from '../edit/clip-jobs.js';
import { editImage, invertImage, reconstructImage } from '../edit/image-jobs.js';
import type { InversionFile } from '../edit/inversion-file.js';
import { encodeImageOutput, writeClipOutput, type OutputRecord } from '../edit/outputs.js';
import type { RunOptions } from '../edit/progress.js';
import { editInversionInAutoMask } from '../edit/auto-edit.js';
import { prepareSwap, swapPrepared, swapSettingsFrom, type PreparedSwap } from '../edit/swap-jobs.js';
import { editSettingsFrom } from '../edit/settings.js';
import { writeFileAtomic } from '../media/atomic-file.js';
import { readImage, type RgbImage } from '../media/image.js';
import { readMask } from '../media/mask.js';
import { readVideo, type FrameRate } from '../media/video.js';
import type { LoadedPack } from '../model/pack.js';
import { flowEditVersion } from '../version.js';
import type { PlannedItem, PlannedOutput } from './plan.js';
import { assertOutputInside } from './confine.js';
import { makeSidecar, writeSidecar } from './sidecar.js';

export interface OutputDone {
  readonly code: string;
  readonly file: string;
  readonly calls: number;
}

/** One output's pixels: a still, or a clip's frames at the source's rate. */
type Made = { readonly image: RgbImage } | { readonly frames: readonly RgbImage[]; readonly rate: FrameRate };

/** What an item's targets start from, made once per item. */
type Source =
  | { readonly kind: 'inversion'; readonly file: InversionFile; readonly frames?: readonly RgbImage[] }
  | { readonly kind: 'swap'; readonly prepared: PreparedSwap; readonly rate?: FrameRate };

async function prepareSource(pack: LoadedPack, item: PlannedItem, run: RunOptions): Promise<Source> {
  const s = item.settings;
  const media = { ...(item.tools ? { tools: item.tools } : {}), ...(run.signal ? { signal: run.signal } : {}) };
  if (item.command !== 'swap') {
    const settings = { sourcePrompt: item.sourcePrompt, steps: s.steps, solver: s.solver, fit: s.fit };
    const file = item.clip ? await invertClip(pack, item.input, settings, run, item.tools) : await invertImage(pack, item.input, settings, run);
    if (item.command !== 'edit' || !(s.autoMask > 0)) return { kind: 'inversion', file };
    // an edit in an automatic mask keeps the source's pixels outside it
    const frames = item.clip ? (await readVideo(item.input, media)).frames : [await readImage(item.input)];
    return { kind: 'inversion', file, frames };
  }
  const mask = await readMask(item.mask!, media);
  const shape = swapSettingsFrom(s, { sourcePrompt: item.sourcePrompt, targetPrompt: '' }, item.maskOptions!);
  if (!item.clip) return { kind: 'swap', prepared: await prepareSwap(pack, [await readImage(item.input)], mask, shape, run) };
  const clip = await readVideo(item.input, media);
  return { kind: 'swap', prepared: await prepareSwap(pack, clip.frames, mask, shape, run), rate: clip.rate };
}

/** Samples one output from the item's source; its pixels and the model calls behind them. */
async function makeOutput(pack: LoadedPack, item: PlannedItem, src: Source, targetPrompt: string, run: RunOptions): Promise<{ made: Made; calls: number }> {
  const s = item.settings;
  if (src.kind === 'swap') {
    const settings = swapSettingsFrom(s, { sourcePrompt: item.sourcePrompt, targetPrompt, ...(item.negativePrompt !== undefined ? { negativePrompt: item.negativePrompt } : {}) }, item.maskOptions!);
    const out = await swapPrepared(pack, src.prepared, settings, run);
    return { made: src.rate ? { frames: out.frames, rate: src.rate } : { image: out.frames[0]! }, calls: out.calls };
  }
  const file = src.file;
  if (src.frames) {
    const out = await editInversionInAutoMask(pack, file, src.frames, s, targetPrompt, run);
    const rate = file.header.clip?.rate;
    return { made: rate ? { frames: out.frames, rate } : { image: out.frames[0]! }, calls: file.header.calls + out.calls };
  }
  if (item.clip) {
    const ci = clipInversionOf(file);
    if (item.command === 'edit') {
      const edited = await editFrames(pack, ci, editSettingsFrom(s, targetPrompt), run);
      return { made: { frames: edited.frames, rate: ci.rate }, calls: ci.calls + edited.calls };
    }
    return { made: { frames: await reconstructFrames(pack, ci, run), rate: ci.rate }, calls: ci.calls };
  }
  if (item.command === 'edit') {
    const edited = await editImage(pack, file, editSettingsFrom(s, targetPrompt), run);
    return { made: { image: edited.image }, calls: file.inversion.calls + edited.calls };
  }
  return { made: { image: await reconstructImage(pack, file, run) }, calls: file.inversion.calls };
}

function recordOf(pack: LoadedPack, item: PlannedItem, out: PlannedOutput): OutputRecord {
  const s = item.settings;
  const base = { model: pack.manifest.id, flowedit: flowEditVersion(), steps: s.steps, solver: s.solver, seed: s.seed };
  if (item.command === 'reconstruct') return { ...base, command: 'reconstruct', prompt: item.sourcePrompt };
  return {
    ...base,
    command: item.command,
    sourcePrompt: item.sourcePrompt,
    targetPrompt: out.targetPrompt ?? '',
    ...(item.negativePrompt !== undefined ? { negativePrompt: item.negativePrompt } : {}),
    guidance: s.guidance,
    guideAgainst: s.guideAgainst,
    shareLayers: s.shareLayers,
    shareSteps: s.shareSteps,
    ...(item.command === 'edit' && s.autoMask > 0 ? { autoMask: s.autoMask } : {}),
  };
}

/** Writes the output atomically and returns its bytes (for the sidecar's hash). */
async function writeOutput(item: PlannedItem, out: PlannedOutput, made: Made, record: OutputRecord, run: RunOptions): Promise<Buffer> {
  // a link made inside the output folder since the plan was checked must not lead the write out
  const confined = async () => {
    for (const f of [out.file, out.sidecar]) await assertOutputInside(item.outDir, f);
  };
  await confined();
  await mkdir(dirname(out.file), { recursive: true });
  await confined();
  if ('image' in made) {
    const png = await encodeImageOutput(made.image, record);
    await writeFileAtomic(out.file, png);
    return png;
  }
  await writeClipOutput(out.file, made, record, {
    audioFrom: item.input,
    ...(item.tools ? { tools: item.tools } : {}),
    ...(run.signal ? { signal: run.signal } : {}),
    ...(run.onWarning ? { onWarning: run.onWarning } : {}),
  });
  return readFile(out.file);
}

/** Makes the outputs of `item` whose codes are in `pending`. */
export async function executeItem(pack: LoadedPack, item: PlannedItem, pending: readonly string[], run: RunOptions = {}): Promise<OutputDone[]> {
  // 1. the source side, once for every target
  const src = await prepareSource(pack, item, run);
  const done: OutputDone[] = [];
  for (const out of item.outputs.filter((o) => pending.includes(o.code))) {
    run.signal?.throwIfAborted();
    // 2. sample this output
    const { made, calls } = await makeOutput(pack, item, src, out.targetPrompt ?? '', run);
    run.signal?.throwIfAborted();
    // 3. write the output, then its sidecar: a sidecar only ever describes a complete file
    const bytes = await writeOutput(item, out, made, recordOf(pack, item, out), run);
    await writeSidecar(out.sidecar, makeSidecar(item, out, pack.manifest.id, flowEditVersion(), bytes));
    done.push({ code: out.code, file: out.file, calls });
  }
  return done;
}

/** An item runner on an already loaded pack, in this thread: for library use (the CLI uses workers). */
export function packRunner(pack: LoadedPack): { healthy: boolean; run: (item: PlannedItem, pending: readonly string[], hooks: RunOptions) => Promise<OutputDone[]>; close: () => Promise<void> } {
  return { healthy: true, run: (item, pending, hooks) => executeItem(pack, item, pending, hooks), close: async () => undefined };
}
