/**
 * One path's velocity: the pack's transformer under a text condition, with classifier-free
 * guidance (v = v_∅ + g·(v_c − v_∅), Ho & Salimans 2022) or a distilled guidance input. This is
 * the small wrapper that keeps the solvers from ever seeing the network.
 *
 * The guided-against branch need not be the empty prompt: an edit may guide against its source
 * prompt, v = v_src + g·(v_tgt − v_src), so the guidance scales what the target prompt changes
 * (a shape word, a colour word) rather than everything it says, as FlowEdit's velocity
 * difference V(tgt) − V(src) does (arXiv 2412.08629).
 */
import type { Tensor } from '../../media/tensor.js';
import type { ContextFeeds } from '../../attention/plan.js';
import type { LoadedPack, PackInfo } from '../../model/pack.js';
import { textRules } from '../../model/manifest.js';
import { assertPromptTokens, type TextBatch, type TextWarnings } from '../../model/text.js';
import { onDevice, type DeviceTensor, type Value } from '../../model/ort.js';
import type { ForwardRequest, LayerKV, Sequence } from '../../model/transformer.js';

/** What an edit's guidance steers away from: the empty prompt, or the source prompt. */
export type GuideAgainst = 'empty' | 'source';
export const GUIDE_AGAINST: readonly GuideAgainst[] = ['empty', 'source'];

export function isGuideAgainst(v: unknown): v is GuideAgainst {
  return (GUIDE_AGAINST as readonly unknown[]).includes(v);
}

/**
 * The prompt an edit's guidance steers away from: the negative prompt when one is given, else the
 * source prompt when `against` is "source", else undefined: the pack's own negative prompt
 * (text.negativePrompt, the empty prompt unless the pack sets one), which `condition` takes.
 */
export function negativePrompt(against: GuideAgainst, sourcePrompt: string, given?: string): string | undefined {
  if (given !== undefined) return given;
  return against === 'source' ? sourcePrompt : undefined;
}

/** The prompt of the unconditional branch when none is given: the pack's text.negativePrompt, else "". */
export function defaultNegativePrompt(pack: { manifest: LoadedPack['manifest'] }): string {
  return textRules(pack.manifest).negativePrompt;
}

export interface Condition {
  /** the prompt's embeddings [1, L, D], padding mask [1, L] and pooled vector; null for an unconditional pack */
  readonly text: TextBatch | null;
  /** the same for the prompt guided against (the pack's negative prompt for plain CFG), present when CFG runs */
  readonly uncond: TextBatch | null;
  readonly guidance: number;
}

/**
 * Refuses a negative prompt where there is no guided-against branch to give it: a pack that takes
 * guidance as a distilled input.
 */
export function assertNegativePromptFits(pack: { manifest: LoadedPack['manifest'] }, negative: string | undefined): void {
  if (negative === undefined || pack.manifest.transformer.guidance === 'cfg') return;
  throw new Error(`Pack '${pack.manifest.id}' takes guidance as a distilled input, so there is no second branch to steer away from a negative prompt: leave --negative-prompt out`);
}

/** Refuses a prompt for a pack without a text encoder. */
export function assertPromptFits(pack: { manifest: LoadedPack['manifest'] }, prompt: string, what = 'prompt'): void {
  if (!pack.manifest.text && prompt !== '') {
    throw new Error(`Pack '${pack.manifest.id}' is unconditional (it has no text encoder), so it takes no ${what}; leave it empty or choose a pack with a text encoder.`);
  }
}

/**
 * Checks prompts fit the pack before it loads: none for a pack without a text encoder, and none
 * longer than its tokenizer's limit (read from the pack's tokenizer alone).
 */
export async function assertPromptsFit(pack: PackInfo, prompts: readonly { text: string; what: string }[]): Promise<void> {
  for (const p of prompts) assertPromptFits(pack, p.text, p.what);
  if (pack.manifest.text) await assertPromptTokens(pack.manifest, pack.dir, prompts);
}

/** Item b of a batch tensor [B, …] as [1, …]. */
function batchItem(t: Tensor, b: number): Tensor {
  const n = t.data.length / t.shape[0]!;
  return { data: t.data.slice(b * n, (b + 1) * n), shape: [1, ...t.shape.slice(1)] };
}

function batchItemOf(t: TextBatch, b: number): TextBatch {
  return { text: batchItem(t.text, b), mask: batchItem(t.mask, b), pooled: t.pooled ? batchItem(t.pooled, b) : null };
}

