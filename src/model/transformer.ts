/**
 * The pack's transformer: one velocity evaluation v(x_t, t, text) with the per-layer context
 * ports of docs/model-pack.md section 4. Semantic arguments map to port names through ports.ts;
 * only the k/v outputs a caller asks for are fetched.
 */
import { basename } from 'node:path';
import { profiling, recordFlops, timedLoad } from '../media/profile.js';
import type { Tensor } from '../media/tensor.js';
import { ditFlops, graphFileWidths, type DitWidths } from './flops.js';
import type { DeviceOps } from './device-ops.js';
import { textLayout, type Manifest, type TextLayout } from './manifest.js';
import { floatFeed, onDevice, valueFeed, type DeviceTensor, type Feed, type OnnxGraph, type Value } from './ort.js';
import { port } from './ports.js';

/**
 * Keys and values of one layer: [B, h, S or Sc, d], on the host or, where the device keeps them,
 * on the device (free those with releaseKV once used).
 */
export interface LayerKV {
  readonly k: Value;
  readonly v: Value;
}

/** Frees the device memory of keys/values kept on the device (host ones need nothing). */
export function releaseKV(kv: ReadonlyMap<number, LayerKV>): void {
  for (const { k, v } of kv.values()) {
    if (onDevice(k)) k.dispose();
    if (onDevice(v)) v.dispose();
  }
}

/**
 * One call's inputs. `text`, `textMask`, `pooled` and the biases are a path's constants: on a
 * device that keeps tensors they are uploaded once per array, so an array must not change after
 * it has been fed (build a new one instead).
 */
export interface ForwardRequest {
  /** x_t: [B, C, F', H', W'], on the host or on the device in the graph's element type */
  readonly latents: Value;
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
  /** extra keys/values per context layer, [B, h, Sc, d] or [1, h, Sc, d] for every batch item; absent layers get Sc = 0 */
  readonly context?: ReadonlyMap<number, LayerKV>;
  /** additive logit bias per context layer over [own keys; context keys]: [B, S + Sc]; absent = zeros */
  readonly bias?: ReadonlyMap<number, Float32Array>;
  /** context layers whose own k/v to return */
  readonly fetchKV?: readonly number[];
  /**
   * Host buffers the outputs are written into, on the CPU (elsewhere ignored): the velocity
   * [B, C, F', H', W'] and fetched layers' keys/values [B, h, S, d]. What comes back is then these
   * buffers, the caller's to reuse.
   */
  readonly into?: { readonly velocity?: Tensor; readonly kv?: ReadonlyMap<number, { readonly k: Tensor; readonly v: Tensor }> };
}

export interface ForwardResult {
  /** v: [B, C, F', H', W'] */
  readonly velocity: Tensor;
  readonly kv: ReadonlyMap<number, LayerKV>;
}

/** A call whose velocity stays where the graph put it: on the device when it keeps tensors. */
export interface KeptForwardResult {
  /** v: [B, C, F', H', W'], the caller's to free when on the device */
  readonly velocity: Value;
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

/**
 * Calls below this many FLOPs run on one thread where the pack has a single-thread session: on a
 * 2-core machine the built-in pack's still calls (0.3 and 0.6 GFLOP) took a third longer inside a
 * job on two threads, and clips cut to 2, 3, 5 and 9 frames put the crossover near 3 frames (calls
 * of 1–2 GFLOP; docs/lab/cpu-speed.md, "Threads").
 */
export const SMALL_CALL_FLOP = 1e9;

export class Transformer {
  readonly contextLayers: readonly number[];
  readonly heads: number;
  readonly headDim: number;
  /** what the text side feeds (L tokens, P pooled values), read from the manifest once */
  private readonly text: TextLayout;

  constructor(
    readonly manifest: Manifest,
    private readonly graph: OnnxGraph,
    /** operations on the graph's device, when it keeps keys/values there */
    private readonly ops?: DeviceOps,
    /** the same graph in a session of one thread, for calls below SMALL_CALL_FLOP (small packs on a CPU of several cores) */
    private readonly single?: OnnxGraph,
  ) {
    this.contextLayers = manifest.transformer.contextLayers;
    this.heads = manifest.transformer.heads;
    this.headDim = manifest.transformer.headDim;
    this.text = textLayout(manifest);
  }

  /** Zero-filled inputs, shared between calls (onnxruntime does not write to its inputs). */
  private readonly zeroCache = new Map<number, Float32Array>();
  /** Host buffers for context repeated along the batch, one per layer and k/v, reused across calls. */
  private readonly repeatCache = new Map<string, Float32Array>();

