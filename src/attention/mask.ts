/**
 * Masks on the model's grids: a pixel mask at working size mapped onto the latent grid
 * [F', H', W'] and onto the image tokens of the self-attention sequence (docs/model-pack.md
 * section 4: token (f, y, x) at offset + (f·Hp + y)·Wp + x). A cell or token takes the largest
 * mask value it covers, so anything the mask touches is editable.
 */
import type { Sequence } from '../model/transformer.js';
import { EXCLUDE, excludeRecText, type SharePlan } from './plan.js';

export interface GridGeometry {
  /** s: pixels per latent cell along height and width */
  readonly spatial: number;
  /** r: frames per latent frame after the first */
  readonly temporal: number;
}

/** The frames latent frame j holds: 0 alone, then (j−1)·r + 1 … j·r. */
function framesOf(j: number, r: number, frames: number): [number, number] {
  if (j === 0) return [0, 1];
  return [(j - 1) * r + 1, Math.min(frames, j * r + 1)];
}

/**
 * Max-pools per-frame pixel masks ([H, W] each, values in [0, 1]; one plane applies to every
 * frame) onto a latent grid [F', H', W'] = latentShape.slice(2). `frames` is the pixel frame count F.
 */
export function latentMask(planes: readonly Float32Array[], width: number, height: number, frames: number, latentShape: readonly number[], g: GridGeometry): Float32Array {
  const [, , Fl, Hl, Wl] = latentShape as [number, number, number, number, number];
  const s = g.spatial;
  if (Hl * s !== height || Wl * s !== width) {
    throw new Error(`A ${width}x${height} mask does not map onto a latent of ${Wl}x${Hl} cells of ${s} pixels`);
  }
  const out = new Float32Array(Fl * Hl * Wl); // [F', H', W']
  for (let j = 0; j < Fl; j++) {
    const [f0, f1] = framesOf(j, g.temporal, frames);
    for (let f = f0; f < f1; f++) {
      const plane = planes.length === 1 ? planes[0]! : planes[f];
      if (!plane) throw new Error(`The mask has ${planes.length} frames but latent frame ${j} needs frame ${f}`);
      for (let y = 0; y < height; y++) {
        const row = j * Hl * Wl + Math.floor(y / s) * Wl;
        for (let x = 0; x < width; x++) {
          const v = plane[y * width + x]!;
          const cell = row + Math.floor(x / s);
          if (v > out[cell]!) out[cell] = v;
        }
      }
    }
  }
  return out;
}

/** Max-pools a latent mask [F', H', W'] onto the image tokens of the patch grid [Fp·Hp·Wp], in token order. */
export function tokenMask(lm: Float32Array, latentShape: readonly number[], patch: readonly [number, number, number]): Float32Array {
  const [, , Fl, Hl, Wl] = latentShape as [number, number, number, number, number];
  const [pt, ph, pw] = patch;
  const [Fp, Hp, Wp] = [Fl / pt, Hl / ph, Wl / pw];
  const out = new Float32Array(Fp * Hp * Wp); // [n]
  for (let f = 0; f < Fl; f++) {
    for (let y = 0; y < Hl; y++) {
      for (let x = 0; x < Wl; x++) {
        const v = lm[(f * Hl + y) * Wl + x]!;
        const token = (Math.floor(f / pt) * Hp + Math.floor(y / ph)) * Wp + Math.floor(x / pw);
        if (v > out[token]!) out[token] = v;
      }
    }
  }
  return out;
}

/**
 * Bias over [own keys; reconstruction keys] for a masked edit: [B, S + S]. As enrichment (with
 * the reconstruction's text padding mask `recText` when shared text keys need it), plus
 * `maskBias`·m on the reconstruction path's image keys inside the mask (m = token coverage), so a
 * negative value keeps the edit from copying what the mask covers in the source (the bias of
 * KV-Edit, arXiv 2502.17363, moved onto the shared keys). A bias of EXCLUDE or less removes them.
 */
export function maskedEnrichmentBias(plan: SharePlan, seq: Sequence, B: number, tokens: Float32Array, maskBias: number, recText?: Float32Array): Float32Array {
  const S = seq.length;
  if (tokens.length !== seq.imageTokens) throw new Error(`Token mask holds ${tokens.length} values but the sequence has ${seq.imageTokens} image tokens`);
  const row = new Float32Array(2 * S); // [S + Sc], Sc = S
  excludeRecText(row, plan, seq, recText);
  const b = Math.max(maskBias, EXCLUDE);
  if (b !== 0) for (let i = 0; i < tokens.length; i++) if (tokens[i]! > 0) row[S + seq.textTokens + i] = b * tokens[i]!;
  const bias = new Float32Array(B * 2 * S); // [B, S + Sc]
  for (let k = 0; k < B; k++) bias.set(row, k * 2 * S);
  return bias;
}