/** Two one-item tensors [1, …] stacked as [2, …]. */
function stack(a: Tensor, b: Tensor): Tensor {
  const data = new Float32Array(a.data.length + b.data.length);
  data.set(a.data, 0);
  data.set(b.data, a.data.length);
  return { data, shape: [2, ...a.shape.slice(1)] };
}

/**
 * Embeds a prompt, and when classifier-free guidance is on the prompt it guides against
 * (`negative`; when not given, the pack's negative prompt, the empty one unless the pack sets
 * one). A prompt the pack truncates is reported through `warn`.
 */
export async function condition(pack: LoadedPack, prompt: string, guidance: number, negative?: string, warn: TextWarnings = {}): Promise<Condition> {
  assertPromptFits(pack, prompt);
  if (!pack.text) return { text: null, uncond: null, guidance: 1 };
  const cfg = pack.manifest.transformer.guidance === 'cfg' && guidance !== 1;
  const batch = await pack.text.embed(cfg ? [prompt, negative ?? defaultNegativePrompt(pack)] : [prompt], warn); // [B, L, D]
  if (!cfg) return { text: batch, uncond: null, guidance };
  return { text: batchItemOf(batch, 0), uncond: batchItemOf(batch, 1), guidance };
}

export interface PathCall {
  readonly context?: ContextFeeds;
  readonly fetchKV?: readonly number[];
  /**
   * On the host: return the fetched keys/values already repeated along a batch of this size
   * ([batch, h, S, d], e.g. the edit path's, which they feed as context), written by onnxruntime
   * into buffers this path reuses: they hold until its next call. Ignored on a device.
   */
  readonly kvBatch?: number;
}

export interface PathResult {
  /** v: same layout as x */
  readonly v: Float32Array;
  /** own keys/values of the fetched layers, conditional branch only: [1, h, S, d] (free with releaseKV once used) */
  readonly kv: ReadonlyMap<number, LayerKV>;
}

/** A path's velocity on the device: v [1, C, F', H', W'] float32, the caller's to free. */
export interface DevicePathResult {
  readonly v: DeviceTensor;
  readonly kv: ReadonlyMap<number, LayerKV>;
}

export interface PathVelocity {
  /** transformer batch per call: 2 with CFG (conditional, unconditional), else 1 */
  readonly batch: number;
  readonly sequence: Sequence;
  /**
   * The conditional prompt's padding mask [L] (1 real token, 0 padding) when the pack's
   * transformer masks padded text itself (transformer.textMask): another path that shares this
   * path's text keys excludes the padded ones with it. Else null.
   */
  readonly textMask: Float32Array | null;
  call(x: Float32Array, t: number, extra?: PathCall): Promise<PathResult>;
  /**
   * The same on a device that keeps tensors (pack.transformer.onDevice): x [1, C, F', H', W']
   * float32 stays on the device, the guidance is applied there, and v comes back there.
   */
  callOn(x: DeviceTensor, t: number, extra?: PathCall): Promise<DevicePathResult>;
}

