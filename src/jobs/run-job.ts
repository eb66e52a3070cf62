/**
 * Runs a job from its validated spec, for every task: the source side is made once (an inversion
 * read or made, a swap's prepared source), then each target's output is sampled and written
 * atomically (a PNG for a still, an H.264 clip with the source's audio). A command's job has one
 * target; a batch item's has one per output, with hooks around each write.
 */
import { existsSync } from 'node:fs';
import { decodeWorkFrames, editClipWork, editImage, invertClip, invertImage, planWorkSize, reconstructClipWork, reconstructImage, restoredFrames } from '../edit/frames/pipeline.js';
import { generateFrames } from '../edit/frames/generate.js';
import { readInversion, type InversionFile } from '../edit/frames/inversion-file.js';
import { writeClipOutput, writeImageOutput, writeInversionFile, type OutputRecord } from '../edit/records/outputs.js';
import type { RunOptions } from '../edit/latent/progress.js';
import { blendSwapped, preparedFromInversion, prepareSwap, prepareSwapWork, sourceFromInversion, swapPrepared, swapSettingsFrom, swapToWork, type SwapSource } from '../edit/frames/swap-jobs.js';
import { editSettingsFrom, type Settings } from '../edit/frames/settings.js';
import { editInversionInAutoMask, editInversionInAutoMaskWork } from '../edit/frames/auto-edit.js';
import { findFfmpeg, type FfmpegTools } from '../media/ffmpeg-tools.js';
import { isIdentityPlan } from '../media/fit.js';
import { encodePng, readImage, type RgbImage } from '../media/image.js';
import { maskFrame, maskPlaneImage, readMask, type ShapedMask } from '../media/mask.js';
import { writeFileAtomic } from '../media/atomic-file.js';
import { isVideoPath, probeVideo, videoFrames, writeVideo, type FrameRate, type FrameSource, type VideoInfo } from '../media/video.js';
import type { LoadedPack } from '../model/pack.js';
import { modelCallsFor } from '../solvers/index.js';
import type { JobSpec, JobSummary, JobTarget } from './job.js';
import { editRecord, generateRecord, reconstructRecord, recordBase, swapRecord, type RecordBase } from './output-record.js';
import { loadPackOf } from './pool-task.js';

type Job<K extends JobSpec['kind']> = Extract<JobSpec, { kind: K }>;

/** What only some callers do around each output (a batch: confinement before, a sidecar after). */
export interface TargetHooks {
  /** right before the target's output is written; false: it is already there (made elsewhere), so it is neither written nor followed by afterWrite */
  readonly beforeWrite?: (target: JobTarget) => Promise<boolean | void>;
  /** once the target's output is complete on disk, with the model calls it took (the shared source's included) */
  readonly afterWrite?: (target: JobTarget, calls: number) => Promise<void>;
}

/** The model calls a job took: for its shared source, and for each target. */
export interface TargetsRun {
  readonly sourceCalls: number;
  readonly targetCalls: readonly number[];
}

/** One output's pixels: a still, or a clip's frames at a rate (streamed as they are encoded), with where its audio and format come from. */
type Made = { readonly image: RgbImage } | { readonly frames: FrameSource; readonly rate: FrameRate; readonly audioFrom?: string; readonly like?: VideoInfo };

/** A job's source side, made once: what makes each target's output. */
interface Prepared {
  /** model calls spent making the source (an inversion made here) */
  readonly calls: number;
  readonly make: (target: JobTarget) => Promise<{ made: Made; calls: number; record: OutputRecord; after?: () => Promise<void> }>;
}

/** What reading media for a job needs: ffmpeg (for clips), the cancel signal and the pixel limit. */
interface Media {
  tools?: FfmpegTools;
  signal?: AbortSignal;
  maxInputPixels?: number;
}

function mediaOf(job: JobSpec, run: RunOptions, tools?: FfmpegTools): Media {
  return { ...(tools ? { tools } : {}), ...(run.signal ? { signal: run.signal } : {}), ...(job.maxInputPixels !== undefined ? { maxInputPixels: job.maxInputPixels } : {}) };
}

/** A still's pixels, refused before decoding when larger than the job's pixel limit. */
function readStill(path: string, media: Media): Promise<RgbImage> {
  return readImage(path, media.maxInputPixels !== undefined ? { maxInputPixels: media.maxInputPixels } : {});
}

