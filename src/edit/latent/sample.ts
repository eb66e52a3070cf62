/**
 * Plain sampling from given noise: one path under one condition, t = 1 → 0. Reconstruction is
 * sampling from inverted noise under the inversion's own condition and solver.
 */
import type { Tensor } from '../../media/tensor.js';
import type { LoadedPack } from '../../model/pack.js';
import { solve, type SolverName } from '../../solvers/index.js';
import { noiseOf, RECONSTRUCTION_GUIDANCE, type LatentInversion } from './invert.js';
import type { RunOptions } from './progress.js';
import { condition, pathVelocity } from './velocity.js';

export interface SampleSettings {
  readonly prompt: string;
  readonly guidance: number;
  /** the prompt guidance steers away from (default: the pack's negative prompt, the empty one unless it sets one) */
  readonly negative?: string;
  readonly solver: SolverName;
  /** schedule from 1 down to 0 */
  readonly ts: readonly number[];
}

export interface Sampled {
  readonly z: Tensor;
  readonly calls: number;
}

/** Integrates noise x_1 [1, C, F', H', W'] to x_0 along the prompt's velocity. */
export async function sampleLatent(pack: LoadedPack, noise: Tensor, s: SampleSettings, run: RunOptions = {}): Promise<Sampled> {
  const cond = await condition(pack, s.prompt, s.guidance, s.negative, run.onWarning ? { onWarning: run.onWarning } : {});
  const path = pathVelocity(pack, cond, noise.shape);
  const steps = s.ts.length - 1;
  const result = await solve(s.solver, async (x, t) => (await path.call(x, t)).v, noise.data, s.ts, {
    ...(run.signal ? { signal: run.signal } : {}),
    onStep: (e) => run.onProgress?.({ phase: 'sample', step: e.step + 1, steps }),
  });
  return { z: { data: result.x, shape: noise.shape }, calls: result.calls };
}

/** Samples back from an inversion under the same condition, solver and schedule. */
export function reconstructLatent(pack: LoadedPack, inv: LatentInversion, run: RunOptions = {}): Promise<Sampled> {
  return sampleLatent(
    pack,
    noiseOf(inv),
    { prompt: inv.settings.sourcePrompt, guidance: RECONSTRUCTION_GUIDANCE, solver: inv.settings.solver, ts: inv.ts },
    run,
  );
}
