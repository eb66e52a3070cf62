/** flowedit's library surface: load a pack, invert, reconstruct, edit. */
export { loadPack, readPack, validatePack, PackError, type LoadedPack, type PackInfo } from './model/pack.js';
export type { Manifest } from './model/manifest.js';
export { builtinPackDir } from './model/builtin.js';
export { invertImage, reconstructImage, editImage, type EditedImage, type InvertImageSettings } from './edit/image-jobs.js';
export { invertLatent, type LatentInversion, type InvertSettings } from './edit/invert.js';
export { sampleLatent, reconstructLatent } from './edit/sample.js';
export { editLatent, type EditSettings, type Edited } from './edit/edit.js';
export { readInversion, encodeInversion, decodeInversion, type InversionFile } from './edit/inversion-file.js';
export { writeImageOutput, writeInversionFile } from './edit/outputs.js';
export { resolveSettings, type Settings } from './edit/settings.js';
export type { Progress, RunOptions } from './edit/progress.js';
export { solve, timesteps, inversionSchedule, type SolverName, type VelocityFn } from './solvers/index.js';
export { readImage, encodePng, type RgbImage } from './media/image.js';