/** The mask as applied, one image per frame, made as the encoder takes them. */
async function* maskPlanes(mask: ShapedMask, count: number): AsyncGenerator<RgbImage> {
  for (let f = 0; f < count; f++) yield maskPlaneImage(await mask.plane(mask.count === 1 ? 0 : f), mask.width, mask.height);
}

/** A clip made from an inversion's source: its audio and format are the source's while it is still there. */
async function clipLike(path: string, tools: FfmpegTools): Promise<{ audioFrom?: string; like?: VideoInfo }> {
  const like = existsSync(path) ? await probeVideo(path, tools).catch(() => undefined) : undefined;
  return like ? { audioFrom: path, like } : {};
}

/** Writes a still as PNG or a clip's frames as H.264, with its record. */
async function writeMade(job: JobSpec, output: string, made: Made, record: OutputRecord, run: RunOptions): Promise<void> {
  if ('image' in made) return writeImageOutput(output, made.image, record);
  const { frames, rate, audioFrom, like } = made;
  await writeClipOutput(output, { frames, rate }, record, {
    tools: await findFfmpeg(job.ffmpeg),
    ...(audioFrom !== undefined ? { audioFrom } : {}),
    ...(like ? { like } : {}),
    ...(run.signal ? { signal: run.signal } : {}),
    ...(run.onWarning ? { onWarning: run.onWarning } : {}),
  });
}

/** An image or a clip inverted under the source prompt and the settings' steps, solver, schedule and fit. */
async function invertInput(pack: LoadedPack, job: JobSpec & { readonly input: string }, how: { inputIsVideo?: boolean; sourcePrompt: string; settings: Settings }, run: RunOptions): Promise<InversionFile> {
  const s = how.settings;
  const settings = {
    sourcePrompt: how.sourcePrompt,
    steps: s.steps,
    solver: s.solver,
    ...(s.shift !== undefined ? { shift: s.shift } : {}),
    fit: s.fit,
    ...(job.maxInputPixels !== undefined ? { maxInputPixels: job.maxInputPixels } : {}),
  };
  if (!how.inputIsVideo) return invertImage(pack, job.input, settings, run);
  return invertClip(pack, job.input, { ...settings, ...(job.overlap !== undefined ? { overlap: job.overlap } : {}), ...(job.window !== undefined ? { window: job.window } : {}) }, run, await findFfmpeg(job.ffmpeg));
}

/** Reconstructions of an inversion (read, or made from the input first). */
async function prepareReconstruct(pack: LoadedPack, job: Job<'reconstruct'>, run: RunOptions, base: RecordBase): Promise<Prepared> {
  const file = job.from ? await invertInput(pack, job, job.from, run) : await readInversion(job.input);
  const { header } = file;
  const record = reconstructRecord(base, job, header);
  const calls = (header.clip?.windows.length ?? 1) * modelCallsFor(header.settings.solver, header.settings.steps);
  const like = header.clip ? await clipLike(header.source.path, await findFfmpeg(job.ffmpeg)) : {};
  return {
    calls: job.from ? header.calls : 0,
    make: async () => {
      if (!header.clip) return { made: { image: await reconstructImage(pack, file, run) }, calls, record };
      const rec = await reconstructClipWork(pack, file, run);
      return { made: { frames: restoredFrames(rec.frames, rec.fit), rate: rec.rate, ...like }, calls, record };
    },
  };
}

