/**
 * One invert → reconstruct → edit chain on a still, the unit the float16 and device figures are
 * measured on: two packs (or two devices) run it and their outputs are compared by PSNR.
 */
import { editImage, invertImage, reconstructImage } from '../../src/edit/frames/pipeline.js';
import type { RgbImage } from '../../src/media/image.js';
import type { LoadedPack } from '../../src/model/pack.js';

export interface ChainSettings {
  readonly sourcePrompt: string;
  readonly targetPrompt: string;
  readonly steps: number;
  readonly guidance: number;
  /** τ, the shared fraction of the steps */
  readonly shareSteps: number;
}

export interface ChainResult {
  readonly reconstruction: RgbImage;
  readonly edit: RgbImage;
}

/** Inverts `image` with the midpoint solver, reconstructs it and edits it sharing every context layer. */
export async function chain(pack: LoadedPack, image: string, s: ChainSettings): Promise<ChainResult> {
  const file = await invertImage(pack, image, { sourcePrompt: s.sourcePrompt, steps: s.steps, solver: 'midpoint', fit: 'pad' });
  const reconstruction = await reconstructImage(pack, file);
  const edited = await editImage(pack, file, { targetPrompt: s.targetPrompt, guidance: s.guidance, share: { layers: pack.transformer.contextLayers, fraction: s.shareSteps } });
  return { reconstruction, edit: edited.image };
}
