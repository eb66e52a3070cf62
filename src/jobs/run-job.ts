/** Runs one job from its validated spec: load the pack, run the use case, write the output. */
import { existsSync } from 'node:fs';
import { decodeWorkFrames, editClipWork, invertClip, planWorkSize, reconstructClipWork, restoredFrames } from '../edit/clip-jobs.js';
import { editImage, invertImage, reconstructImage } from '../edit/image-jobs.js';
import { generateFrames } from '../edit/generate.js';
import { readInversion, type InversionFile } from '../edit/inversion-file.js';
import { writeClipOutput, writeImageOutput, writeInversionFile, type OutputRecord } from '../edit/outputs.js';
import type { RunOptions } from '../edit/progress.js';
import { blendSwapped, preparedFromInversion, prepareSwap, prepareSwapWork, sourceFromInversion, swapPrepared, swapSettingsFrom, swapToWork, type SwapSource } from '../edit/swap-jobs.js';
import { editSettingsFrom, type Settings } from '../edit/settings.js';
import { editInversionInAutoMask, editInversionInAutoMaskWork } from '../edit/auto-edit.js';
import { findFfmpeg, type FfmpegTools } from '../media/ffmpeg-tools.js';
import { encodePng, readImage, type RgbImage } from '../media/image.js';
import { maskFrame, maskPlaneImage, readMask, type ShapedMask } from '../media/mask.js';
import { writeFileAtomic } from '../media/atomic-file.js';
import { isVideoPath, probeVideo, videoFrames, writeVideo, type FrameRate, type FrameSource } from '../media/video.js';
import type { LoadedPack } from '../model/pack.js';
import { modelCallsFor } from '../solvers/index.js';
import { flowEditVersion } from '../version.js';
import type { JobSpec, JobSummary } from './job.js';
import { loadPackOf } from './pool-task.js';

type Job<K extends JobSpec['kind']> = Extract<JobSpec, { kind: K }>;

/** What every output's record holds about the run itself. */
type Base = Pick<OutputRecord, 'model' | 'flowedit' | 'recordPaths'>;

/** The settings an output records only when they differ from the pack's behaviour: shared text keys, a schedule shift. */
function settingsRecord(s: Settings): Pick<OutputRecord, 'shareText' | 'shift'> {
  return { ...(s.shareText ? { shareText: true } : {}), ...(s.shift !== undefined ? { shift: s.shift } : {}) };
}

/** What an edit's and a swap's records share, in the order they are written: the run, the prompts, the guidance and the sharing. */
function editedRecord(command: 'edit' | 'swap', base: Base, s: Settings, at: { steps: number; solver: string; sourcePrompt: string; targetPrompt: string; negativePrompt: string | undefined }): OutputRecord {
  return {
    ...base,
    command,
    steps: at.steps,
    solver: at.solver,
    seed: s.seed,
    sourcePrompt: at.sourcePrompt,
    targetPrompt: at.targetPrompt,
    ...(at.negativePrompt !== undefined ? { negativePrompt: at.negativePrompt } : {}),
    guidance: s.guidance,
    guideAgainst: s.guideAgainst,
    shareLayers: s.shareLayers,
    shareSteps: s.shareSteps,
    ...settingsRecord(s),
  };
}

/** The source an output's record names: the job's sourceName when it has one (null: none), else the path read. */
function sourceRecord(job: JobSpec, path: string): Pick<OutputRecord, 'source'> {
  const name = job.sourceName === undefined ? path : job.sourceName;
  return name === null ? {} : { source: name };
}

/** A clip's frames at the source size as they are encoded (an array, or a stream), and its rate. */
interface ClipOut {
  readonly frames: FrameSource;
  readonly rate: FrameRate;
}