/** Edits of one inversion (read, or made from the input), everywhere or inside the mask the prompts give. */
async function prepareEdit(pack: LoadedPack, job: Job<'edit'>, run: RunOptions, base: RecordBase): Promise<Prepared> {
  const s = job.settings;
  const file = job.inputIsInversion ? await readInversion(job.input) : await invertInput(pack, job, job, run);
  if (job.saveInversion) await writeInversionFile(job.saveInversion, file);
  const clip = file.header.clip;
  const source = file.header.source.path;
  const tools = clip ? await findFfmpeg(job.ffmpeg) : undefined;
  const media = mediaOf(job, run, tools);
  const like = tools ? await clipLike(source, tools) : {};
  const calls = job.inputIsInversion ? 0 : file.header.calls;
  const recordOf = (t: JobTarget) => editRecord(base, job, file.header, t.targetPrompt ?? '');
  if (s.autoMask > 0) {
    // the source's pixels are kept outside the mask: a still's read once, a clip's streamed into each output
    const still = clip ? undefined : await readStill(source, media);
    return {
      calls,
      make: async (t) => {
        const target = t.targetPrompt ?? '';
        if (still) {
          const out = await editInversionInAutoMask(pack, file, [still], s, target, run);
          const m = out.mask;
          const after = job.saveMask ? async () => writeFileAtomic(job.saveMask!, await encodePng(maskPlaneImage(maskFrame(m, 0), m.width, m.height))) : undefined;
          return { made: { image: out.frames[0]! }, calls: out.calls, record: recordOf(t), ...(after ? { after } : {}) };
        }
        const out = await editInversionInAutoMaskWork(pack, file, s, target, run);
        const frames = blendSwapped(out.source, out.frames, videoFrames(source, media));
        const after = job.saveMask ? () => writeVideo(job.saveMask!, maskPlanes(out.source.mask, clip!.frames), { ...media, rate: clip!.rate }) : undefined;
        return { made: { frames, rate: clip!.rate, ...like }, calls: out.calls, record: recordOf(t), ...(after ? { after } : {}) };
      },
    };
  }
  return {
    calls,
    make: async (t) => {
      const settings = editSettingsFrom(s, t.targetPrompt ?? '');
      if (clip) {
        const edited = await editClipWork(pack, file, settings, run);
        return { made: { frames: restoredFrames(edited.frames, edited.fit), rate: edited.rate, ...like }, calls: edited.calls, record: recordOf(t) };
      }
      const edited = await editImage(pack, file, settings, run);
      return { made: { image: edited.image }, calls: edited.calls, record: recordOf(t) };
    },
  };
}

/** Swaps inside one mask of one source (an image or a clip, or its inversion), prepared once for every target. */
async function prepareSwapJob(pack: LoadedPack, job: Job<'swap'>, run: RunOptions, base: RecordBase, first: JobTarget): Promise<Prepared> {
  const s = job.settings;
  const file = job.inputIsInversion ? await readInversion(job.input) : null;
  const source = file ? file.header.source.path : job.input;
  const tools = job.inputIsVideo || isVideoPath(job.mask) ? await findFfmpeg(job.ffmpeg) : undefined;
  const media = mediaOf(job, run, tools);
  // the mask is read beside the source (two decoders, each mostly starting up); awaited where it is needed
  const readingMask = readMask(job.mask, { ...(tools ? { tools } : {}), ...(run.signal ? { signal: run.signal } : {}) });
  readingMask.catch(() => undefined); // its failure is reported where it is awaited, not as an unhandled rejection
  const settingsOf = (t: JobTarget) => swapSettingsFrom(s, { ...job, targetPrompt: t.targetPrompt ?? '' }, job.maskOptions, job);
  const recordOf = (t: JobTarget) => swapRecord(base, job, source, file?.header.fit.mode ?? s.fit, t.targetPrompt ?? '');
  if (!job.inputIsVideo) {
    // a still: in memory, within the pixel limit
    const [mask, frames] = await Promise.all([readingMask, readStill(source, media).then((f) => [f])]);
    const prepared = file ? await preparedFromInversion(pack, file, frames, mask, job.maskOptions, run) : await prepareSwap(pack, frames, mask, settingsOf(first), run);
    return {
      calls: 0,
      make: async (t) => {
        const out = await swapPrepared(pack, prepared, settingsOf(t), run);
        return { made: { image: out.frames[0]! }, calls: out.calls, record: recordOf(t) };
      },
    };
  }
  // a clip: the model side holds working-size frames only; the source streams into each output's final blend
  const info = await probeVideo(source, tools);
  let prepared: SwapSource;
  // frames decoded at the source's own size are the source's frames: the blend takes them instead of decoding the clip again
  let sourceFrames: readonly RgbImage[] | null = null;
  if (file) prepared = await sourceFromInversion(pack, file, await readingMask, job.maskOptions, run);
  else {
    const fit = planWorkSize(pack, info.width, info.height, s.fit);
    const [mask, work] = await Promise.all([readingMask, decodeWorkFrames(source, info, fit, media)]);
    if (isIdentityPlan(fit)) sourceFrames = work;
    prepared = await prepareSwapWork(pack, work, fit, mask, settingsOf(first), run);
  }
  return {
    calls: 0,
    make: async (t) => {
      const out = await swapToWork(pack, prepared, settingsOf(t), run);
      run.signal?.throwIfAborted();
      const frames = blendSwapped(prepared, out.frames, sourceFrames ?? videoFrames(source, { ...media, info }));
      return { made: { frames, rate: file?.header.clip?.rate ?? info.rate, audioFrom: source, like: info }, calls: out.calls, record: recordOf(t) };
    },
  };
}

