/**
 * The pack's VAE (docs/model-pack.md, section 6), or the identity when the pack works in pixel
 * space. encode returns the normalised latent z[c] = (mean[c] − shift[c])·scale[c]; decode feeds
 * the decoder z[c]/scale[c] + shift[c]. Scale and shift are one number or (format 2) one per channel.
 */
import type { Tensor } from '../media/tensor.js';
import { perChannel, type Manifest } from './manifest.js';
import { floatFeed, type OnnxGraph } from './ort.js';
import { port } from './ports.js';

export interface Vae {
  /** pixels [B, 3, F, H, W] in [-1, 1] → z [B, C, F', H/s, W/s]. */
  encode(pixels: Tensor): Promise<Tensor>;
  /** z [B, C, F', H', W'] → pixels [B, 3, F, H, W]. */
  decode(z: Tensor): Promise<Tensor>;
}

/** y[b, c, …] = x[b, c, …]·mul[c] + add[c] over a tensor [B, C, …]. */
export function channelAffine(t: Tensor, mul: readonly number[], add: readonly number[]): Tensor {
  const C = t.shape[1]!;
  if (mul.length !== C || add.length !== C) throw new Error(`Per-channel values for ${mul.length} channels do not fit a tensor of ${C} channels [${t.shape.join(', ')}]`);
  const plane = t.shape.slice(2).reduce((a, b) => a * b, 1); // F'·H'·W'
  const data = new Float32Array(t.data.length);
  for (let start = 0, c = 0; start < data.length; start += plane, c = (c + 1) % C) {
    const [m, a] = [mul[c]!, add[c]!];
    for (let i = start; i < start + plane; i++) data[i] = t.data[i]! * m + a;
  }
  return { data, shape: t.shape };
}

/** Wraps the opened VAE graphs; without them (pixel space) both directions are the identity. */
export function createVae(m: Manifest, encoder: OnnxGraph | undefined, decoder: OnnxGraph | undefined): Vae {
  if (!encoder || !decoder) {
    return { encode: async (pixels) => pixels, decode: async (z) => z };
  }
  const C = m.latent.channels;
  const scale = perChannel(m.latent.scale, C);
  const shift = perChannel(m.latent.shift, C);
  const encMul = scale;
  const encAdd = scale.map((s, c) => -shift[c]! * s); // z = mean·scale − shift·scale
  const decMul = scale.map((s) => 1 / s);
  const decAdd = shift; // mean = z/scale + shift
  return {
    async encode(pixels) {
      const out = await encoder.run({ [port.pixels]: floatFeed(pixels) }, [port.mean]);
      return channelAffine(out[port.mean]!, encMul, encAdd); // [B, C, F', H', W']
    },
    async decode(z) {
      const out = await decoder.run({ [port.latents]: floatFeed(channelAffine(z, decMul, decAdd)) }, [port.pixels]);
      return out[port.pixels]!;
    },
  };
}