/** Writes a still as PNG or a clip's frames as H.264 (with the source's audio when it is still there). */
async function writeResult(job: JobSpec, file: InversionFile, run: RunOptions, result: { image?: RgbImage; clip?: ClipOut }, record: OutputRecord): Promise<void> {
  run.signal?.throwIfAborted();
  if (result.image) return writeImageOutput(job.output, result.image, record);
  const source = file.header.source.path;
  const tools = await findFfmpeg(job.ffmpeg);
  // the source's audio and format (pixel aspect, depth, chroma) when it is still there
  const like = existsSync(source) ? await probeVideo(source, tools).catch(() => undefined) : undefined;
  await writeClipOutput(job.output, result.clip!, record, {
    tools,
    ...(like ? { audioFrom: source, like } : {}),
    ...(run.signal ? { signal: run.signal } : {}),
    ...(run.onWarning ? { onWarning: run.onWarning } : {}),
  });
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

async function invertInput(pack: LoadedPack, job: Job<'invert'> | Job<'edit'>, run: RunOptions): Promise<InversionFile> {
  const s = job.settings;
  const settings = {
    sourcePrompt: job.sourcePrompt,
    steps: s.steps,
    solver: s.solver,
    ...(s.shift !== undefined ? { shift: s.shift } : {}),
    fit: s.fit,
    ...(job.maxInputPixels !== undefined ? { maxInputPixels: job.maxInputPixels } : {}),
  };
  if (!job.inputIsVideo) return invertImage(pack, job.input, settings, run);
  return invertClip(pack, job.input, { ...settings, ...(job.overlap !== undefined ? { overlap: job.overlap } : {}), ...(job.window !== undefined ? { window: job.window } : {}) }, run, await findFfmpeg(job.ffmpeg));
}

async function swap(pack: LoadedPack, job: Job<'swap'>, run: RunOptions, base: Base): Promise<number> {
  const s = job.settings;
  const file = job.inputIsInversion ? await readInversion(job.input) : null;
  const source = file ? file.header.source.path : job.input;
  const tools = job.inputIsVideo || isVideoPath(job.mask) ? await findFfmpeg(job.ffmpeg) : undefined;
  const media = mediaOf(job, run, tools);
  const mask = await readMask(job.mask, { ...(tools ? { tools } : {}), ...(run.signal ? { signal: run.signal } : {}) });
  const settings = swapSettingsFrom(s, job, job.maskOptions, job);
  const record: OutputRecord = {
    ...editedRecord('swap', base, s, { steps: s.steps, solver: s.solver, sourcePrompt: job.sourcePrompt, targetPrompt: job.targetPrompt, negativePrompt: job.negativePrompt }),
    ...sourceRecord(job, source),
    fit: file?.header.fit.mode ?? s.fit, mask: job.mask, maskGrow: job.maskOptions.grow, maskFeather: job.maskOptions.feather, maskBias: s.maskBias, ...(job.maskOptions.invert ? { invertMask: true } : {}),
  };
  if (!job.inputIsVideo) {
    // a still: in memory, within the pixel limit
    const frames = [await readStill(source, media)];
    const prepared = file ? await preparedFromInversion(pack, file, frames, mask, job.maskOptions, run) : await prepareSwap(pack, frames, mask, settings, run);
    const out = await swapPrepared(pack, prepared, settings, run);
    run.signal?.throwIfAborted();
    await writeImageOutput(job.output, out.frames[0]!, record);
    return out.calls;
  }
  // a clip: the model side holds working-size frames only; the source streams into the final blend
  const info = await probeVideo(source, tools);
  let prepared: SwapSource;
  if (file) prepared = await sourceFromInversion(pack, file, mask, job.maskOptions, run);
  else {
    const fit = planWorkSize(pack, info.width, info.height, s.fit);
    prepared = await prepareSwapWork(pack, await decodeWorkFrames(source, info, fit, media), fit, mask, settings, run);
  }
  const out = await swapToWork(pack, prepared, settings, run);
  run.signal?.throwIfAborted();
  const frames = blendSwapped(prepared, out.frames, videoFrames(source, { ...media, info }));
  await writeClipOutput(job.output, { frames, rate: file?.header.clip?.rate ?? info.rate }, record, { ...media, audioFrom: source, like: info, ...(run.onWarning ? { onWarning: run.onWarning } : {}) });
  return out.calls;
}

/** An edit inside the mask its prompts give: the source's pixels are kept outside it. */
async function editInAutoMask(pack: LoadedPack, job: Job<'edit'>, file: InversionFile, run: RunOptions, record: OutputRecord): Promise<number> {
  const clip = file.header.clip;
  const media = mediaOf(job, run, clip ? await findFfmpeg(job.ffmpeg) : undefined);
  const source = file.header.source.path;
  if (!clip) {
    const out = await editInversionInAutoMask(pack, file, [await readStill(source, media)], job.settings, job.targetPrompt, run);
    await writeResult(job, file, run, { image: out.frames[0]! }, record);
    if (job.saveMask) await writeFileAtomic(job.saveMask, await encodePng(maskPlaneImage(maskFrame(out.mask, 0), out.mask.width, out.mask.height)));
    return out.calls;
  }
  // a clip: edited at the working size, blended with the source as it streams from the decoder
  const out = await editInversionInAutoMaskWork(pack, file, job.settings, job.targetPrompt, run);
  await writeResult(job, file, run, { clip: { frames: blendSwapped(out.source, out.frames, videoFrames(source, media)), rate: clip.rate } }, record);
  if (job.saveMask) await writeVideo(job.saveMask, maskPlanes(out.source.mask, clip.frames), { ...media, rate: clip.rate });
  return out.calls;
}

/** One output per seed of --variants (else the one the request asks for), the pack loaded once. */
async function generate(pack: LoadedPack, job: Job<'generate'>, run: RunOptions, base: Base): Promise<number> {
  let calls = 0;
  for (const v of job.variants ?? [{ seed: job.request.seed, output: job.output }]) calls += await generateOne(pack, { ...job, request: { ...job.request, seed: v.seed }, output: v.output }, run, base);
  return calls;
}

async function generateOne(pack: LoadedPack, job: Job<'generate'>, run: RunOptions, base: Base): Promise<number> {
  const r = job.request;
  const out = await generateFrames(pack, r, run);
  run.signal?.throwIfAborted();
  const record: OutputRecord = {
    ...base,
    command: 'generate',
    steps: r.steps,
    solver: r.solver,
    seed: r.seed,
    prompt: r.prompt,
    ...(r.negativePrompt !== undefined ? { negativePrompt: r.negativePrompt } : {}),
    guidance: r.guidance,
    ...(r.shift !== undefined ? { shift: r.shift } : {}),
    ...(r.frames > 1 ? { frames: r.frames } : {}),
  };
  if (r.frames === 1) await writeImageOutput(job.output, out.frames[0]!, record);
  else {
    const tools = await findFfmpeg(job.ffmpeg);
    const rate = { num: Math.round(job.fps * 1000), den: 1000 };
    await writeClipOutput(job.output, { frames: out.frames, rate }, record, { tools, ...(run.signal ? { signal: run.signal } : {}), ...(run.onWarning ? { onWarning: run.onWarning } : {}) });
  }
  return out.calls;
}

/** Runs a job; on `loaded` (a pack already loaded as the job names it, kept open) or on its own pack, released after. */
export async function runJob(job: JobSpec, run: RunOptions, loaded?: LoadedPack): Promise<JobSummary> {
  const started = performance.now();
  const pack = loaded ?? (await loadPackOf(job));
  const loadSeconds = (performance.now() - started) / 1000;
  // a pack handed in stays open for its owner's next job
  const release = loaded ? () => Promise.resolve() : () => pack.release();
  const base: Base = { model: pack.manifest.id, flowedit: flowEditVersion(), ...(job.recordPaths ? { recordPaths: true } : {}) };
  const done = (calls: number): JobSummary => ({ output: job.output, seconds: (performance.now() - started) / 1000, calls, loadSeconds });
  try {
    switch (job.kind) {
      case 'invert': {
        const file = await invertInput(pack, job, run);
        run.signal?.throwIfAborted();
        await writeInversionFile(job.output, file);
        return done(file.header.calls);
      }
      case 'reconstruct': {
        const file = await readInversion(job.input);
        const { steps, solver, sourcePrompt } = file.header.settings;
        const shift = file.header.settings.shift;
        const record = { ...base, command: 'reconstruct', steps, solver, seed: job.seed, prompt: sourcePrompt, ...(shift !== undefined ? { shift } : {}), fit: file.header.fit.mode, ...sourceRecord(job, file.header.source.path) };
        const windows = file.header.clip?.windows.length ?? 1;
        if (file.header.clip) {
          const rec = await reconstructClipWork(pack, file, run);
          await writeResult(job, file, run, { clip: { frames: restoredFrames(rec.frames, rec.fit), rate: rec.rate } }, record);
        }
        else await writeResult(job, file, run, { image: await reconstructImage(pack, file, run) }, record);
        return done(windows * modelCallsFor(solver, steps));
      }
      case 'edit': {
        const s = job.settings;
        const file = job.inputIsInversion ? await readInversion(job.input) : await invertInput(pack, job, run);
        if (job.saveInversion) await writeInversionFile(job.saveInversion, file);
        const settings = editSettingsFrom(s, job.targetPrompt);
        const { steps, solver, sourcePrompt } = file.header.settings;
        const record: OutputRecord = {
          ...editedRecord('edit', base, s, { steps, solver, sourcePrompt, targetPrompt: job.targetPrompt, negativePrompt: s.negativePrompt }),
          ...(s.autoMask > 0 ? { autoMask: s.autoMask } : {}),
          ...sourceRecord(job, file.header.source.path),
          fit: file.header.fit.mode,
        };
        const inverted = job.inputIsInversion ? 0 : file.header.calls;
        if (s.autoMask > 0) return done(inverted + (await editInAutoMask(pack, job, file, run, record)));
        if (file.header.clip) {
          const edited = await editClipWork(pack, file, settings, run);
          await writeResult(job, file, run, { clip: { frames: restoredFrames(edited.frames, edited.fit), rate: edited.rate } }, record);
          return done(inverted + edited.calls);
        }
        const edited = await editImage(pack, file, settings, run);
        await writeResult(job, file, run, { image: edited.image }, record);
        return done(inverted + edited.calls);
      }
      case 'swap':
        return done(await swap(pack, job, run, base));
      case 'generate':
        return done(await generate(pack, job, run, base));
    }
  } finally {
    await release();
  }
}
