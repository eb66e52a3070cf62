/**
 * The ONNX inputs and outputs a manifest implies (docs/model-pack.md, sections 4-6): one table
 * that both pack validation and the transformer wrapper read, so names live in one place.
 */
import { textEncoders, textLayout, type Manifest } from './manifest.js';

export interface PortSpec {
  readonly name: string;
  readonly dtype: 'float32' | 'int64';
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

const f32 = (name: string, shape: (number | string)[]): PortSpec => ({ name, dtype: 'float32', shape });

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
  const C = m.latent.channels;
  const latentShape = ['B', C, 'F', 'H', 'W'];
  const trIn: PortSpec[] = [f32(port.latents, latentShape), f32(port.t, ['B'])];
  const { L, D, P } = textLayout(m);
  if (m.text) trIn.push(f32(port.text, ['B', L, D]));
  if (m.text && m.transformer.textMask) trIn.push(f32(port.textMask, ['B', L]));
  if (m.text && P !== undefined) trIn.push(f32(port.pooled, ['B', P]));
  if (m.transformer.guidance === 'distilled') trIn.push(f32(port.guidance, ['B']));
  const trOut: PortSpec[] = [f32(port.velocity, latentShape)];
  for (const i of m.transformer.contextLayers) {
    trIn.push(f32(port.ctxK(i), ['B', h, `Sc${i}`, d]), f32(port.ctxV(i), ['B', h, `Sc${i}`, d]), f32(port.ctxBias(i), ['B', `S+Sc${i}`]));
    trOut.push(f32(port.k(i), ['B', h, 'S', d]), f32(port.v(i), ['B', h, 'S', d]));
  }
  const specs: GraphSpec[] = [{ role: 'transformer', file: m.transformer.file, inputs: trIn, outputs: trOut }];
  for (const e of textEncoders(m)) {
    const ids = (name: string): PortSpec => ({ name, dtype: 'int64', shape: ['B', e.maxTokens] });
    specs.push({
      role: 'text encoder',
      file: e.encoder,
      encoder: e.name,
      inputs: [ids(port.inputIds), ...(e.attentionMask ? [ids(port.attentionMask)] : [])],
      outputs: e.outputs.map((o) => f32(o.name, o.kind === 'sequence' ? ['B', e.maxTokens, o.dim] : ['B', o.dim])),
    });
  }
  if (m.vae) {
    specs.push(
      { role: 'vae encoder', file: m.vae.encoder, inputs: [f32(port.pixels, ['B', 3, 'F', 'H', 'W'])], outputs: [f32(port.mean, ['B', C, 'F', 'H', 'W'])] },
      { role: 'vae decoder', file: m.vae.decoder, inputs: [f32(port.latents, ['B', C, 'F', 'H', 'W'])], outputs: [f32(port.pixels, ['B', 3, 'F', 'H', 'W'])] },
    );
  }
  return specs;
}
