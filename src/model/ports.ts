/**
 * The ONNX inputs and outputs a manifest implies (docs/model-pack.md, sections 4-6): one table
 * that both pack validation and the transformer wrapper read, so names live in one place.
 */
import type { Manifest } from './manifest.js';

export interface PortSpec {
  readonly name: string;
  readonly dtype: 'float32' | 'int64';
  /** Axis sizes: a number is fixed, a string names a dynamic axis. */
  readonly shape: readonly (number | string)[];
}

export interface GraphSpec {
  readonly role: 'transformer' | 'text encoder' | 'vae encoder' | 'vae decoder';
  readonly file: string;
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

export function graphSpecs(m: Manifest): GraphSpec[] {
  const { heads: h, headDim: d } = m.transformer;
  const C = m.latent.channels;
  const latentShape = ['B', C, 'F', 'H', 'W'];
  const trIn: PortSpec[] = [f32(port.latents, latentShape), f32(port.t, ['B'])];
  if (m.text) trIn.push(f32(port.text, ['B', m.text.maxTokens, m.text.dim]));
  if (m.text && m.transformer.textMask) trIn.push(f32(port.textMask, ['B', m.text.maxTokens]));
  if (m.text?.pooledDim !== undefined) trIn.push(f32(port.pooled, ['B', m.text.pooledDim]));
  if (m.transformer.guidance === 'distilled') trIn.push(f32(port.guidance, ['B']));
  const trOut: PortSpec[] = [f32(port.velocity, latentShape)];
  for (const i of m.transformer.contextLayers) {
    trIn.push(f32(port.ctxK(i), ['B', h, `Sc${i}`, d]), f32(port.ctxV(i), ['B', h, `Sc${i}`, d]), f32(port.ctxBias(i), ['B', `S+Sc${i}`]));
    trOut.push(f32(port.k(i), ['B', h, 'S', d]), f32(port.v(i), ['B', h, 'S', d]));
  }
  const specs: GraphSpec[] = [{ role: 'transformer', file: m.transformer.file, inputs: trIn, outputs: trOut }];
  if (m.text) {
    const { maxTokens: L, dim: D, pooledDim: P } = m.text;
    const ids = (name: string): PortSpec => ({ name, dtype: 'int64', shape: ['B', L] });
    specs.push({
      role: 'text encoder',
      file: m.text.encoder,
      inputs: [ids(port.inputIds), ...(m.text.attentionMask ? [ids(port.attentionMask)] : [])],
      outputs: [f32(port.text, ['B', L, D]), ...(P !== undefined ? [f32(port.pooled, ['B', P])] : [])],
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
