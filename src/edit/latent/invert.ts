/**
 * Inversion: the source latent integrated from t = 0 to t = 1 under the source condition with
 * guidance off, using the same solver as sampling over the reversed schedule. A second-order
 * solver (RF-Solver, arXiv 2411.04746; FireFlow, arXiv 2412.07517) keeps the trajectory
 * invertible where Euler loses the image.
 */
import type { Tensor } from '../../media/tensor.js';
import type { LoadedPack } from '../../model/pack.js';
import { inversionSchedule, solve, type SolverName } from '../../solvers/index.js';
import type { RunOptions } from './progress.js';
import { scheduleFor } from './schedule.js';
import { condition, pathVelocity } from './velocity.js';

export interface InvertSettings {
  readonly sourcePrompt: string;
  readonly steps: number;
  readonly solver: SolverName;
  /** σ of a static schedule shift replacing the pack's schedule (absent: the pack's) */
  readonly shift?: number;
}

export interface LatentInversion {
  readonly settings: InvertSettings;
  /** sampling schedule t_0 = 1 > … > t_N = 0 */
  readonly ts: readonly number[];
  readonly latentShape: readonly number[];
  /** x at t_N = 0, t_{N−1}, …, t_0 = 1: trajectory[0] is the source latent, the last is the noise */
  readonly trajectory: readonly Float32Array[];
  /** model calls made */
  readonly calls: number;
}

/** The guidance the reconstruction path uses: none (distilled packs get 1). */
export const RECONSTRUCTION_GUIDANCE = 1;

export function noiseOf(inv: LatentInversion): Tensor {
  return { data: inv.trajectory[inv.trajectory.length - 1]!, shape: inv.latentShape };
}

/** Inverts a latent z_0 [1, C, F', H', W'] to noise. */
export async function invertLatent(pack: LoadedPack, z0: Tensor, settings: InvertSettings, run: RunOptions = {}): Promise<LatentInversion> {
  const ts = scheduleFor(pack, z0.shape, settings.steps, settings.shift);
  const cond = await condition(pack, settings.sourcePrompt, RECONSTRUCTION_GUIDANCE, undefined, run.onWarning ? { onWarning: run.onWarning } : {});
  const path = pathVelocity(pack, cond, z0.shape);
  const result = await solve(settings.solver, async (x, t) => (await path.call(x, t)).v, z0.data, inversionSchedule(ts), {
    keepTrajectory: true,
    ...(run.signal ? { signal: run.signal } : {}),
    onStep: (e) => run.onProgress?.({ phase: 'invert', step: e.step + 1, steps: e.steps }),
  });
  return { settings, ts, latentShape: z0.shape, trajectory: result.trajectory!, calls: result.calls };
}