/** Lets pending events (an abort, a progress message) run between model calls. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The velocity of one path for latents of `latentShape` ([1, C, F', H', W']). */
export function pathVelocity(pack: LoadedPack, cond: Condition, latentShape: readonly number[]): PathVelocity {
  const batch = cond.uncond ? 2 : 1;
  const n = latentShape.reduce((a, b) => a * b, 1);
  const c = cond.text;
  const u = cond.uncond;
  const text: Tensor | null = c && u ? stack(c.text, u.text) : (c?.text ?? null); // [B, L, D] or null
  const textMask: Tensor | null = c && u ? stack(c.mask, u.mask) : (c?.mask ?? null); // [B, L]
  const pooled: Tensor | null = c?.pooled ? (u?.pooled ? stack(c.pooled, u.pooled) : c.pooled) : null; // [B, P]
  const sequence = pack.transformer.sequence(latentShape);
  const xb = new Float32Array(n * batch); // [B, C, F', H', W']
  const vOut: Tensor = { data: new Float32Array(n * batch), shape: [batch, ...latentShape.slice(1)] }; // [B, C, F', H', W'], written by each call
  const v = new Float32Array(n);
  /** per layer: keys/values [kvBatch, h, S, d] reused across calls (PathCall.kvBatch) */
  const kvBuffers = new Map<number, { k: Tensor; v: Tensor }>();
  const kvInto = (layers: readonly number[], B: number) => {
    const { heads: h, headDim: d } = pack.transformer;
    const shape = [B, h, sequence.length, d];
    const size = B * h * sequence.length * d;
    const into = new Map<number, { k: Tensor; v: Tensor }>();
    for (const layer of layers) {
      let buf = kvBuffers.get(layer);
      if (!buf || buf.k.data.length !== size) kvBuffers.set(layer, (buf = { k: { data: new Float32Array(size), shape }, v: { data: new Float32Array(size), shape } }));
      const first = (t: Tensor): Tensor => ({ data: t.data.subarray(0, size / B), shape: [1, ...shape.slice(1)] }); // item 0: [1, h, S, d]
      into.set(layer, { k: first(buf.k), v: first(buf.v) });
    }
    return into;
  };
  const request = (latents: Value, t: number, extra: PathCall): ForwardRequest => ({
    latents, // [B, C, F', H', W']
    t,
    text,
    ...(textMask ? { textMask } : {}),
    ...(pooled ? { pooled } : {}),
    guidance: cond.guidance,
    ...(extra.context ? { context: extra.context.context, bias: extra.context.bias } : {}),
    ...(extra.fetchKV ? { fetchKV: extra.fetchKV } : {}),
  });
  const firstOfEach = async (kvs: ReadonlyMap<number, LayerKV>): Promise<Map<number, LayerKV>> => {
    const kv = new Map<number, LayerKV>();
    for (const [layer, lkv] of kvs) kv.set(layer, batch === 1 ? lkv : await pack.transformer.firstOfBatch(lkv));
    return kv;
  };
  return {
    batch,
    sequence,
    textMask: c && pack.manifest.transformer.textMask ? c.mask.data.subarray(0, c.mask.shape[1]) : null,
    async callOn(x, t, extra = {}) {
      const ops = pack.transformer.onDevice;
      if (!ops) throw new Error('This pack was not loaded on a device that keeps tensors');
      await yieldToEventLoop();
      const latents = await ops.batchOf(x, batch, pack.manifest.transformer.dtype ?? 'float32'); // [B, C, F', H', W']
      let vb: Value;
      let kv: ReadonlyMap<number, LayerKV>;
      try {
        ({ velocity: vb, kv } = await pack.transformer.forwardKeeping(request(latents, t, extra)));
      } finally {
        latents.dispose();
      }
      if (!onDevice(vb)) throw new Error('The transformer returned its velocity to the host');
      try {
        return { v: await ops.guide(vb, cond.guidance), kv: await firstOfEach(kv) }; // v_neg + g (v_c − v_neg) on the device
      } finally {
        vb.dispose();
      }
    },
    async call(x, t, extra = {}) {
      await yieldToEventLoop();
      for (let b = 0; b < batch; b++) xb.set(x, b * n);
      // the reconstruction path (batch 1) writes its keys/values straight into item 0 of the edit path's context buffers
      const repeat = extra.kvBatch !== undefined && batch === 1 && extra.fetchKV ? extra.kvBatch : 0;
      const into = { velocity: vOut, ...(repeat > 0 ? { kv: kvInto(extra.fetchKV!, repeat) } : {}) };
      const out = await pack.transformer.forward({ ...request({ data: xb, shape: [batch, ...latentShape.slice(1)] }, t, extra), into });
      const vb = out.velocity.data; // [B, C, F', H', W']
      if (cond.uncond) {
        const g = cond.guidance;
        for (let i = 0; i < n; i++) v[i] = vb[n + i]! + g * (vb[i]! - vb[n + i]!); // v_neg + g (v_c − v_neg), v_neg = v_∅ by default
      } else {
        v.set(vb.subarray(0, n));
      }
      if (repeat === 0) return { v, kv: await firstOfEach(out.kv) };
      const kv = new Map<number, LayerKV>();
      for (const [layer, got] of out.kv) {
        const full = kvBuffers.get(layer)!;
        for (const [t1, buf] of [[got.k, full.k], [got.v, full.v]] as const) {
          if (onDevice(t1)) throw new Error('Keys/values on the device cannot be repeated on the host');
          const m = t1.data.length; // [1, h, S, d]
          if (t1.data.buffer !== buf.data.buffer || t1.data.byteOffset !== buf.data.byteOffset) buf.data.set(t1.data); // a device that wrote elsewhere
          for (let b = 1; b < repeat; b++) buf.data.copyWithin(b * m, 0, m);
        }
        kv.set(layer, full); // [kvBatch, h, S, d]
      }
      return { v, kv };
    },
  };
}
