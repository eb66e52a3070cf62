// Shared fixtures for the media tests. Test images are generated on the fly with sharp.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { RgbImage } from '../../src/media/image.js';
import { maxAbsDiff, psnr as psnrOf } from '../paths.js';

/** A fresh temporary directory and a function that removes it. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'flowedit-media-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Interleaved 8-bit RGB with distinct, full-range values (includes 0 and 255). */
export function patternBytes(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      out[i] = (x * 37 + y * 11) % 256;
      out[i + 1] = (x * 5 + y * 61 + 7) % 256;
      out[i + 2] = ((x ^ y) * 13) % 256;
    }
  }
  out[0] = 0;
  out[1] = 255;
  return out;
}

/** Interleaved 8-bit RGB with smooth gradients, suitable for lossy formats and resampling. */
export function smoothBytes(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      out[i] = Math.round((255 * x) / Math.max(1, width - 1));
      out[i + 1] = Math.round((255 * y) / Math.max(1, height - 1));
      out[i + 2] = Math.round(127.5 + 100 * Math.sin((x + y) / 9));
    }
  }
  return out;
}

/** Planar float image from interleaved 8-bit RGB, using the documented v / 127.5 - 1 mapping. */
export function bytesToRgb(bytes: Uint8Array, width: number, height: number): RgbImage {
  const plane = width * height;
  const data = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) data[c * plane + i] = (bytes[i * 3 + c] as number) / 127.5 - 1;
  }
  return { width, height, data };
}

export function rawInput(bytes: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4 = 3) {
  return sharp(bytes, { raw: { width, height, channels } });
}

/** Writes interleaved 16-bit RGB (or RGBA) samples as a 16-bit PNG. */
export async function write16BitPng(
  values: Uint16Array,
  width: number,
  height: number,
  path: string,
  channels: 3 | 4 = 3,
): Promise<void> {
  await sharp(values, { raw: { width, height, channels } }).toColourspace('rgb16').png().toFile(path);
}

/** Decodes an encoded image to interleaved 8-bit RGB. */
export async function decodeBytes(encoded: Buffer | string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(encoded).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Peak signal-to-noise ratio in dB between two images, on the [-1, 1] scale (peak-to-peak 2). */
/** PSNR of two images in dB, values in [-1, 1]. */
export function psnr(a: RgbImage, b: RgbImage): number {
  return psnrOf(a.data, b.data);
}

export { maxAbsDiff };
