/**
 * The pack's transformer: one velocity evaluation v(x_t, t, text) with the per-layer context
 * ports of docs/model-pack.md section 4. Semantic arguments map to port names through ports.ts;
 * only the k/v outputs a caller asks for are fetched.
 */
import type { Tensor } from '../media/tensor.js';
import { textLayout, type Manifest, type TextLayout } from './manifest.js';
import { floatFeed, type Feed, type OnnxGraph } from './ort.js';
import { port } from './ports.js';

/** Keys and values of one layer: [B, h, S or Sc, d]. */
export interface LayerKV {
  readonly k: Tensor;
  readonly v: Tensor;
}

export interface ForwardRequest {
  /** x_t: [B, C, F', H', W'] */
  readonly latents: Tensor;
  /** one time for the whole batch, t = 1 is noise */
  readonly t: number;
  /** text embeddings [B, L, D]; null for an unconditional pack */
  readonly text: Tensor | null;
  /** 1 real token, 0 padding: [B, L]; fed to packs whose transformer.textMask is set */
  readonly textMask?: Tensor;
  /** the text encoder's pooled vector [B, P]; fed to packs with text.pooledDim */
  readonly pooled?: Tensor;
  /** guidance scale, fed only to packs with distilled guidance */
  readonly guidance?: number;
  /** extra keys/values per context layer, [B, h, Sc, d]; absent layers get Sc = 0 */
  readonly context?: ReadonlyMap<number, LayerKV>;
  /** additive logit bias per context layer over [own keys; context keys]: [B, S + Sc]; absent = zeros */
  readonly bias?: ReadonlyMap<number, Float32Array>;
  /** context layers whose own k/v to return */
  readonly fetchKV?: readonly number[];
}

export interface ForwardResult {
  /** v: [B, C, F', H', W'] */
  readonly velocity: Tensor;
  readonly kv: ReadonlyMap<number, LayerKV>;
}

/** Token counts of the self-attention sequence for a latent shape. */
export interface Sequence {
  /** image tokens n = Fp·Hp·Wp */
  readonly imageTokens: number;
  /** text tokens inside self-attention (L for joint text, 0 for cross or none) */
  readonly textTokens: number;
  /** S = textTokens + imageTokens */
  readonly length: number;
  /** patch grid [Fp, Hp, Wp] */
  readonly grid: readonly [number, number, number];
}

export class Transformer {
  readonly contextLayers: readonly number[];
  readonly heads: number;
  readonly headDim: number;
  /** what the text side feeds (L tokens, P pooled values), read from the manifest once */
  private readonly text: TextLayout;

  constructor(
    readonly manifest: Manifest,
    private readonly graph: OnnxGraph,
  ) {
    this.contextLayers = manifest.transformer.contextLayers;
    this.heads = manifest.transformer.heads;
    this.headDim = manifest.transformer.headDim;
    this.text = textLayout(manifest);
  }

  /** Zero-filled inputs, shared between calls (onnxruntime does not write to its inputs). */
  private readonly zeroCache = new Map<number, Float32Array>();

  private zeros(n: number): Float32Array {
    let z = this.zeroCache.get(n);
    if (!z) this.zeroCache.set(n, (z = new Float32Array(n)));
    return z;
  }

  /** The sequence a latent of shape [B, C, F', H', W'] makes; throws if it does not tile into patches. */
  sequence(latentShape: readonly number[]): Sequence {
    const [pt, ph, pw] = this.manifest.transformer.patchSize;
    const [, , F, H, W] = latentShape as [number, number, number, number, number];
    if (F % pt !== 0 || H % ph !== 0 || W % pw !== 0) {
      throw new Error(`Latent [${latentShape.join(', ')}] does not tile into patches of [${pt}, ${ph}, ${pw}] (frames, height, width)`);
    }
    const grid: [number, number, number] = [F / pt, H / ph, W / pw];
    const imageTokens = grid[0] * grid[1] * grid[2];
    const textTokens = this.manifest.transformer.text === 'joint' && this.manifest.text ? this.text.L : 0;
    return { imageTokens, textTokens, length: textTokens + imageTokens, grid };
  }

  async forward(req: ForwardRequest): Promise<ForwardResult> {
    const B = req.latents.shape[0]!;
    const S = this.sequence(req.latents.shape).length;
    const { heads: h, headDim: d } = this;
    const feeds: Record<string, Feed> = {
      [port.latents]: floatFeed(req.latents), // [B, C, F', H', W']
      [port.t]: { dtype: 'float32', data: new Float32Array(B).fill(req.t), shape: [B] }, // [B]
    };
    if (this.manifest.text) {
      if (!req.text) throw new Error(`Pack '${this.manifest.id}' needs text embeddings [B, L, D]`);
      feeds[port.text] = floatFeed(req.text); // [B, L, D]
      if (this.manifest.transformer.textMask) {
        if (!req.textMask) throw new Error(`Pack '${this.manifest.id}' needs the text padding mask [B, L] (transformer.textMask)`);
        feeds[port.textMask] = floatFeed(req.textMask); // [B, L]
      }
      const P = this.text.P;
      if (P !== undefined) {
        if (!req.pooled) throw new Error(`Pack '${this.manifest.id}' needs the pooled text vector [B, ${P}] (${this.manifest.text.encoders ? 'a pooled output in text.encoders' : 'text.pooledDim'})`);
        feeds[port.pooled] = floatFeed(req.pooled); // [B, P]
      }
    }
    if (this.manifest.transformer.guidance === 'distilled') {
      feeds[port.guidance] = { dtype: 'float32', data: new Float32Array(B).fill(req.guidance ?? 1), shape: [B] };
    }
    for (const i of this.contextLayers) {
      const ctx = req.context?.get(i);
      const Sc = ctx ? ctx.k.shape[2]! : 0;
      const empty = this.zeros(0);
      feeds[port.ctxK(i)] = ctx ? floatFeed(ctx.k) : { dtype: 'float32', data: empty, shape: [B, h, 0, d] }; // [B, h, Sc, d]
      feeds[port.ctxV(i)] = ctx ? floatFeed(ctx.v) : { dtype: 'float32', data: empty, shape: [B, h, 0, d] }; // [B, h, Sc, d]
      const bias = req.bias?.get(i) ?? this.zeros(B * (S + Sc));
      if (bias.length !== B * (S + Sc)) {
        throw new Error(`Bias for layer ${i} holds ${bias.length} values; [B, S + Sc] = [${B}, ${S + Sc}] needs ${B * (S + Sc)}`);
      }
      feeds[port.ctxBias(i)] = { dtype: 'float32', data: bias, shape: [B, S + Sc] }; // [B, S + Sc]
    }
    const fetchKV = req.fetchKV ?? [];
    for (const i of fetchKV) {
      if (!this.contextLayers.includes(i)) throw new Error(`Layer ${i} has no context ports (context layers: ${this.contextLayers.join(', ')})`);
    }
    const fetches = [port.velocity, ...fetchKV.flatMap((i) => [port.k(i), port.v(i)])];
    const out = await this.graph.run(feeds, fetches);
    const kv = new Map<number, LayerKV>();
    for (const i of fetchKV) kv.set(i, { k: out[port.k(i)]!, v: out[port.v(i)]! }); // [B, h, S, d]
    return { velocity: out[port.velocity]!, kv };
  }
}
