/**
 * Guidance responsiveness of each shareable layer: how strongly sharing context at that layer
 * alone moves the edit path's prediction. The idea follows ContextFlow's vital-layer analysis
 * (arXiv 2509.17818), which ranks DiT blocks by how much guidance injected at a block changes the
 * output, and Stable Flow's (arXiv 2411.14430) one-layer-at-a-time probing.
 *
 * For a calibration edit, at probe step i with x = x_traj(t_i) (the source's inversion at t_i):
 *   v_rec  = v(x, t_i, c_src)                         reconstruction path, guidance off
 *   v_∅    = v_g(x, t_i, c_tgt)                       edit path (with the task's guidance), no sharing
 *   v_l    = v_g(x, t_i, c_tgt; ctx_l = K, V of v_rec) edit path sharing at layer l only
 *   R_l    = ‖w ⊙ (v_l − v_∅)‖ / ‖w ⊙ (v_∅ − v_rec)‖
 * with w the edit region on the latent grid (the grown, feathered mask of a masked task, the
 * estimated mask of an automatic-mask edit, all ones for an edit everywhere), broadcast over the
 * channels. R_l is how far sharing at l alone moves the edit prediction, measured against how far
 * the edit is from reconstructing the source; a layer the edit ignores scores 0. Masked tasks
 * bias the shared keys inside the mask as the task does (its mask bias).
 */
import { latentMask, maskedEnrichmentBias, tokenMask } from '../attention/mask.js';
import { enrichment, enrichmentBias, planSharing } from '../attention/plan.js';
import { RECONSTRUCTION_GUIDANCE, type LatentInversion } from '../edit/latent/invert.js';
import type { RunOptions } from '../edit/latent/progress.js';
import type { PreparedSwap } from '../edit/frames/swap-jobs.js';
import { condition, negativePrompt, pathVelocity, type GuideAgainst } from '../edit/latent/velocity.js';
import type { LoadedPack } from '../model/pack.js';
import { releaseKV } from '../model/transformer.js';
import { windowFrames } from '../edit/frames/windows.js';

export interface ProbeCase {
  /** the source's inversion with its whole trajectory (a clip's: its first window's) */
  readonly inversion: LatentInversion;
  readonly sourcePrompt: string;
  readonly targetPrompt: string;
  readonly guidance: number;
  /** what the edit path's guidance steers away from, as the task runs it */
  readonly guideAgainst: GuideAgainst;
  /** w: the edit region on the latent grid [F'·H'·W'], or null for everywhere */
  readonly region: Float32Array | null;
  /** logit bias on the shared keys inside the region (masked tasks), else 0 */
  readonly maskBias: number;
}

/** Probe steps: `count` steps spread evenly over the first `fraction` of N steps (at least step 0). */
export function probeSteps(N: number, fraction: number, count: number): number[] {
  const span = Math.max(1, Math.round(fraction * N));
  const k = Math.min(count, span);
  return [...new Set(Array.from({ length: k }, (_, j) => Math.floor((j * span) / k)))];
}

/**
 * The region of a prepared masked edit on its first window's latent grid, as the swap lays it
 * there (swapToWork): [F'·H'·W'].
 */
export function preparedRegion(pack: LoadedPack, p: PreparedSwap): Float32Array {
  const inv = p.inversions[0]!;
  const w = p.windows[0]!;
  const g = { spatial: pack.manifest.latent.spatialCompression, temporal: pack.manifest.latent.temporalCompression };
  const planes = p.workMask.length === 1 ? p.workMask : windowFrames(p.workMask, w);
  return latentMask(planes, p.fit.workWidth, p.fit.workHeight, w.padded, inv.latentShape, g);
}

/** ‖w ⊙ (a − b)‖ over [C, F'·H'·W'] with w [F'·H'·W'] (null: 1). */
function regionNorm(a: Float32Array, b: Float32Array, w: Float32Array | null): number {
  let s = 0;
  const plane = w ? w.length : 1;
  for (let j = 0; j < a.length; j++) {
    const d = (w ? w[j % plane]! : 1) * (a[j]! - b[j]!);
    s += d * d;
  }
  return Math.sqrt(s);
}

export interface CaseResponsiveness {
  /** R_l per layer of `layers`, averaged over the probe steps */
  readonly scores: number[];
  readonly calls: number;
}

/** R_l of every layer in `layers` for one calibration edit, averaged over `steps`. */
export async function caseResponsiveness(pack: LoadedPack, c: ProbeCase, layers: readonly number[], steps: readonly number[], run: RunOptions = {}): Promise<CaseResponsiveness> {
  const inv = c.inversion;
  const N = inv.ts.length - 1;
  const shape = inv.latentShape; // [1, C, F', H', W']
  const rec = pathVelocity(pack, await condition(pack, c.sourcePrompt, RECONSTRUCTION_GUIDANCE), shape);
  const edit = pathVelocity(pack, await condition(pack, c.targetPrompt, c.guidance, negativePrompt(c.guideAgainst, c.sourcePrompt)), shape);
  const tokens = c.region ? tokenMask(c.region, shape, pack.manifest.transformer.patchSize) : null; // [n_img]
  const feeds = layers.map((l) => {
    const plan = planSharing({ layers: [l], fraction: 1 }, pack.transformer.contextLayers, N);
    const bias = tokens ? maskedEnrichmentBias(plan, rec.sequence, edit.batch, tokens, c.maskBias) : enrichmentBias(plan, rec.sequence, edit.batch);
    return enrichment(plan, rec.sequence, edit.batch, bias);
  });
  const sums = new Array<number>(layers.length).fill(0);
  let calls = 0;
  for (const [j, i] of steps.entries()) {
    run.signal?.throwIfAborted();
    const t = inv.ts[i]!;
    const x = inv.trajectory[N - i]!; // x_traj(t_i): [1, C, F', H', W']
    const r = await rec.call(x, t, { fetchKV: layers });
    const vRec = Float32Array.from(r.v);
    const vNone = Float32Array.from((await edit.call(x, t)).v);
    calls += 2;
    const gap = Math.max(regionNorm(vNone, vRec, c.region), 1e-12);
    try {
      for (const [k, feed] of feeds.entries()) {
        const vl = (await edit.call(x, t, { context: feed(r.kv) })).v;
        sums[k]! += regionNorm(vl, vNone, c.region) / gap;
        calls++;
      }
    } finally {
      releaseKV(r.kv);
    }
    run.onProgress?.({ phase: 'sample', step: j + 1, steps: steps.length });
  }
  return { scores: sums.map((s) => s / steps.length), calls };
}
