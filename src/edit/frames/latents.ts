/**
 * Images to the transformer's latent space and back: RGB planar [3, H, W] in [-1, 1] as a
 * one-frame clip [1, 3, 1, H, W] through the pack's VAE (identity in pixel space).
 */
import type { RgbImage } from '../../media/image.js';
import type { Tensor } from '../../media/tensor.js';
import type { LoadedPack } from '../../model/pack.js';

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

/** Latent shape [1, C, F', H/s, W/s] for `frames` frames, F' = 1 + (F − 1)/r; throws if F does not suit r. */
export function clipLatentShape(pack: LoadedPack, width: number, height: number, frames: number): number[] {
  const r = pack.manifest.latent.temporalCompression;
  if ((frames - 1) % r !== 0) throw new Error(`${frames} frames do not suit temporal compression ${r} (needs 1 + ${r}·k frames)`);
  const shape = latentShapeFor(pack, width, height);
  shape[2] = 1 + (frames - 1) / r;
  return shape;
}

/** z of a clip: frames [3, H, W] each → pixels [1, 3, F, H, W] → z [1, C, F', H', W']. */
export async function encodeFrames(pack: LoadedPack, frames: readonly RgbImage[]): Promise<Tensor> {
  const first = frames[0];
  if (!first) throw new Error('encodeFrames needs at least one frame');
  const { width: W, height: H } = first;
  const F = frames.length;
  const plane = W * H;
  const data = new Float32Array(3 * F * plane); // [1, 3, F, H, W]
  frames.forEach((img, f) => {
    for (let c = 0; c < 3; c++) data.set(img.data.subarray(c * plane, (c + 1) * plane), (c * F + f) * plane);
  });
  return pack.vae.encode({ data, shape: [1, 3, F, H, W] }); // [1, C, F', H', W']
}

/** Frames of a clip latent [1, C, F', H', W'], clamped to [-1, 1]. */
export async function decodeFrames(pack: LoadedPack, z: Tensor): Promise<RgbImage[]> {
  const px = await pack.vae.decode(z); // [1, 3, F, H, W]
  const [, , F, height, width] = px.shape as [number, number, number, number, number];
  const plane = width * height;
  return Array.from({ length: F }, (_, f) => {
    const data = new Float32Array(3 * plane); // [3, H, W]
    for (let c = 0; c < 3; c++) {
      const from = (c * F + f) * plane;
      for (let j = 0; j < plane; j++) data[c * plane + j] = Math.min(1, Math.max(-1, px.data[from + j]!));
    }
    return { width, height, data };
  });
}
