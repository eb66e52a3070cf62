/** Paths the tests share: the repository root and the committed fixtures. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../src/media/tensor.js';

/** Repository root: this file runs as dist/test/paths.js. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TINY = join(ROOT, 'test/fixtures/packs/tiny');
export const TINY_PIXEL = join(ROOT, 'test/fixtures/packs/tiny-pixel');
export const SAMPLE = join(ROOT, 'samples/red-circle-on-stripes.png');
export const CLI = join(ROOT, 'dist/src/cli/main.js');
/** The project's Python environment (python/setup.sh makes it) that runs the recipe's and exporters' scripts (FLOWEDIT_PYTHON overrides). */
export const PYTHON = process.env.FLOWEDIT_PYTHON ?? join(ROOT, '.venv/bin/python');

export function tempDir(prefix = 'flowedit-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** PSNR in dB between two arrays of values in [-1, 1] (peak-to-peak 2). */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`psnr needs equal lengths, got ${a.length} and ${b.length}`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(4 / mse);
}

/** ‖got − want‖∞ / ‖want‖∞ (the relative error the parity checks report). */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  return maxAbsDiff(got, want) / Math.max(maxAbsDiff(want, new Float32Array(want.length)), 1e-30);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
export const TINY_UNCOND = join(ROOT, 'test/fixtures/packs/tiny-uncond');
/** Real clips and masks (see test/fixtures/media/SOURCES.md). */
export const MEDIA = join(ROOT, 'test/fixtures/media');
export const TINY_V2 = join(ROOT, 'test/fixtures/packs/tiny-v2');

/** Deterministic values in [-1, 1) of the given shape (a linear congruential sequence from `seed`). */
export function noise(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[i] = (s / 2147483648) * 2 - 1;
  }
  return { data, shape };
}
