/**
 * Timestep schedules for rectified-flow sampling and inversion.
 *
 * Convention: x_t = (1 - t) x_0 + t ε, so t = 1 is pure noise and t = 0 is data.
 * Sampling walks a schedule from 1 down to 0; inversion walks the same schedule reversed.
 */

/** Parameters of the resolution-dependent shift: mu is linear in the token count. */
export interface ResolutionShiftParams {
  /** mu at `baseTokens`. */
  baseShift: number;
  /** mu at `maxTokens`. */
  maxShift: number;
  baseTokens: number;
  maxTokens: number;
}

/** FLUX.1 defaults: mu = 0.5 at 256 image tokens, 1.15 at 4096. */
export const FLUX_RESOLUTION_SHIFT: Readonly<ResolutionShiftParams> = Object.freeze({
  baseShift: 0.5,
  maxShift: 1.15,
  baseTokens: 256,
  maxTokens: 4096,
});

function checkShift(shift: number): void {
  if (!Number.isFinite(shift) || shift <= 0) {
    throw new Error(`Expected a positive finite shift but received ${shift}`);
  }
}

/**
 * Static timestep shift in the SD3/FLUX form: `shift·t / (1 + (shift − 1)·t)`.
 * Maps [0, 1] onto itself, fixes both endpoints, and for shift > 1 moves interior times
 * toward 1 (more steps spent at high noise). shift = 1 is the identity.
 */
export function shiftTime(t: number, shift: number): number {
  checkShift(shift);
  if (shift === 1) return t;
  return (shift * t) / (1 + (shift - 1) * t);
}

/**
 * Resolution-dependent shift factor as used by FLUX (black-forest-labs/flux,
 * `get_lin_function` + `time_shift` in sampling.py), following the resolution-dependent
 * timestep shifting of SD3 (Esser et al. 2024, "Scaling Rectified Flow Transformers for
 * High-Resolution Image Synthesis", arXiv:2403.03206).
 *
 * mu is the straight line through (baseTokens, baseShift) and (maxTokens, maxShift),
 * evaluated at `tokens`. FLUX's `time_shift(mu, 1, t) = e^mu / (e^mu + 1/t − 1)` equals
 * {@link shiftTime} with shift = e^mu, so this returns `exp(mu)`.
 */
export function resolutionShift(tokens: number, p: ResolutionShiftParams): number {
  for (const [name, value] of [
    ['tokens', tokens],
    ['baseShift', p.baseShift],
    ['maxShift', p.maxShift],
    ['baseTokens', p.baseTokens],
    ['maxTokens', p.maxTokens],
  ] as const) {
    if (!Number.isFinite(value)) {
      throw new Error(`Expected a finite number for ${name} but received ${value}`);
    }
  }
  if (p.maxTokens === p.baseTokens) {
    throw new Error(
      `Expected maxTokens to differ from baseTokens but received ${p.maxTokens} for both`,
    );
  }
  const slope = (p.maxShift - p.baseShift) / (p.maxTokens - p.baseTokens);
  const mu = p.baseShift + slope * (tokens - p.baseTokens);
  return Math.exp(mu);
}

/**
 * `steps + 1` strictly descending times from exactly 1 to exactly 0: uniform in t, then
 * passed through {@link shiftTime}.
 */
export function timesteps(steps: number, shift = 1): number[] {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`Expected a positive integer for steps but received ${steps}`);
  }
  checkShift(shift);
  const ts = new Array<number>(steps + 1);
  ts[0] = 1;
  for (let i = 1; i < steps; i++) ts[i] = shiftTime(1 - i / steps, shift);
  ts[steps] = 0;
  return ts;
}

/** The schedule walked backwards (data to noise), for inversion. Returns a new array. */
export function inversionSchedule(ts: readonly number[]): number[] {
  return [...ts].reverse();
}