  /** A path's constant input (prompt embeddings, masks, biases) as a feed: on a keeping device, uploaded once. */
  private async constantFeed(t: Tensor, name: string): Promise<Feed> {
    if (!this.ops) return floatFeed(t);
    return this.ops.constant(t, this.graph.inputs.find((p) => p.name === name)?.dtype === 'float16' ? 'float16' : 'float32');
  }

  /** Item 0 of each fetched layer's keys/values ([B, h, S, d] → [1, h, S, d]); device ones stay there. */
  async firstOfBatch(kv: LayerKV): Promise<LayerKV> {
    const first = async (t: Value): Promise<Value> => {
      if (t.shape[0] === 1) return t;
      if (!onDevice(t)) return { data: t.data.subarray(0, t.data.length / t.shape[0]!), shape: [1, ...t.shape.slice(1)] };
      if (!this.ops) throw new Error('Keys/values on the device need the device\'s batch operations');
      const one = await this.ops.first(t);
      t.dispose();
      return one;
    };
    return { k: await first(kv.k), v: await first(kv.v) };
  }

  private zeros(n: number): Float32Array {
    let z = this.zeroCache.get(n);
    if (!z) this.zeroCache.set(n, (z = new Float32Array(n)));
    return z;
  }

  /**
   * Context feeds of batch B from keys/values of batch 1 or B: host data is repeated into
   * reused buffers, device tensors by the device in one run (the copies go to `temporaries`,
   * freed after the call).
   */
  private async contextFeeds(context: ReadonlyMap<number, LayerKV>, B: number, temporaries: DeviceTensor[]): Promise<Map<string, Feed>> {
    const feeds = new Map<string, Feed>();
    const onIt: [string, DeviceTensor][] = [];
    for (const [i, kv] of context) {
      for (const [name, t] of [[port.ctxK(i), kv.k], [port.ctxV(i), kv.v]] as const) {
        if (t.shape[0] === B) feeds.set(name, valueFeed(t));
        else if (t.shape[0] !== 1) throw new Error(`Context keys/values of batch ${t.shape[0]} cannot feed a call of batch ${B}: give batch 1 or ${B}`);
        else if (onDevice(t)) onIt.push([name, t]);
        else {
          const n = t.data.length;
          let data = this.repeatCache.get(name);
          if (!data || data.length !== n * B) this.repeatCache.set(name, (data = new Float32Array(n * B)));
          for (let b = 0; b < B; b++) data.set(t.data, b * n);
          feeds.set(name, { dtype: 'float32', data, shape: [B, ...t.shape.slice(1)] }); // [B, h, Sc, d]
        }
      }
    }
    if (onIt.length > 0) {
      if (!this.ops) throw new Error('Keys/values on the device need the device\'s batch operations');
      const repeated = await this.ops.repeat(onIt.map(([, t]) => t), B); // [B, h, Sc, d] each
      temporaries.push(...repeated);
      onIt.forEach(([name], j) => feeds.set(name, repeated[j]!));
    }
    return feeds;
  }

  /** The MLP and timestep widths read from the graph, once (for FLOP counts). */
  private widths: Promise<Partial<DitWidths>> | null = null;

  /** This call's FLOPs for the profile, with the widths read from the graph file once. */
  private async exactFlops(req: ForwardRequest, B: number): Promise<number> {
    this.widths ??= timedLoad(() => graphFileWidths(this.graph.path, this.manifest).catch(() => ({})));
    return this.callFlops(req, B, await this.widths);
  }

