/**
 * Text-guided editing with shared attention context (ContextFlow, arXiv 2509.17818): a
 * reconstruction path (source prompt, guidance off) and an edit path (target prompt, CFG) start
 * from the same inverted noise. For the first τ of the steps, in the plan's layers, the edit path
 * attends to its own keys/values concatenated with the reconstruction path's from the same step
 * and solver stage. Both paths are integrated as one state [x_rec; x_edit] so every solver
 * stage sees both at the same t.
 */
import type { Tensor } from '../media/tensor.js';
import { enrichment, enrichmentBias, isShared, planSharing, type ShareOptions, type SharePlan } from '../attention/plan.js';
import type { LoadedPack } from '../model/pack.js';
import { releaseKV } from '../model/transformer.js';
import { solve, type VelocityFn } from '../solvers/index.js';
import { noiseOf, RECONSTRUCTION_GUIDANCE, type LatentInversion } from './invert.js';
import type { RunOptions } from './progress.js';
import { sampleLatent } from './sample.js';
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
  const N = inv.ts.length - 1;
  const plan = planSharing(s.share, pack.transformer.contextLayers, N);
  const noise = noiseOf(inv); // [1, C, F', H', W']
  const n = noise.data.length;
  const m = s.keepReconstruction ? N : plan.sharedSteps; // steps integrated with both paths
  const onProgress = run.onProgress;
  const signal = run.signal ? { signal: run.signal } : {};
  const negative = negativePrompt(s.guideAgainst ?? 'empty', inv.settings.sourcePrompt, s.negativePrompt);
  const warn = run.onWarning ? { onWarning: run.onWarning } : {};

  let state: Float32Array = noise.data; // x_edit alone, once the paths part (the solvers never write their input)
  let reconstruction: Tensor | null = null;
  let calls = 0;
  if (m > 0) {
    const rec = pathVelocity(pack, await condition(pack, inv.settings.sourcePrompt, RECONSTRUCTION_GUIDANCE, undefined, warn), noise.shape);
    const edit = pathVelocity(pack, await condition(pack, s.targetPrompt, s.guidance, negative, warn), noise.shape);
    const enrich = enrichment(plan, rec.sequence, edit.batch, enrichmentBias(plan, rec.sequence, edit.batch, rec.textMask ?? undefined));
    const v = new Float32Array(2 * n); // [v_rec; v_edit]
    const both: VelocityFn = async (x, t, at) => {
      const shared = isShared(plan, at.step);
      const r = await rec.call(x.subarray(0, n), t, shared ? { fetchKV: plan.layers } : {});
      v.set(r.v, 0);
      const feeds = shared ? enrich(r.kv) : undefined;
      try {
        const e = await edit.call(x.subarray(n), t, feeds ? { context: feeds } : {});
        v.set(e.v, n);
      } finally {
        releaseKV(r.kv);
      }
      return v;
    };
    const x = new Float32Array(2 * n); // [x_rec; x_edit], both start at the same noise
    x.set(noise.data, 0);
    x.set(noise.data, n);
    const result = await solve(inv.settings.solver, both, x, inv.ts.slice(0, m + 1), {
      ...signal,
      onStep: (e) => onProgress?.({ phase: 'sample', step: e.step + 1, steps: N }),
    });
    calls += 2 * result.calls;
    state = result.x.slice(n);
    if (m === N) reconstruction = { data: result.x.slice(0, n), shape: noise.shape };
  }
  if (m < N) {
    // After the shared window the edit path continues alone.
    const rest = await sampleLatent(
      pack,
      { data: state, shape: noise.shape },
      { prompt: s.targetPrompt, guidance: s.guidance, ...(negative !== undefined ? { negative } : {}), solver: inv.settings.solver, ts: inv.ts.slice(m) },
      { ...signal, ...warn, ...(onProgress ? { onProgress: (p) => onProgress({ ...p, step: m + p.step, steps: N }) } : {}) },
    );
    calls += rest.calls;
    state = rest.z.data;
  }
  return { z: { data: state, shape: noise.shape }, reconstruction, plan, calls };
}
