/**
 * Masked swap on the latent grid: replace what a mask covers, keep the rest. Outside the mask the
 * edit path is pinned to the stored inversion trajectory after every step,
 * x_edit ← m·x_edit + (1 − m)·x_traj(t) (the latent blending of Blended Latent Diffusion,
 * arXiv 2206.02779, and KV-Edit's background preservation, arXiv 2502.17363); inside it the edit
 * path generates the target prompt while, for the first τ of the steps, its self-attention also
 * sees the reconstruction path's keys/values (ContextFlow, arXiv 2509.17818), optionally biased
 * on the keys the mask covers. The reconstruction path is the stored trajectory itself: its state
 * is pinned to x_traj(t) after every step, so its keys/values are those of the source.
 */
import { maskedEnrichmentBias, tokenMask } from '../../attention/mask.js';
import { enrichment, planSharing, type ShareOptions, type SharePlan } from '../../attention/plan.js';
import type { Tensor } from '../../media/tensor.js';
import type { LoadedPack } from '../../model/pack.js';
import { solve, solveOn } from '../../solvers/index.js';
import { assertEditable } from './edit.js';
import { noiseOf, RECONSTRUCTION_GUIDANCE, type LatentInversion } from './invert.js';
import type { RunOptions } from './progress.js';
import { hostSpace, pairs } from './space.js';
import { twoPathVelocity, type TwoPaths } from './two-path.js';
import { assertNegativePromptFits, condition, negativePrompt, pathVelocity, type GuideAgainst } from './velocity.js';

export interface SwapLatentSettings {
  readonly targetPrompt: string;
  readonly guidance: number;
  /** what the guidance steers away from: the empty prompt, or the source prompt */
  readonly guideAgainst: GuideAgainst;
  /**
   * A prompt to steer away from instead (it replaces guideAgainst's choice), e.g. the scene
   * without the object the mask covers: v = v_neg + g·(v_tgt − v_neg)
   */
  readonly negativePrompt?: string;
  readonly share: ShareOptions;
  /**
   * Logit bias on the reconstruction path's image keys inside the mask, scaled by the mask:
   * 0 = plain enrichment; negative values keep the edit from copying the source object;
   * −1e4 (EXCLUDE) or less removes those keys.
   */
  readonly maskBias: number;
}

export interface SwappedLatent {
  /** edit path at t = 0: [1, C, F', H', W'], equal to the source latent where the mask is 0 */
  readonly z: Tensor;
  readonly plan: SharePlan;
  readonly calls: number;
}

/**
 * Swaps inside a latent mask m [F', H', W'] (values in [0, 1], broadcast over channels), from an
 * inversion with its full trajectory.
 */
export async function swapLatent(pack: LoadedPack, inv: LatentInversion, m: Float32Array, s: SwapLatentSettings, run: RunOptions = {}): Promise<SwappedLatent> {
  assertEditable(pack);
  assertNegativePromptFits(pack, s.negativePrompt);
  const N = inv.ts.length - 1;
  const shape = inv.latentShape; // [1, C, F', H', W']
  const plane = shape.slice(2).reduce((a, b) => a * b, 1); // F'·H'·W'
  if (m.length !== plane) throw new Error(`Latent mask holds ${m.length} values but the latent grid [${shape.slice(2).join(', ')}] has ${plane}`);
  if (inv.trajectory.length !== N + 1) throw new Error(`Swap needs the inversion's whole trajectory (${N + 1} latents) but it holds ${inv.trajectory.length}`);
  const plan = planSharing(s.share, pack.transformer.contextLayers, N);
  const noise = noiseOf(inv); // [1, C, F', H', W']
  const n = noise.data.length;
  const traj = (i: number) => inv.trajectory[N - i]!; // x_traj at sampling time ts[i]
  const signal = run.signal ? { signal: run.signal } : {};
  const onStep = (offset: number) => (e: { step: number }) => run.onProgress?.({ phase: 'sample', step: offset + e.step + 1, steps: N });

  /** x_edit ← m·x_edit + (1 − m)·x_traj(ts[i]) over [C, F'·H'·W']. */
  const pin = (x: Float32Array, i: number) => {
    const xt = traj(i);
    for (let j = 0; j < n; j++) {
      const a = m[j % plane]!;
      x[j] = a * x[j]! + (1 - a) * xt[j]!;
    }
  };

  const negative = negativePrompt(s.guideAgainst, inv.settings.sourcePrompt, s.negativePrompt);
  const warn = run.onWarning ? { onWarning: run.onWarning } : {};
  const edit = pathVelocity(pack, await condition(pack, s.targetPrompt, s.guidance, negative, warn), shape);
  const shared = plan.sharedSteps;
  let state: Float32Array = noise.data;
  let calls = 0;
  if (shared > 0) {
    // 1. both paths for the shared steps: [x_rec, x_edit], the reconstruction pinned to the trajectory
    const rec = pathVelocity(pack, await condition(pack, inv.settings.sourcePrompt, RECONSTRUCTION_GUIDANCE, undefined, warn), shape);
    const tokens = tokenMask(m, shape, pack.manifest.transformer.patchSize); // [n_img]
    const enrich = enrichment(plan, rec.sequence, edit.batch, maskedEnrichmentBias(plan, rec.sequence, edit.batch, tokens, s.maskBias, rec.textMask ?? undefined));
    const space = hostSpace();
    const x1 = await space.from(noise); // [C·F'·H'·W'], both paths' start
    const result = await solveOn<TwoPaths<Float32Array>>(pairs(space.alg), inv.settings.solver, twoPathVelocity(space, plan, rec, edit, enrich), [x1, x1] as const, inv.ts.slice(0, shared + 1), {
      ...signal,
      afterStep: (xs, step) => {
        xs[0].set(traj(step + 1));
        pin(xs[1], step + 1);
        onStep(0)({ step });
        return xs; // changed in place: the solver's own arrays
      },
    });
    calls += 2 * result.calls;
    state = result.x[1];
  }
  if (shared < N) {
    // 2. the edit path alone for the remaining steps, still pinned outside the mask
    const result = await solve(inv.settings.solver, async (x, t) => (await edit.call(x, t)).v, state, inv.ts.slice(shared), {
      ...signal,
      onStep: onStep(shared),
      project: (xs, step) => pin(xs, shared + step + 1),
    });
    calls += result.calls;
    state = result.x;
  }
  return { z: { data: state, shape }, plan, calls };
}
