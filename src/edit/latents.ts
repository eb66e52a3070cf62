/**
 * Images to the transformer's latent space and back: RGB planar [3, H, W] in [-1, 1] as a
 * one-frame clip [1, 3, 1, H, W] through the pack's VAE (identity in pixel space).
 */
import type { RgbImage } from '../media/image.js';
import type { Tensor } from '../media/tensor.js';
import type { LoadedPack } from '../model/pack.js';

/** z = VAE mean of the image, scaled: [1, C, 1, H/s, W/s]. */
export async function encodeImage(pack: LoadedPack, img: RgbImage): Promise<Tensor> {
  return pack.vae.encode({ data: img.data, shape: [1, 3, 1, img.height, img.width] }); // [1, C, 1, H', W']
}

/** Pixels of a one-frame latent [1, C, 1, H', W'], clamped to [-1, 1]. */
export async function decodeImage(pack: LoadedPack, z: Tensor): Promise<RgbImage> {
  const px = await pack.vae.decode(z); // [1, 3, 1, H, W]
  const [, , , height, width] = px.shape as [number, number, number, number, number];
  const data = new Float32Array(px.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(-1, px.data[i]!));
  return { width, height, data };
}

/** Latent shape [1, C, 1, H/s, W/s] for a working image size; throws if it does not divide. */
export function latentShapeFor(pack: LoadedPack, width: number, height: number): number[] {
  const { channels: C, spatialCompression: s } = pack.manifest.latent;
  const multiple = pack.manifest.image.multiple;
  if (width % multiple !== 0 || height % multiple !== 0) {
    throw new Error(`Working size ${width}×${height} is not a multiple of ${multiple}, which this pack needs`);
  }
  return [1, C, 1, height / s, width / s];
}
