/**
 * Text to image or clip: seeded Gaussian noise x_1 integrated along the prompt's velocity
 * from t = 1 to 0 with classifier-free guidance (or the pack's distilled guidance input).
 */
import type { RgbImage } from '../../media/image.js';
import { sizeOf } from '../../media/tensor.js';
import type { LoadedPack } from '../../model/pack.js';
import type { SolverName } from '../../solvers/index.js';
import { clipLatentShape, decodeFrames } from './latents.js';
import { gaussianNoise } from '../latent/noise.js';
import type { RunOptions } from '../latent/progress.js';
import { sampleLatent } from '../latent/sample.js';
import { scheduleFor } from '../latent/schedule.js';
import { checkRange } from '../../settings/check.js';
import { assertNegativePromptFits, assertPromptFits } from '../latent/velocity.js';
import { allowedFrameCounts } from './windows.js';

export interface GenerateSettings {
  readonly prompt: string;
  readonly guidance: number;
  readonly solver: SolverName;
  readonly steps: number;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  /** 1 for a still */
  readonly frames: number;
  /** the prompt the guidance steers away from (default: the pack's negative prompt) */
  readonly negativePrompt?: string;
  /** σ of a static schedule shift replacing the pack's schedule */
  readonly shift?: number;
}

export interface Generated {
  readonly frames: RgbImage[];
  readonly calls: number;
}

/** Checks a generation request against the pack before any model runs. */
export function checkGenerate(pack: { manifest: LoadedPack['manifest'] }, s: GenerateSettings): void {
  const m = pack.manifest;
  if (m.text) assertPromptFits(pack, s.prompt);
  else if (s.prompt.trim()) throw new Error(`Pack '${m.id}' is unconditional (no text encoder): leave out --prompt`);
  assertNegativePromptFits(pack, s.negativePrompt);
  if (s.shift !== undefined) checkRange('shift', s.shift);
  const multiple = m.image.multiple;
  for (const [what, v] of [['width', s.width], ['height', s.height]] as const) {
    if (!Number.isInteger(v) || v < multiple || v % multiple !== 0) {
      throw new Error(`--${what} must be a positive multiple of ${multiple} for pack '${m.id}', got ${v}`);
    }
  }
  if (m.image.maxPixels && s.width * s.height > m.image.maxPixels) {
    throw new Error(`${s.width}×${s.height} is more than pack '${m.id}' takes (${m.image.maxPixels} pixels): ask for a smaller size`);
  }
  if (!Number.isInteger(s.frames) || s.frames < 1) throw new Error(`--frames must be a positive integer, got ${s.frames}`);
  if (s.frames > 1) {
    if (!m.frames) throw new Error(`Pack '${m.id}' makes stills only: leave out --frames`);
    if (s.frames > m.frames.max) throw new Error(`Pack '${m.id}' generates at most ${m.frames.max} frames in one pass, got --frames ${s.frames}`);
    const counts = allowedFrameCounts(m);
    if (!counts.includes(s.frames)) {
      const near = counts.filter((c) => c > 1);
      throw new Error(`Pack '${m.id}' takes ${near.length > 6 ? `${near.slice(0, 5).join(', ')}, …, ${near[near.length - 1]}` : near.join(', ')} frames in one pass, got --frames ${s.frames}: ask for one of those`);
    }
  }
}

export async function generateFrames(pack: LoadedPack, s: GenerateSettings, run: RunOptions = {}): Promise<Generated> {
  checkGenerate(pack, s);
  const shape = clipLatentShape(pack, s.width, s.height, s.frames); // [1, C, F', H', W']
  const noise = { data: gaussianNoise(sizeOf(shape), s.seed), shape }; // x_1 [1, C, F', H', W']
  const ts = scheduleFor(pack, shape, s.steps, s.shift);
  const negative = s.negativePrompt !== undefined ? { negative: s.negativePrompt } : {};
  const sampled = await sampleLatent(pack, noise, { prompt: s.prompt, guidance: s.guidance, ...negative, solver: s.solver, ts }, run);
  run.onProgress?.({ phase: 'decode', step: 0, steps: 1 });
  const frames = await decodeFrames(pack, sampled.z);
  run.onProgress?.({ phase: 'decode', step: 1, steps: 1 });
  return { frames, calls: sampled.calls };
}
