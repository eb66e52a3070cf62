/**
 * The pack's VAE (docs/model-pack.md, section 6), or the identity when the pack works in pixel
 * space. encode returns the scaled latent z = (mean − shift)·scale; decode inverts the scaling.
 */
import type { Tensor } from '../media/tensor.js';
import type { Manifest } from './manifest.js';
import { floatFeed, type OnnxGraph } from './ort.js';
import { port } from './ports.js';

export interface Vae {
  /** pixels [B, 3, F, H, W] in [-1, 1] → z [B, C, F', H/s, W/s]. */
  encode(pixels: Tensor): Promise<Tensor>;
  /** z [B, C, F', H', W'] → pixels [B, 3, F, H, W]. */
  decode(z: Tensor): Promise<Tensor>;
}

function affine(t: Tensor, mul: number, add: number): Tensor {
  const data = new Float32Array(t.data.length);
  for (let i = 0; i < data.length; i++) data[i] = t.data[i]! * mul + add;
  return { data, shape: t.shape };
}

/** Wraps the opened VAE graphs; without them (pixel space) both directions are the identity. */
export function createVae(m: Manifest, encoder: OnnxGraph | undefined, decoder: OnnxGraph | undefined): Vae {
  if (!encoder || !decoder) {
    return { encode: async (pixels) => pixels, decode: async (z) => z };
  }
  const { scale, shift } = m.latent;
  return {
    async encode(pixels) {
      const out = await encoder.run({ [port.pixels]: floatFeed(pixels) }, [port.mean]);
      return affine(out[port.mean]!, scale, -shift * scale); // (mean − shift)·scale
    },
    async decode(z) {
      const out = await decoder.run({ [port.latents]: floatFeed(affine(z, 1 / scale, shift)) }, [port.pixels]);
      return out[port.pixels]!;
    },
  };
}
