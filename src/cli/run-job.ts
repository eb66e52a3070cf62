/** Runs one job from its validated spec: load the pack, run the use case, write the output. */
import { existsSync } from 'node:fs';
import { editClip, invertClip, reconstructClip } from '../edit/clip-jobs.js';
import { editImage, invertImage, reconstructImage } from '../edit/image-jobs.js';
import { generateFrames } from '../edit/generate.js';
import { readInversion, type InversionFile } from '../edit/inversion-file.js';
import { writeClipOutput, writeImageOutput, writeInversionFile, type OutputRecord } from '../edit/outputs.js';
import type { RunOptions } from '../edit/progress.js';
import { preparedFromInversion, prepareSwap, swapPrepared, swapSettingsFrom } from '../edit/swap-jobs.js';
import { editSettingsFrom } from '../edit/settings.js';
import { editInversionInAutoMask } from '../edit/auto-edit.js';
import { findFfmpeg, type FfmpegTools } from '../media/ffmpeg-tools.js';
import { encodePng, readImage, type RgbImage } from '../media/image.js';
import { maskFrame, maskPlaneImage, readMask } from '../media/mask.js';
import { writeFileAtomic } from '../media/atomic-file.js';
import { isVideoPath, readVideo, writeVideo, type FrameRate } from '../media/video.js';
import { loadPack, type LoadedPack } from '../model/pack.js';
import { modelCallsFor } from '../solvers/index.js';
import { flowEditVersion } from '../version.js';
import type { JobSpec, JobSummary } from './job.js';

type Job<K extends JobSpec['kind']> = Extract<JobSpec, { kind: K }>;

/** Writes a still as PNG or a clip's frames as H.264 (with the source's audio when it is still there). */
async function writeResult(job: JobSpec, file: InversionFile, run: RunOptions, result: { image?: Parameters<typeof writeImageOutput>[1]; clip?: Parameters<typeof writeClipOutput>[1] }, record: OutputRecord): Promise<void> {
  run.signal?.throwIfAborted();
  if (result.image) return writeImageOutput(job.output, result.image, record);
  const source = file.header.source.path;
  await writeClipOutput(job.output, result.clip!, record, {
    tools: await findFfmpeg(job.ffmpeg),
    ...(existsSync(source) ? { audioFrom: source } : {}),
    ...(run.signal ? { signal: run.signal } : {}),
    ...(run.onWarning ? { onWarning: run.onWarning } : {}),
  });
}

/** The source's frames (and a clip's rate) for the pixel blend outside a mask. */
async function readSource(path: string, isClip: boolean, media: { tools?: FfmpegTools; signal?: AbortSignal }): Promise<{ frames: readonly RgbImage[]; rate?: FrameRate }> {
  if (!isClip) return { frames: [await readImage(path)] };
  const clip = await readVideo(path, media);
  return { frames: clip.frames, rate: clip.rate };
}

async function invertInput(pack: LoadedPack, job: Job<'invert'> | Job<'edit'>, run: RunOptions): Promise<InversionFile> {
  const s = job.settings;
  const settings = { sourcePrompt: job.sourcePrompt, steps: s.steps, solver: s.solver, fit: s.fit };
  if (!job.inputIsVideo) return invertImage(pack, job.input, settings, run);
  return invertClip(pack, job.input, { ...settings, ...(job.overlap !== undefined ? { overlap: job.overlap } : {}) }, run, await findFfmpeg(job.ffmpeg));
}

async function swap(pack: LoadedPack, job: Job<'swap'>, run: RunOptions, base: { model: string; flowedit: string }): Promise<number> {
  const s = job.settings;
  const file = job.inputIsInversion ? await readInversion(job.input) : null;
  const source = file ? file.header.source.path : job.input;
  const tools = job.inputIsVideo || isVideoPath(job.mask) ? await findFfmpeg(job.ffmpeg) : undefined;
  const media = { ...(tools ? { tools } : {}), ...(run.signal ? { signal: run.signal } : {}) };
  const mask = await readMask(job.mask, media);
  const settings = swapSettingsFrom(s, job, job.maskOptions, job.overlap);
  const record: OutputRecord = {
    ...base,
    command: 'swap',
    steps: s.steps,
    solver: s.solver,
    seed: s.seed,
    sourcePrompt: job.sourcePrompt,
    targetPrompt: job.targetPrompt,
    ...(job.negativePrompt !== undefined ? { negativePrompt: job.negativePrompt } : {}),
    guidance: s.guidance,
    guideAgainst: s.guideAgainst,
    shareLayers: s.shareLayers,
    shareSteps: s.shareSteps,
    source,
  };
  // the source side: from the saved inversion, or inverted now
  const { frames, rate } = await readSource(source, job.inputIsVideo === true, media);
  const prepared = file ? await preparedFromInversion(pack, file, frames, mask, job.maskOptions, run) : await prepareSwap(pack, frames, mask, settings, run);
  const out = await swapPrepared(pack, prepared, settings, run);
  run.signal?.throwIfAborted();
  if (!rate) await writeImageOutput(job.output, out.frames[0]!, record);
  else await writeClipOutput(job.output, { frames: out.frames, rate }, record, { ...media, audioFrom: source, ...(run.onWarning ? { onWarning: run.onWarning } : {}) });
  return out.calls;
}

