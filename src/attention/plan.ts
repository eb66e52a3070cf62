/**
 * What to share: a validated plan of layers and steps for shared self-attention context, and
 * the per-call context feeds it implies. In each shared layer, for the first τ of the steps, the
 * edit path attends to softmax(Q_edit [K_edit; K_rec]ᵀ/√d + b)[V_edit; V_rec]
 * (Adaptive Context Enrichment, ContextFlow: arXiv 2509.17818).
 */
import type { LayerKV, Sequence } from '../model/transformer.js';

/** Logit bias that removes a key from the softmax (exp(−1e4) underflows to 0 in float32). */
export const EXCLUDE = -1e4;

export interface ShareOptions {
  /** layers that share context; must be context layers of the pack */
  readonly layers: readonly number[];
  /** τ: fraction of the steps, from the start, that share (0 = no sharing) */
  readonly fraction: number;
  /** let the edit path also see the reconstruction path's text tokens (joint-text packs) */
  readonly shareText?: boolean;
}

export interface SharePlan {
  readonly layers: readonly number[];
  /** number of leading steps that share */
  readonly sharedSteps: number;
  readonly shareText: boolean;
}

/** Validates share options against the pack's context layers and builds the plan for `steps` steps. */
export function planSharing(opts: ShareOptions, contextLayers: readonly number[], steps: number): SharePlan {
  if (opts.layers.length === 0) {
    throw new Error(
      `The share layer set is empty: name at least one of the pack's context layers (${contextLayers.join(', ')}), ` +
        'or pass --share-steps 0 to edit without shared context.',
    );
  }
  const unknown = opts.layers.filter((l) => !contextLayers.includes(l));
  if (unknown.length > 0) {
    throw new Error(`Share layers ${unknown.join(', ')} have no context ports in this pack; choose from ${contextLayers.join(', ')}.`);
  }
  if (new Set(opts.layers).size !== opts.layers.length) throw new Error(`Share layers repeat a layer: ${opts.layers.join(', ')}`);
  if (!(opts.fraction >= 0 && opts.fraction <= 1)) {
    throw new Error(`Expected a number in [0, 1] for the shared fraction of steps but received ${opts.fraction}`);
  }
  return {
    layers: [...opts.layers].sort((a, b) => a - b),
    sharedSteps: Math.round(opts.fraction * steps),
    shareText: opts.shareText ?? false,
  };
}

/** Whether step i (0-based) shares context. */
export function isShared(plan: SharePlan, step: number): boolean {
  return step < plan.sharedSteps;
}

/**
 * Bias over [own keys; reconstruction keys] for one shared layer: [B, S + S]. Own keys and
 * the reconstruction's image keys are 0; the reconstruction's text keys (joint text) are
 * excluded unless the plan shares text, and then its padding keys are excluded when `recText`,
 * the reconstruction prompt's padding mask [L] (1 real token, 0 padding), is given (packs whose
 * transformer masks padded text, transformer.textMask).
 */
export function enrichmentBias(plan: SharePlan, seq: Sequence, B: number, recText?: Float32Array): Float32Array {
  const S = seq.length;
  const row = new Float32Array(2 * S); // [S + Sc], Sc = S
  excludeRecText(row, plan, seq, recText);
  const bias = new Float32Array(B * 2 * S); // [B, S + Sc]
  for (let b = 0; b < B; b++) bias.set(row, b * 2 * S);
  return bias;
}

/**
 * In one bias row over [own keys; reconstruction keys] ([S + S]): excludes the reconstruction's
 * text keys unless the plan shares text, and then those of its padding (`recText`, [L]).
 */
export function excludeRecText(row: Float32Array, plan: SharePlan, seq: Sequence, recText?: Float32Array): void {
  const S = seq.length;
  if (!plan.shareText) {
    row.fill(EXCLUDE, S, S + seq.textTokens);
    return;
  }
  if (!recText || seq.textTokens === 0) return;
  if (recText.length !== seq.textTokens) throw new Error(`The reconstruction's text mask holds ${recText.length} values but the sequence has ${seq.textTokens} text tokens`);
  for (let j = 0; j < seq.textTokens; j++) if (recText[j] === 0) row[S + j] = EXCLUDE;
}

export interface ContextFeeds {
  readonly context: ReadonlyMap<number, LayerKV>;
  readonly bias: ReadonlyMap<number, Float32Array>;
}

/**
 * Builds the context feeds for the edit path's calls (batch B) from the reconstruction path's
 * k/v of the same step and solver stage ([1, h, S, d] per shared layer; the transformer repeats
 * them along the batch). The bias is built once. `b` replaces the plain enrichment bias (e.g. a
 * masked one).
 */
export function enrichment(
  plan: SharePlan,
  seq: Sequence,
  B: number,
  b: Float32Array = enrichmentBias(plan, seq, B), // [B, S + Sc]
): (recKV: ReadonlyMap<number, LayerKV>) => ContextFeeds {
  const bias = new Map(plan.layers.map((layer) => [layer, b]));
  return (recKV) => {
    const context = new Map<number, LayerKV>();
    for (const layer of plan.layers) {
      const kv = recKV.get(layer);
      if (!kv) throw new Error(`Reconstruction keys/values of layer ${layer} were not fetched`);
      context.set(layer, kv); // [1, h, S, d]
    }
    return { context, bias };
  };
}