/** Generated stills or clips, one per target seed. */
function prepareGenerate(pack: LoadedPack, job: Job<'generate'>, run: RunOptions, base: RecordBase): Prepared {
  return {
    calls: 0,
    make: async (t) => {
      const r = { ...job.request, seed: t.seed ?? job.request.seed };
      const out = await generateFrames(pack, r, run);
      const record = generateRecord(base, r);
      if (r.frames === 1) return { made: { image: out.frames[0]! }, calls: out.calls, record };
      return { made: { frames: out.frames, rate: { num: Math.round(job.fps * 1000), den: 1000 } }, calls: out.calls, record };
    },
  };
}

/** The targets a command's job names: its output (and target prompt), or one per seed of --variants. */
export function targetsOf(job: JobSpec): JobTarget[] {
  if (job.kind === 'generate') return (job.variants ?? [{ seed: job.request.seed, output: job.output }]).map((v) => ({ output: v.output, seed: v.seed }));
  if (job.kind === 'edit' || job.kind === 'swap') return [{ output: job.output, targetPrompt: job.targetPrompt }];
  return [{ output: job.output }];
}

/**
 * Runs `job` on a loaded pack for each of `targets`: the source is made once, then each output
 * is sampled and written in turn (an inversion job writes its inversion file to each target).
 */
export async function runTargets(pack: LoadedPack, job: JobSpec, targets: readonly JobTarget[], run: RunOptions = {}, hooks: TargetHooks = {}): Promise<TargetsRun> {
  const base = recordBase(pack, job);
  if (job.kind === 'invert') {
    const file = await invertInput(pack, job, job, run);
    for (const t of targets) {
      run.signal?.throwIfAborted();
      if ((await hooks.beforeWrite?.(t)) === false) continue;
      await writeInversionFile(t.output, file);
      await hooks.afterWrite?.(t, file.header.calls);
    }
    return { sourceCalls: file.header.calls, targetCalls: targets.map(() => 0) };
  }
  if (targets.length === 0) return { sourceCalls: 0, targetCalls: [] };
  const prepared =
    job.kind === 'edit' ? await prepareEdit(pack, job, run, base)
    : job.kind === 'swap' ? await prepareSwapJob(pack, job, run, base, targets[0]!)
    : job.kind === 'reconstruct' ? await prepareReconstruct(pack, job, run, base)
    : prepareGenerate(pack, job, run, base);
  const targetCalls: number[] = [];
  for (const t of targets) {
    run.signal?.throwIfAborted();
    const { made, calls, record, after } = await prepared.make(t);
    run.signal?.throwIfAborted();
    // the output, then what goes with it: a hook's sidecar only ever describes a complete file
    targetCalls.push(calls);
    if ((await hooks.beforeWrite?.(t)) === false) continue;
    await writeMade(job, t.output, made, record, run);
    await after?.();
    await hooks.afterWrite?.(t, prepared.calls + calls);
  }
  return { sourceCalls: prepared.calls, targetCalls };
}

/** Runs a job's own targets; on `loaded` (a pack already loaded as the job names it, kept open) or on its own pack, released after. */
export async function runJob(job: JobSpec, run: RunOptions, loaded?: LoadedPack): Promise<JobSummary> {
  const started = performance.now();
  const pack = loaded ?? (await loadPackOf(job));
  const loadSeconds = (performance.now() - started) / 1000;
  try {
    const done = await runTargets(pack, job, targetsOf(job), run);
    const calls = done.sourceCalls + done.targetCalls.reduce((a, b) => a + b, 0);
    return { output: job.output, seconds: (performance.now() - started) / 1000, calls, loadSeconds };
  } finally {
    // a pack handed in stays open for its owner's next job
    if (!loaded) await pack.release();
  }
}
