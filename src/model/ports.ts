/**
 * The ONNX inputs and outputs a manifest implies (docs/model-pack.md, sections 4-6): one table
 * that both pack validation and the transformer wrapper read, so names live in one place.
 */
import { textEncoders, textLayout, type Manifest } from './manifest.js';

export interface PortSpec {
  readonly name: string;
  readonly dtype: 'float32' | 'float16' | 'int64';
  /** Axis sizes: a number is fixed, a string names a dynamic axis. */
  readonly shape: readonly (number | string)[];
}

export interface GraphSpec {
  readonly role: 'transformer' | 'text encoder' | 'vae encoder' | 'vae decoder';
  readonly file: string;
  /** the text encoder's name (text.encoders[].name; "text" for a single-encoder pack) */
  readonly encoder?: string;
  readonly inputs: readonly PortSpec[];
  readonly outputs: readonly PortSpec[];
}

/** Port names of the transformer's per-layer context ports. */
export const port = {
  latents: 'latents',
  t: 't',
  text: 'text',
  guidance: 'guidance',
  velocity: 'velocity',
  ctxK: (i: number) => `ctx_k.${i}`,
  ctxV: (i: number) => `ctx_v.${i}`,
  ctxBias: (i: number) => `ctx_bias.${i}`,
  k: (i: number) => `k.${i}`,
  v: (i: number) => `v.${i}`,
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  textMask: 'text_mask',
  pooled: 'pooled',
  pixels: 'pixels',
  mean: 'mean',
} as const;

const float = (name: string, shape: (number | string)[], dtype: 'float32' | 'float16' = 'float32'): PortSpec => ({ name, dtype, shape });

/** The key a loaded pack files a graph under: its role, or "text encoder <name>" for a text encoder. */
export function graphKey(spec: Pick<GraphSpec, 'role' | 'encoder'>): string {
  return spec.encoder === undefined ? spec.role : `${spec.role} ${spec.encoder}`;
}

/** How a graph is named in messages: "the transformer", "the text encoder", "the text encoder t5". */
export function graphLabel(m: Pick<Manifest, 'text'>, spec: Pick<GraphSpec, 'role' | 'encoder'>): string {
  return spec.encoder !== undefined && m.text?.encoders ? `the ${spec.role} ${spec.encoder}` : `the ${spec.role}`;
}

export function graphSpecs(m: Manifest): GraphSpec[] {
  const { heads: h, headDim: d } = m.transformer;
  // the transformer's float ports have the pack's transformer.dtype, but for the scalars t and
  // guidance, which stay float32 (they feed sinusoidal features); the other graphs' are float32
  const tr = (name: string, shape: (number | string)[]): PortSpec => float(name, shape, name === port.t || name === port.guidance ? 'float32' : m.transformer.dtype);
  const C = m.latent.channels;
  const latentShape = ['B', C, 'F', 'H', 'W'];
  const trIn: PortSpec[] = [tr(port.latents, latentShape), tr(port.t, ['B'])];
  const { L, D, P } = textLayout(m);
  if (m.text) trIn.push(tr(port.text, ['B', L, D]));
  if (m.text && m.transformer.textMask) trIn.push(tr(port.textMask, ['B', L]));
  if (m.text && P !== undefined) trIn.push(tr(port.pooled, ['B', P]));
  if (m.transformer.guidance === 'distilled') trIn.push(tr(port.guidance, ['B']));
  const trOut: PortSpec[] = [tr(port.velocity, latentShape)];
  for (const i of m.transformer.contextLayers) {
    trIn.push(tr(port.ctxK(i), ['B', h, `Sc${i}`, d]), tr(port.ctxV(i), ['B', h, `Sc${i}`, d]), tr(port.ctxBias(i), ['B', `S+Sc${i}`]));
    trOut.push(tr(port.k(i), ['B', h, 'S', d]), tr(port.v(i), ['B', h, 'S', d]));
  }
  const specs: GraphSpec[] = [{ role: 'transformer', file: m.transformer.file, inputs: trIn, outputs: trOut }];
  for (const e of textEncoders(m)) {
    const ids = (name: string): PortSpec => ({ name, dtype: 'int64', shape: ['B', e.maxTokens] });
    specs.push({
      role: 'text encoder',
      file: e.encoder,
      encoder: e.name,
      inputs: [ids(port.inputIds), ...(e.attentionMask ? [ids(port.attentionMask)] : [])],
      outputs: e.outputs.map((o) => float(o.name, o.kind === 'sequence' ? ['B', e.maxTokens, o.dim] : ['B', o.dim])),
    });
  }
  if (m.vae) {
    specs.push(
      { role: 'vae encoder', file: m.vae.encoder, inputs: [float(port.pixels, ['B', 3, 'F', 'H', 'W'])], outputs: [float(port.mean, ['B', C, 'F', 'H', 'W'])] },
      { role: 'vae decoder', file: m.vae.decoder, inputs: [float(port.latents, ['B', C, 'F', 'H', 'W'])], outputs: [float(port.pixels, ['B', 3, 'F', 'H', 'W'])] },
    );
  }
  return specs;
}
