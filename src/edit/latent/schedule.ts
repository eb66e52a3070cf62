/**
 * The time grid a pack asks for: N + 1 times from 1 to 0 with the manifest's static or
 * resolution-dependent shift.
 */
import type { LoadedPack } from '../../model/pack.js';
import { resolutionShift, timesteps } from '../../solvers/index.js';

/** Shift factor σ for a latent shape under the pack's schedule, or `override` (a static σ) when given. */
export function shiftFor(pack: LoadedPack, latentShape: readonly number[], override?: number): number {
  if (override !== undefined) return override;
  const spec = pack.manifest.schedule.shift;
  if (spec.kind === 'static') return spec.value;
  return resolutionShift(pack.transformer.sequence(latentShape).imageTokens, spec);
}

/** Sampling schedule t_0 = 1 > … > t_N = 0 (with a static σ = `shift` when given). */
export function scheduleFor(pack: LoadedPack, latentShape: readonly number[], steps: number, shift?: number): number[] {
  return timesteps(steps, shiftFor(pack, latentShape, shift));
}
