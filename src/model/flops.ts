/**
 * FLOPs of one transformer call, from the pack's manifest and the token counts actually fed
 * (docs/performance.md). Every matrix product counts 2·m·n·k, attention's included; element-wise
 * work (norms, softmax, activations, modulation) is left out. With width w = h·d, MLP width f,
 * patch width p = C·pt·ph·pw, n image tokens, L text tokens, S tokens in self-attention (L + n for
 * joint text, n otherwise), Sc_i context keys fed to layer i, and frequency width q of the
 * timestep embedding:
 *
 *   per block i:  2·B·S·(3w·w + w·w + 2·w·f)          qkv, output projection, MLP
 *               + 4·B·h·S·(S + Sc_i)·d                 Q·Kᵀ and softmax·V over [own; context] keys
 *               + 2·B·w·6w                             adaLN modulation
 *               [cross text: + 2·B·n·2w·w + 2·B·L·2w·w + 4·B·h·n·L·d]
 *   once:         2·B·n·p·w + 2·B·n·w·p + 2·B·w·2w     patch embedding, final projection and its adaLN
 *               + 2·B·L·D·w                            text embedding (packs with text)
 *               + 2·B·(q·w + w·w) per scalar embedder  timestep (and distilled guidance)
 *               + 2·B·(P·w + w·w)                      pooled text (packs with text.pooledDim)
 *
 * f and q are not in the manifest: they are read from the transformer graph's weights
 * (graphWidths), else taken as f = 4w (DiT's MLP ratio) and q = w.
 */
import { readFile, stat } from 'node:fs/promises';
import { textLayout, type Manifest } from './manifest.js';
import { protoFields, protoInts, protoStrings } from './onnx-proto.js';

export interface DitWidths {
  /** MLP hidden width f */
  readonly mlp: number;
  /** sinusoidal feature width q of the timestep embedder */
  readonly freq: number;
}

export interface CallShape {
  /** batch B */
  readonly batch: number;
  /** image tokens n */
  readonly imageTokens: number;
  /** text tokens inside self-attention (L for joint text, else 0) */
  readonly textTokens: number;
  /** context keys Sc per context layer (absent: 0) */
  readonly context: ReadonlyMap<number, number>;
}

/** FLOPs of one transformer call of `shape` (the module comment's formula). */
export function ditFlops(m: Manifest, shape: CallShape, widths?: Partial<DitWidths>): number {
  const t = m.transformer;
  const { heads: h, headDim: d, layers } = t;
  const w = h * d;
  const f = widths?.mlp ?? 4 * w;
  const q = widths?.freq ?? w;
  const B = shape.batch;
  const n = shape.imageTokens;
  const S = shape.textTokens + n;
  const [pt, ph, pw] = t.patchSize;
  const p = m.latent.channels * pt * ph * pw;
  const text = m.text ? textLayout(m) : null;
  const L = text?.L ?? 0;
  let flops = 0;
  for (let i = 0; i < layers; i++) {
    const Sc = shape.context.get(i) ?? 0;
    flops += 2 * B * S * (4 * w * w + 2 * w * f);
    flops += 4 * B * h * S * (S + Sc) * d;
    flops += 2 * B * w * 6 * w;
    if (t.text === 'cross' && text) flops += 2 * B * n * 2 * w * w + 2 * B * L * 2 * w * w + 4 * B * h * n * L * d;
  }
  flops += 2 * B * n * p * w + 2 * B * n * w * p + 2 * B * w * 2 * w;
  if (text) flops += 2 * B * L * text.D * w;
  const scalars = 1 + (t.guidance === 'distilled' ? 1 : 0);
  flops += scalars * 2 * B * (q * w + w * w);
  if (text?.P !== undefined) flops += 2 * B * (text.P * w + w * w);
  return flops;
}

/** Names and shapes of an ONNX model's initializers (ModelProto.graph = 7, GraphProto.initializer = 5, TensorProto.dims = 1, name = 8). */
export function initializerShapes(model: Uint8Array): { name: string; dims: number[] }[] {
  const graph = protoFields(model).find((f) => f.no === 7 && f.wire === 2);
  if (!graph) return [];
  return protoFields(graph.data)
    .filter((f) => f.no === 5 && f.wire === 2)
    .map((f) => {
      const t = protoFields(f.data);
      return { name: protoStrings(t, 8)[0] ?? '', dims: protoInts(t, 1) };
    });
}

/**
 * The MLP and timestep-feature widths of a DiT graph, from its weights: the MLP's are [w, f] and
 * [f, w] in every block (f ≠ w), the timestep embedder's first is [q, w] or [w, q] and named
 * t_embed. Undefined where a width is not found.
 */
export function graphWidths(model: Uint8Array, m: Manifest): Partial<DitWidths> {
  const w = m.transformer.heads * m.transformer.headDim;
  const shapes = initializerShapes(model).filter((s) => s.dims.length === 2);
  const count = new Map<string, number>();
  for (const s of shapes) count.set(s.dims.join('x'), (count.get(s.dims.join('x')) ?? 0) + 1);
  let mlp: number | undefined;
  for (const s of shapes) {
    const [a, b] = s.dims as [number, number];
    const f = a === w ? b : b === w ? a : -1;
    if (f <= 0 || f === w) continue;
    if ((count.get(`${w}x${f}`) ?? 0) >= m.transformer.layers && (count.get(`${f}x${w}`) ?? 0) >= m.transformer.layers) {
      mlp = f;
      break;
    }
  }
  const te = shapes.find((s) => /t_embed/.test(s.name) && (s.dims[0] === w || s.dims[1] === w) && !/\.2\./.test(s.name));
  const freq = te ? (te.dims[0] === w ? te.dims[1] : te.dims[0]) : undefined;
  return { ...(mlp !== undefined ? { mlp } : {}), ...(freq !== undefined ? { freq } : {}) };
}

/** Largest graph file read for its widths: a bigger one is counted with the default widths. */
const MAX_SCAN_BYTES = 512 * 1024 * 1024;

/** graphWidths of a graph file (empty when it is too big to read for this). */
export async function graphFileWidths(path: string, m: Manifest): Promise<Partial<DitWidths>> {
  if ((await stat(path)).size > MAX_SCAN_BYTES) return {};
  return graphWidths(await readFile(path), m);
}