  /** This call's FLOPs: ditFlops over the token counts fed (widths absent: those the manifest implies). */
  private callFlops(req: ForwardRequest, B: number, widths: Partial<DitWidths>): number {
    const seq = this.sequence(req.latents.shape);
    const context = new Map<number, number>();
    for (const [i, kv] of req.context ?? []) context.set(i, kv.k.shape[2]!);
    return ditFlops(this.manifest, { batch: B, imageTokens: seq.imageTokens, textTokens: seq.textTokens, context }, widths);
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

  /** The device's operations, when the graph keeps tensors on the device (else undefined). */
  get onDevice(): DeviceOps | undefined {
    return this.ops;
  }

  /** One call, the velocity brought to the host. */
  async forward(req: ForwardRequest): Promise<ForwardResult> {
    const out = await this.forwardKeeping(req);
    if (!onDevice(out.velocity)) return { velocity: out.velocity, kv: out.kv };
    try {
      return { velocity: await this.ops!.get(out.velocity), kv: out.kv };
    } finally {
      out.velocity.dispose();
    }
  }

  /** One call, the velocity left on the device when the graph keeps tensors there. */
  async forwardKeeping(req: ForwardRequest): Promise<KeptForwardResult> {
    const B = req.latents.shape[0]!;
    const S = this.sequence(req.latents.shape).length;
    const { heads: h, headDim: d } = this;
    const feeds: Record<string, Feed> = {
      [port.latents]: valueFeed(req.latents), // [B, C, F', H', W']
      [port.t]: { dtype: 'float32', data: new Float32Array(B).fill(req.t), shape: [B] }, // [B]
    };
    if (this.manifest.text) {
      if (!req.text) throw new Error(`Pack '${this.manifest.id}' needs text embeddings [B, L, D]`);
      feeds[port.text] = await this.constantFeed(req.text, port.text); // [B, L, D]
      if (this.manifest.transformer.textMask) {
        if (!req.textMask) throw new Error(`Pack '${this.manifest.id}' needs the text padding mask [B, L] (transformer.textMask)`);
        feeds[port.textMask] = await this.constantFeed(req.textMask, port.textMask); // [B, L]
      }
      const P = this.text.P;
      if (P !== undefined) {
        if (!req.pooled) throw new Error(`Pack '${this.manifest.id}' needs the pooled text vector [B, ${P}] (${this.manifest.text.encoders ? 'a pooled output in text.encoders' : 'text.pooledDim'})`);
        feeds[port.pooled] = await this.constantFeed(req.pooled, port.pooled); // [B, P]
      }
    }
    if (this.manifest.transformer.guidance === 'distilled') {
      feeds[port.guidance] = { dtype: 'float32', data: new Float32Array(B).fill(req.guidance ?? 1), shape: [B] };
    }
    const temporaries: DeviceTensor[] = [];
    const given = req.context ? await this.contextFeeds(req.context, B, temporaries) : new Map<string, Feed>();
    for (const i of this.contextLayers) {
      const ctx = req.context?.get(i);
      const Sc = ctx ? ctx.k.shape[2]! : 0;
      const empty = this.zeros(0);
      feeds[port.ctxK(i)] = given.get(port.ctxK(i)) ?? { dtype: 'float32', data: empty, shape: [B, h, 0, d] }; // [B, h, Sc, d]
      feeds[port.ctxV(i)] = given.get(port.ctxV(i)) ?? { dtype: 'float32', data: empty, shape: [B, h, 0, d] }; // [B, h, Sc, d]
      const bias = req.bias?.get(i) ?? this.zeros(B * (S + Sc));
      if (bias.length !== B * (S + Sc)) {
        throw new Error(`Bias for layer ${i} holds ${bias.length} values; [B, S + Sc] = [${B}, ${S + Sc}] needs ${B * (S + Sc)}`);
      }
      feeds[port.ctxBias(i)] = await this.constantFeed({ data: bias, shape: [B, S + Sc] }, port.ctxBias(i)); // [B, S + Sc]
    }
    const fetchKV = req.fetchKV ?? [];
    for (const i of fetchKV) {
      if (!this.contextLayers.includes(i)) throw new Error(`Layer ${i} has no context ports (context layers: ${this.contextLayers.join(', ')})`);
    }
    const fetches = [port.velocity, ...fetchKV.flatMap((i) => [port.k(i), port.v(i)])];
    if (profiling()) recordFlops(basename(this.graph.path), await this.exactFlops(req, B));
    // the MLP width the manifest implies (4w) is close enough to choose a session by
    const graph = this.single && this.callFlops(req, B, {}) < SMALL_CALL_FLOP ? this.single : this.graph;
    let out: Record<string, Value>;
    const into: Record<string, Tensor> = {};
    if (req.into && !this.ops) {
      if (req.into.velocity) into[port.velocity] = req.into.velocity;
      for (const [i, kv] of req.into.kv ?? []) {
        into[port.k(i)] = kv.k;
        into[port.v(i)] = kv.v;
      }
    }
    try {
      out = await graph.runKeeping(feeds, fetches, into);
    } finally {
      for (const t of temporaries) t.dispose();
    }
    const kv = new Map<number, LayerKV>();
    for (const i of fetchKV) kv.set(i, { k: out[port.k(i)]!, v: out[port.v(i)]! }); // [B, h, S, d]
    const velocity = out[port.velocity];
    if (!velocity) throw new Error(`Output '${port.velocity}' was not returned`);
    return { velocity, kv };
  }
}
