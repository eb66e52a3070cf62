/**
 * Runs one planned item on a loaded pack: one output per pending target, each written atomically
 * (a PNG for a still, an H.264 MP4 for a clip, with the source's audio) and followed by its
 * sidecar. Every target of an item starts from one inversion: edits and reconstructions share the
 * inversion file, swaps share the prepared source (mask, fit, inverted windows). Runs inside an
 * inference worker.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decodeWorkFrames, editClipWork, invertClip, planWorkSize, reconstructClipWork, restoredFrames } from '../edit/clip-jobs.js';
import { editImage, invertImage, reconstructImage } from '../edit/image-jobs.js';
import type { InversionFile } from '../edit/inversion-file.js';
import { encodeImageOutput, writeClipOutput, type OutputRecord } from '../edit/outputs.js';
import type { RunOptions } from '../edit/progress.js';
import { editInversionInAutoMask, editInversionInAutoMaskWork } from '../edit/auto-edit.js';
import { blendSwapped, prepareSwap, prepareSwapWork, swapPrepared, swapSettingsFrom, swapToWork, type PreparedSwap, type SwapSource } from '../edit/swap-jobs.js';
import { editSettingsFrom } from '../edit/settings.js';
import { writeFileAtomic } from '../media/atomic-file.js';
import { readImage, type RgbImage } from '../media/image.js';
import { readMask } from '../media/mask.js';
import { probeVideo, videoFrames, type FrameRate, type FrameSource, type VideoInfo } from '../media/video.js';
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

/** One output's pixels: a still, or a clip's frames at the source's rate (streamed as they are encoded). */
type Made = { readonly image: RgbImage } | { readonly frames: FrameSource; readonly rate: FrameRate };

/**
 * What an item's targets start from, made once per item. A clip's model side holds working-size
 * frames only; its source's full-resolution frames stream from the decoder into each output.
 */
type Source =
  | { readonly kind: 'inversion'; readonly file: InversionFile; readonly still?: RgbImage }
  | { readonly kind: 'swap'; readonly prepared: PreparedSwap }
  | { readonly kind: 'swap-clip'; readonly prepared: SwapSource; readonly info: VideoInfo };

/** What reading the item's media needs: ffmpeg for clips, and the cancel signal. */
function mediaOf(item: PlannedItem, run: RunOptions): { tools?: PlannedItem['tools']; signal?: AbortSignal; maxInputPixels?: number } {
  return { ...(item.tools ? { tools: item.tools } : {}), ...(run.signal ? { signal: run.signal } : {}), ...limitOf(item) };
}

/** The item's pixel limit, when it is not the default. */
function limitOf(item: PlannedItem): { maxInputPixels?: number } {
  return item.maxInputPixels !== undefined ? { maxInputPixels: item.maxInputPixels } : {};
}

async function prepareSource(pack: LoadedPack, item: PlannedItem, run: RunOptions): Promise<Source> {
  const s = item.settings;
  const media = mediaOf(item, run);
  if (item.command !== 'swap') {
    const settings = { sourcePrompt: item.sourcePrompt, steps: s.steps, solver: s.solver, ...(s.shift !== undefined ? { shift: s.shift } : {}), fit: s.fit, ...limitOf(item) };
    const file = item.clip ? await invertClip(pack, item.input, settings, run, item.tools) : await invertImage(pack, item.input, settings, run);
    // a still's edit in an automatic mask keeps the source's pixels outside it (a clip streams them)
    if (item.command === 'edit' && s.autoMask > 0 && !item.clip) return { kind: 'inversion', file, still: await readImage(item.input, limitOf(item)) };
    return { kind: 'inversion', file };
  }
  const mask = await readMask(item.mask!, { ...(item.tools ? { tools: item.tools } : {}), ...(run.signal ? { signal: run.signal } : {}) });
  const shape = swapSettingsFrom(s, { sourcePrompt: item.sourcePrompt, targetPrompt: '' }, item.maskOptions!);
  if (!item.clip) return { kind: 'swap', prepared: await prepareSwap(pack, [await readImage(item.input, limitOf(item))], mask, shape, run) };
  const info = await probeVideo(item.input, item.tools);
  const fit = planWorkSize(pack, info.width, info.height, s.fit);
  const work = await decodeWorkFrames(item.input, info, fit, media);
  return { kind: 'swap-clip', prepared: await prepareSwapWork(pack, work, fit, mask, shape, run), info };
}

/** Samples one output from the item's source; its pixels and the model calls behind them. */
async function makeOutput(pack: LoadedPack, item: PlannedItem, src: Source, targetPrompt: string, run: RunOptions): Promise<{ made: Made; calls: number }> {
  const s = item.settings;
  const media = mediaOf(item, run);
  if (src.kind !== 'inversion') {
    const settings = swapSettingsFrom(s, { sourcePrompt: item.sourcePrompt, targetPrompt, ...(item.negativePrompt !== undefined ? { negativePrompt: item.negativePrompt } : {}) }, item.maskOptions!);
    if (src.kind === 'swap') {
      const out = await swapPrepared(pack, src.prepared, settings, run);
      return { made: { image: out.frames[0]! }, calls: out.calls };
    }
    const out = await swapToWork(pack, src.prepared, settings, run);
    const frames = blendSwapped(src.prepared, out.frames, videoFrames(item.input, { ...media, info: src.info }));
    return { made: { frames, rate: src.info.rate }, calls: out.calls };
  }
  const file = src.file;
  if (item.command === 'edit' && s.autoMask > 0) {
    if (src.still) {
      const out = await editInversionInAutoMask(pack, file, [src.still], s, targetPrompt, run);
      return { made: { image: out.frames[0]! }, calls: file.header.calls + out.calls };
    }
    const out = await editInversionInAutoMaskWork(pack, file, s, targetPrompt, run);
    const frames = blendSwapped(out.source, out.frames, videoFrames(item.input, media));
    return { made: { frames, rate: file.header.clip!.rate }, calls: file.header.calls + out.calls };
  }
  if (item.clip) {
    if (item.command === 'edit') {
      const edited = await editClipWork(pack, file, editSettingsFrom(s, targetPrompt), run);
      return { made: { frames: restoredFrames(edited.frames, edited.fit), rate: edited.rate }, calls: file.header.calls + edited.calls };
    }
    const rec = await reconstructClipWork(pack, file, run);
    return { made: { frames: restoredFrames(rec.frames, rec.fit), rate: rec.rate }, calls: file.header.calls };
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
    ...(s.shareText ? { shareText: true } : {}),
    ...(s.shift !== undefined ? { shift: s.shift } : {}),
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
  // the source's audio and format (pixel aspect, depth, chroma)
  const like = await probeVideo(item.input, item.tools);
  await writeClipOutput(out.file, made, record, {
    audioFrom: item.input,
    like,
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
