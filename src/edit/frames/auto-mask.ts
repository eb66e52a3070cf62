/**
 * Edit masks estimated from the prompts alone (DiffEdit, Couairon et al., arXiv 2210.11427,
 * carried over to rectified flow). The source latent z_0 is noised to x_t = (1 − t) z_0 + t ε for
 * a few fixed draws of ε, and the model's velocity under the target prompt is compared with its
 * velocity under the source prompt, both with guidance off:
 *
 *   D(p) = Σ_k Σ_c |v(x_t^k, t, c_target) − v(x_t^k, t, c_source)|[c, p]   for every latent position p.
 *
 * The prompts disagree where the edit must happen, so the mask is D ≥ θ · max D, the largest
 * value taken over the whole window (a clip's frames share one scale). The mask is brought to
 * the pixel frames at the working size and then to the source size, where the masked swap
 * (swap.ts) takes it as if the user had drawn it.
 */
import type { FitPlan } from '../../media/fit.js';
import { restorePlane } from '../../media/fit.js';
import type { Mask, PlaneScaler } from '../../media/mask.js';
import type { Tensor } from '../../media/tensor.js';
import type { LoadedPack } from '../../model/pack.js';
import { quotedPrompt } from '../../model/text.js';
import type { LatentInversion } from '../latent/invert.js';
import { gaussianNoise } from '../latent/noise.js';
import type { RunOptions } from '../latent/progress.js';
import { condition, pathVelocity, type Condition } from '../latent/velocity.js';
import type { ClipWindow } from './windows.js';

/** Where the prompts are compared: the noise level t, the draws of ε and their first seed. */
export const MASK_PROBE = Object.freeze({ t: 0.5, draws: 4, seed: 1000 });

/** Checks θ, the share of the largest disagreement a position needs to be edited. */
export function checkMaskThreshold(threshold: number): void {
  if (!(Number.isFinite(threshold) && threshold > 0 && threshold < 1)) {
    throw new Error(`Expected a number between 0 and 1 (exclusive) for the automatic mask's threshold but received ${threshold}`);
  }
}

/** The source and target prompts embedded once, guidance off, for every window's estimate. */
export async function promptConditions(pack: LoadedPack, prompts: { source: string; target: string }, run: RunOptions = {}): Promise<{ source: Condition; target: Condition }> {
  const warn = run.onWarning ? { onWarning: run.onWarning } : {};
  return { source: await condition(pack, prompts.source, 1, undefined, warn), target: await condition(pack, prompts.target, 1, undefined, warn) };
}

/**
 * D over the latent grid [F'·H'·W'] of z_0 [1, C, F', H', W']: 2 · draws model calls. Progress is
 * reported as phase 'mask', one step per draw.
 */
export async function disagreement(pack: LoadedPack, z0: Tensor, conds: { source: Condition; target: Condition }, run: RunOptions = {}): Promise<Float32Array> {
  const [, C, F, H, W] = z0.shape as [number, number, number, number, number];
  const plane = F * H * W;
  const n = C * plane;
  const source = pathVelocity(pack, conds.source, z0.shape);
  const target = pathVelocity(pack, conds.target, z0.shape);
  const { t, draws, seed } = MASK_PROBE;
  const d = new Float32Array(plane); // [F'·H'·W']
  const x = new Float32Array(n); // x_t: [1, C, F', H', W']
  const vSource = new Float32Array(n); // the call's output buffer is reused: keep a copy
  for (let k = 0; k < draws; k++) {
    run.signal?.throwIfAborted();
    const eps = gaussianNoise(n, seed + k);
    for (let i = 0; i < n; i++) x[i] = (1 - t) * z0.data[i]! + t * eps[i]!;
    vSource.set((await source.call(x, t)).v);
    const vTarget = (await target.call(x, t)).v;
    for (let i = 0; i < n; i++) d[i % plane]! += Math.abs(vTarget[i]! - vSource[i]!);
    run.onProgress?.({ phase: 'mask', step: k + 1, steps: draws });
  }
  return d;
}

/** 1 where D ≥ θ · max D, else 0 (all 0 when the prompts agree everywhere). */
export function thresholdMap(d: Float32Array, threshold: number): Float32Array {
  checkMaskThreshold(threshold);
  let max = 0;
  for (const v of d) max = Math.max(max, v);
  return Float32Array.from(d, (v) => (max > 0 && v >= threshold * max ? 1 : 0));
}

/** The latent frame that holds pixel frame f: frame 0 alone, then r frames per latent frame. */
function latentFrameOf(f: number, r: number): number {
  return f === 0 ? 0 : Math.floor((f - 1) / r) + 1;
}