/** An edit inside the mask its prompts give: the source's pixels are kept outside it. */
async function editInAutoMask(pack: LoadedPack, job: Job<'edit'>, file: InversionFile, run: RunOptions, record: OutputRecord): Promise<number> {
  const media = { ...(file.header.clip ? { tools: await findFfmpeg(job.ffmpeg) } : {}), ...(run.signal ? { signal: run.signal } : {}) };
  const { frames, rate } = await readSource(file.header.source.path, file.header.clip !== undefined, media);
  const out = await editInversionInAutoMask(pack, file, frames, job.settings, job.targetPrompt, run);
  await writeResult(job, file, run, rate ? { clip: { frames: out.frames, rate } } : { image: out.frames[0]! }, record);
  if (job.saveMask) {
    const planes = out.frames.map((_, f) => maskPlaneImage(maskFrame(out.mask, f), out.mask.width, out.mask.height));
    if (!rate) await writeFileAtomic(job.saveMask, await encodePng(planes[0]!));
    else await writeVideo(job.saveMask, planes, { ...media, rate });
  }
  return out.calls;
}

async function generate(pack: LoadedPack, job: Job<'generate'>, run: RunOptions, base: { model: string; flowedit: string }): Promise<number> {
  const r = job.request;
  const out = await generateFrames(pack, r, run);
  run.signal?.throwIfAborted();
  const record: OutputRecord = { ...base, command: 'generate', steps: r.steps, solver: r.solver, seed: r.seed, prompt: r.prompt, guidance: r.guidance };
  if (r.frames === 1) await writeImageOutput(job.output, out.frames[0]!, record);
  else {
    const tools = await findFfmpeg(job.ffmpeg);
    const rate = { num: Math.round(job.fps * 1000), den: 1000 };
    await writeClipOutput(job.output, { frames: out.frames, rate }, record, { tools, ...(run.signal ? { signal: run.signal } : {}), ...(run.onWarning ? { onWarning: run.onWarning } : {}) });
  }
  return out.calls;
}

export async function runJob(job: JobSpec, run: RunOptions): Promise<JobSummary> {
  const started = performance.now();
  const pack = await loadPack(job.packDir, job.threads ? { threads: job.threads } : {});
  const base = { model: pack.manifest.id, flowedit: flowEditVersion() };
  const done = (calls: number): JobSummary => ({ output: job.output, seconds: (performance.now() - started) / 1000, calls });
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
        const record = { ...base, command: 'reconstruct', steps, solver, seed: job.seed, prompt: sourcePrompt, source: file.header.source.path };
        const windows = file.header.clip?.windows.length ?? 1;
        if (file.header.clip) await writeResult(job, file, run, { clip: await reconstructClip(pack, file, run) }, record);
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
          ...base,
          command: 'edit',
          steps,
          solver,
          seed: s.seed,
          sourcePrompt,
          targetPrompt: job.targetPrompt,
          guidance: s.guidance,
          guideAgainst: s.guideAgainst,
          shareLayers: s.shareLayers,
          shareSteps: s.shareSteps,
          ...(s.autoMask > 0 ? { autoMask: s.autoMask } : {}),
          source: file.header.source.path,
        };
        const inverted = job.inputIsInversion ? 0 : file.header.calls;
        if (s.autoMask > 0) return done(inverted + (await editInAutoMask(pack, job, file, run, record)));
        if (file.header.clip) {
          const edited = await editClip(pack, file, settings, run);
          await writeResult(job, file, run, { clip: edited }, record);
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
    await pack.release();
  }
}
