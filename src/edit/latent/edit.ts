/**
 * Text-guided editing with shared attention context (ContextFlow, arXiv 2509.17818): a
 * reconstruction path (source prompt, guidance off) and an edit path (target prompt, CFG) start
 * from the same inverted noise. For the first τ of the steps, in the plan's layers, the edit path
 * attends to its own keys/values concatenated with the reconstruction path's from the same step
 * and solver stage. Both paths are integrated as one state [x_rec; x_edit] so every solver
 * stage sees both at the same t.
 */
import type { Tensor } from '../../media/tensor.js';
import { enrichment, enrichmentBias, planSharing, type ShareOptions, type SharePlan } from '../../attention/plan.js';
import type { LoadedPack } from '../../model/pack.js';
import { solveOn, type VelocityOn } from '../../solvers/index.js';
import { noiseOf, RECONSTRUCTION_GUIDANCE, type LatentInversion } from './invert.js';
import type { RunOptions } from './progress.js';
import { pairs, spaceOf, type Space } from './space.js';
import { twoPathVelocity, type TwoPaths } from './two-path.js';
import { condition, negativePrompt, pathVelocity, type GuideAgainst } from './velocity.js';

export interface EditSettings {
  readonly targetPrompt: string;
  readonly guidance: number;
  /** what the guidance steers away from (default: the empty prompt) */
  readonly guideAgainst?: GuideAgainst;
  /** a prompt to steer away from instead of guideAgainst's choice (default: the pack's negative prompt, or the source prompt) */
  readonly negativePrompt?: string;
  readonly share: ShareOptions;
  /** also integrate the reconstruction path to t = 0 and return it */
  readonly keepReconstruction?: boolean;
}

export interface Edited {
  /** edit path at t = 0: [1, C, F', H', W'] */
  readonly z: Tensor;
  /** reconstruction path at t = 0, when asked for */
  readonly reconstruction: Tensor | null;
  readonly plan: SharePlan;
  readonly calls: number;
}

/** Text-guided editing needs a text encoder. */
export function assertEditable(pack: { manifest: LoadedPack['manifest'] }): void {
  if (!pack.manifest.text) {
    throw new Error(`Pack '${pack.manifest.id}' is unconditional (it has no text encoder), so it cannot edit by prompt; choose a pack with a text encoder.`);
  }
}

/** Edits from an inversion (its noise, schedule, solver and source prompt). */
export async function editLatent(pack: LoadedPack, inv: LatentInversion, s: EditSettings, run: RunOptions = {}): Promise<Edited> {
  assertEditable(pack);
  // the space's values are opaque to the edit: host arrays, or tensors on the device
  return editIn(spaceOf(pack) as Space<unknown>, pack, inv, s, run);
}

/** The edit in one space: both paths' latents and velocities stay in it from the noise to the end. */
async function editIn<V>(space: Space<V>, pack: LoadedPack, inv: LatentInversion, s: EditSettings, run: RunOptions): Promise<Edited> {
  const N = inv.ts.length - 1;
  const plan = planSharing(s.share, pack.transformer.contextLayers, N);
  const noise = noiseOf(inv); // [1, C, F', H', W']
  const m = s.keepReconstruction ? N : plan.sharedSteps; // steps integrated with both paths
  const progress = (offset: number) => <X>(x: X, step: number): X => {
    run.onProgress?.({ phase: 'sample', step: offset + step + 1, steps: N });
    return x;
  };
  const signal = run.signal ? { signal: run.signal } : {};
  const negative = negativePrompt(s.guideAgainst ?? 'empty', inv.settings.sourcePrompt, s.negativePrompt);
  const warn = run.onWarning ? { onWarning: run.onWarning } : {};
  const rec = m > 0 ? pathVelocity(pack, await condition(pack, inv.settings.sourcePrompt, RECONSTRUCTION_GUIDANCE, undefined, warn), noise.shape) : null;
  const edit = pathVelocity(pack, await condition(pack, s.targetPrompt, s.guidance, negative, warn), noise.shape);

  const x1: V = await space.from(noise); // both paths start at the same noise (the solvers never change their input)
  let state: V = x1; // x_edit alone, once the paths part
  let reconstruction: Tensor | null = null;
  let calls = 0;
  const free = (x: V) => {
    if (x !== x1) space.alg.free(x);
  };
  try {
    if (rec) {
      const enrich = enrichment(plan, rec.sequence, edit.batch, enrichmentBias(plan, rec.sequence, edit.batch, rec.textMask ?? undefined));
      const both = twoPathVelocity(space, plan, rec, edit, enrich);
      const result = await solveOn<TwoPaths<V>>(pairs(space.alg), inv.settings.solver, both, [x1, x1] as const, inv.ts.slice(0, m + 1), { ...signal, afterStep: progress(0) });
      calls += 2 * result.calls;
      const [xr, xe] = result.x;
      if (s.keepReconstruction) reconstruction = { data: (await space.toHost(xr)).slice(), shape: noise.shape };
      free(xr);
      state = xe;
    }
    if (m < N) {
      // after the shared window the edit path continues alone
      const alone: VelocityOn<V> = async (x, t) => (await space.call(edit, x, t)).v;
      const result = await solveOn<V>(space.alg, inv.settings.solver, alone, state, inv.ts.slice(m), { ...signal, afterStep: progress(m) });
      calls += result.calls;
      free(state);
      state = result.x;
    }
    return { z: { data: (await space.toHost(state)).slice(), shape: noise.shape }, reconstruction, plan, calls };
  } finally {
    free(state);
    space.alg.free(x1);
  }
}