/**
 * Spreads a latent mask [F', H', W'] over `frames` pixel frames at the working size [H'·s, W'·s]
 * (s = spatial compression, r = temporal compression), each cell over its s × s pixels.
 */
export function pixelPlanes(m: Float32Array, latentShape: readonly number[], frames: number, g: { spatial: number; temporal: number }): Float32Array[] {
  const [, , Fl, Hl, Wl] = latentShape as [number, number, number, number, number];
  if (m.length !== Fl * Hl * Wl) throw new Error(`A latent mask of ${m.length} values does not fit the grid [${Fl}, ${Hl}, ${Wl}]`);
  const s = g.spatial;
  const [w, h] = [Wl * s, Hl * s];
  return Array.from({ length: frames }, (_, f) => {
    const j = latentFrameOf(f, g.temporal);
    if (j >= Fl) throw new Error(`Pixel frame ${f} needs latent frame ${j} but the grid has ${Fl}`);
    const out = new Float32Array(w * h); // [H, W]
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) out[y * w + x] = m[(j * Hl + Math.floor(y / s)) * Wl + Math.floor(x / s)]!;
    }
    return out;
  });
}

/** What the estimate needs of an inverted source: its fit, its windows and their inversions. */
export interface InvertedSource {
  readonly fit: FitPlan;
  readonly windows: readonly ClipWindow[];
  readonly inversions: readonly LatentInversion[];
}

/**
 * Estimates the edit mask of an inverted source (a still, or a clip of `frames` frames) at the
 * working size: D on each window's source latent (the start of its inversion trajectory),
 * thresholded, spread over the window's frames; a frame two windows share takes the larger value.
 * restoreMaskPlane brings its planes to the source size.
 */
export async function estimateEditMaskWork(
  pack: LoadedPack,
  src: InvertedSource,
  frames: number,
  prompts: { source: string; target: string },
  threshold: number,
  run: RunOptions = {},
): Promise<Mask> {
  checkMaskThreshold(threshold);
  const g = { spatial: pack.manifest.latent.spatialCompression, temporal: pack.manifest.latent.temporalCompression };
  const conds = await promptConditions(pack, prompts, run);
  const work: (Float32Array | null)[] = Array.from({ length: frames }, () => null);
  let marked = false;
  for (const [i, inv] of src.inversions.entries()) {
    const w = src.windows[i]!;
    const z0 = { data: inv.trajectory[0]!, shape: inv.latentShape }; // [1, C, F', H', W']
    const m = thresholdMap(await disagreement(pack, z0, conds, run), threshold); // [F'·H'·W']
    marked ||= m.some((v) => v > 0);
    pixelPlanes(m, inv.latentShape, w.length, g).forEach((plane, f) => {
      const have = work[w.start + f];
      if (!have) work[w.start + f] = plane;
      else for (let p = 0; p < plane.length; p++) have[p] = Math.max(have[p]!, plane[p]!);
    });
  }
  // no disagreement anywhere: the model reads both prompts alike (e.g. they tokenise to the same ids)
  if (!marked) {
    throw new Error(
      `The source prompt ${quotedPrompt(prompts.source)} and the target prompt ${quotedPrompt(prompts.target)} do not differ for this model (its velocity is the same under both everywhere, e.g. they tokenise to the same ids), so the automatic mask is empty: change the target prompt to say what should differ in words the model knows`,
    );
  }
  return { width: src.fit.workWidth, height: src.fit.workHeight, frames: work.map((p, f) => {
    if (!p) throw new Error(`No window covers frame ${f}`);
    return p;
  }) };
}

/** Brings a mask plane at the working size of `fit` back to the source size, as frames are ([H_work, W_work] → [H, W]). */
export function restoreMaskPlane(fit: FitPlan): PlaneScaler {
  return async (plane) => restorePlane(plane, fit); // [H, W] at the source size
}

/**
 * The edit mask its prompts give (see estimateEditMaskWork), at the source size: one plane per
 * frame, each restored from the working size.
 */
export async function estimateEditMask(...args: Parameters<typeof estimateEditMaskWork>): Promise<Mask> {
  const src = args[1];
  const work = await estimateEditMaskWork(...args);
  const restore = restoreMaskPlane(src.fit);
  const planes: Float32Array[] = [];
  for (const p of work.frames) planes.push(await restore(p));
  return { width: src.fit.sourceWidth, height: src.fit.sourceHeight, frames: planes };
}
