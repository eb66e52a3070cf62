/** flowedit's library surface: every command's task in a worker pool; load a pack; invert, reconstruct, edit and swap stills and clips; video and mask I/O. */
export { createFlowedit, type Flowedit, type FloweditOptions, type TaskResult, type InvertOptions, type ReconstructOptions, type EditOptions, type SwapOptions, type GenerateOptions } from './api.js';
export { createPool, type WorkerPool, type JobHooks } from './jobs/pool.js';
export type { PackRef } from './jobs/pool-task.js';
export { planInvert } from './jobs/plan-invert.js';
export { planReconstruct } from './jobs/plan-reconstruct.js';
export { planEdit } from './jobs/plan-edit.js';
export { planSwap } from './jobs/plan-swap.js';
export { planGenerate } from './jobs/plan-generate.js';
export type { Plan, ConfigStop } from './jobs/plan.js';
export type { InvertRequest, ReconstructRequest, EditRequest, SwapRequest, GenerateRequest } from './jobs/request.js';
export { runJob, runTargets, targetsOf, type TargetHooks, type TargetsRun } from './jobs/run-job.js';
export type { JobSpec, JobSummary, JobTarget } from './jobs/job.js';
export { UserError, EXIT } from './jobs/errors.js';
export type { MediaInput } from './jobs/media-input.js';
export { loadPack, readPack, validatePack, PackError, type LoadedPack, type LoadOptions, type PackInfo } from './model/pack.js';
export { DEVICES, type Device } from './model/devices.js';
export { installedProviders, trafficSoFar, resetTraffic, type Traffic } from './model/ort.js';
export type { Manifest } from './model/manifest.js';
export { builtinPackDir } from './model/builtin.js';
export { invertLatent, type LatentInversion, type InvertSettings } from './edit/latent/invert.js';
export { sampleLatent, reconstructLatent } from './edit/latent/sample.js';
export { editLatent, type EditSettings, type Edited } from './edit/latent/edit.js';
export { readInversion, encodeInversion, decodeInversion, type InversionFile } from './edit/frames/inversion-file.js';
export { writeImageOutput, encodeImageOutput, writeInversionFile } from './edit/records/outputs.js';
export { resolveSettings, type Settings } from './edit/frames/settings.js';
export type { Progress, RunOptions } from './edit/latent/progress.js';
export { solve, timesteps, inversionSchedule, type SolverName, type VelocityFn } from './solvers/index.js';
export { readImage, encodePng, encodeRawPng, type RgbImage, type RawFrame } from './media/image.js';
export { swapImage, swapClip, swapFrames, swapSettings, prepareSwap, preparedFromInversion, swapPrepared, type SwapSettings, type SwappedFrames, type PreparedSwap } from './edit/frames/swap-jobs.js';
export { swapLatent, type SwapLatentSettings, type SwappedLatent } from './edit/latent/swap.js';
export {
  invertImage,
  reconstructImage,
  editImage,
  invertClip,
  invertFrames,
  reconstructClip,
  reconstructFrames,
  editClip,
  editFrames,
  type EditedImage,
  type InvertImageSettings,
  type ClipInversion,
  type ClipFrames,
  type InvertClipSettings,
} from './edit/frames/pipeline.js';
export { planWindows, crossFade, type ClipWindow } from './edit/frames/windows.js';
export { writeClipOutput, type OutputRecord, type ClipOutputOptions } from './edit/records/outputs.js';
export { readMask, prepareMask, blendMasked, type Mask, type MaskOptions } from './media/mask.js';
export { probeVideo, readVideo, videoFrames, writeVideo, type Clip, type DecodeOptions, type EncodeOptions, type FrameRate, type FrameSource, type VideoInfo } from './media/video.js';
export { findFfmpeg, type FfmpegTools } from './media/ffmpeg-tools.js';
export type { Profile, GraphProfile, IoKind } from './media/profile.js';
export { findPreset, listPresetNames, readPresetFile, type Preset } from './jobs/presets.js';
export { readRecipe, mergeRecipes, type Recipe } from './settings/recipe.js';
export { readManifest, parseManifest, type Manifest as BatchManifest, type ManifestItem } from './batch/manifest.js';
export { planBatch, type BatchPlan, type PlannedItem } from './batch/plan.js';
export { runBatch, type BatchReport, type BatchEvent, type ItemRunner } from './batch/run.js';
export { writeBatchReport } from './batch/report.js';
export { executeItem, packRunner } from './batch/execute.js';
export { gaussianNoise, uniformStream } from './edit/latent/noise.js';
export { parametersText, parseParameters, recordFromParameters, type ParsedParameters } from './edit/records/parameters.js';
export { readOutputInfo, NotFloweditFile, type OutputInfo } from './edit/records/output-info.js';
export { reproduce, commandLine, shellQuote, type Reproduction, type ReproduceOptions } from './edit/records/reproduce.js';
export { writeComparison, comparisonImage, type Comparison } from './media/compare.js';
export { writeHtmlReport } from './batch/html-report.js';
export { flowEditHome, findPack } from './model/home.js';
