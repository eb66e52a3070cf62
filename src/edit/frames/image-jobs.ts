/**
 * The image use cases, each as numbered phases over the layers below: invert an image file,
 * reconstruct from an inversion, edit from an inversion.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fitImage, planFit, restoreImage, type FitMode } from '../../media/fit.js';
import { readImage, type RgbImage } from '../../media/image.js';
import type { LoadedPack } from '../../model/pack.js';
import { editLatent, type EditSettings } from '../latent/edit.js';
import { inversionHeader, type InversionFile, type InversionHeader } from './inversion-file.js';
import { invertLatent, type InvertSettings } from '../latent/invert.js';
import { decodeImage, encodeImage, latentShapeFor } from './latents.js';
import type { RunOptions } from '../latent/progress.js';
import { reconstructLatent } from '../latent/sample.js';

export interface InvertImageSettings extends InvertSettings {
  readonly fit: FitMode;
  /** refuse an image of more pixels than this, before decoding (default DEFAULT_MAX_INPUT_PIXELS) */
  readonly maxInputPixels?: number;
}

/** Inverts an image file: read and fit, encode, invert. */
export async function invertImage(pack: LoadedPack, path: string, s: InvertImageSettings, run: RunOptions = {}): Promise<InversionFile> {
  // 1. read the source and fit it to the pack's working size
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `Input image not found: ${path}` : `Cannot read ${path}: ${err.message}`);
  });
  const source = await readImage(path, s.maxInputPixels !== undefined ? { maxInputPixels: s.maxInputPixels } : {});
  const fit = planFit(source.width, source.height, {
    multiple: pack.manifest.image.multiple,
    mode: s.fit,
    ...(pack.manifest.image.maxPixels ? { maxPixels: pack.manifest.image.maxPixels } : {}),
  });
  const work = await fitImage(source, fit);
  latentShapeFor(pack, work.width, work.height); // throws if the fitted size does not suit the pack
  // 2. encode to the latent (VAE mean)
  run.onProgress?.({ phase: 'encode', step: 0, steps: 1 });
  const z0 = await encodeImage(pack, work); // [1, C, 1, H', W']
  run.onProgress?.({ phase: 'encode', step: 1, steps: 1 });
  // 3. invert under the source condition, guidance off
  const inversion = await invertLatent(pack, z0, { sourcePrompt: s.sourcePrompt, steps: s.steps, solver: s.solver, ...(s.shift !== undefined ? { shift: s.shift } : {}) }, run);
  return {
    header: inversionHeader(pack.manifest.id, inversion, {
      source: { path, sha256: createHash('sha256').update(bytes).digest('hex'), width: source.width, height: source.height },
      fit,
      calls: inversion.calls,
    }),
    inversion,
  };
}

/** Refuses an inversion made with another pack. */
export function assertSameModel(pack: { manifest: LoadedPack['manifest'] }, header: InversionHeader): void {
  if (header.modelId !== pack.manifest.id) {
    throw new Error(
      `This inversion was made with model '${header.modelId}' but the pack is '${pack.manifest.id}'; pass --model with the pack that made it, or invert again.`,
    );
  }
}

async function toSourceSize(pack: LoadedPack, file: InversionFile, z: { data: Float32Array; shape: readonly number[] }): Promise<RgbImage> {
  const img = await decodeImage(pack, z);
  return restoreImage(img, file.header.fit);
}

/** Samples back from an inversion and returns the image at the source's size. */
export async function reconstructImage(pack: LoadedPack, file: InversionFile, run: RunOptions = {}): Promise<RgbImage> {
  // 1. the inversion must come from this pack
  assertSameModel(pack, file.header);
  // 2. sample under the same condition, solver and schedule
  const { z } = await reconstructLatent(pack, file.inversion, run);
  // 3. decode and restore the source size
  run.onProgress?.({ phase: 'decode', step: 0, steps: 1 });
  const image = await toSourceSize(pack, file, z);
  run.onProgress?.({ phase: 'decode', step: 1, steps: 1 });
  return image;
}

export interface EditedImage {
  readonly image: RgbImage;
  readonly reconstruction: RgbImage | null;
  readonly calls: number;
}

/** Edits from an inversion: shared-context sampling, then decode and restore the source size. */
export async function editImage(pack: LoadedPack, file: InversionFile, s: EditSettings, run: RunOptions = {}): Promise<EditedImage> {
  // 1. the inversion must come from this pack
  assertSameModel(pack, file.header);
  // 2. reconstruction and edit paths from the inverted noise
  const edited = await editLatent(pack, file.inversion, s, run);
  // 3. decode and restore the source size
  run.onProgress?.({ phase: 'decode', step: 0, steps: 1 });
  const image = await toSourceSize(pack, file, edited.z);
  const reconstruction = edited.reconstruction ? await toSourceSize(pack, file, edited.reconstruction) : null;
  run.onProgress?.({ phase: 'decode', step: 1, steps: 1 });
  return { image, reconstruction, calls: edited.calls };
}
