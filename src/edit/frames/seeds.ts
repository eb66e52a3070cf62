/**
 * Seeds a user asks for: -1 draws one at random, and --variants N runs N consecutive seeds, each
 * to its own file (`scene.png` → `scene-7.png`, `scene-8.png`, …).
 */
import { randomInt } from 'node:crypto';
import { basename, dirname, extname, join } from 'node:path';
import { RANGES } from '../../settings/table.js';

/** The --seed value that asks for a seed drawn at random. */
export const RANDOM_SEED = -1;

/**
 * A seed drawn from the operating system's random source, in [0, 2^31): below half the seed
 * range, so that the consecutive seeds of --variants always fit after it.
 */
export function drawSeed(): number {
  return randomInt(0, 2 ** 31);
}

/** `seed` itself, or a drawn seed for RANDOM_SEED. */
export function seedFor(seed: number): number {
  return seed === RANDOM_SEED ? drawSeed() : seed;
}

/** One output of --variants: its seed and its file. */
export interface Variant {
  readonly seed: number;
  readonly output: string;
}

/** The file of the variant with `seed`: the seed after the name, before the extension (`out/scene.png` → `out/scene-7.png`). */
export function variantPath(output: string, seed: number): string {
  const ext = extname(output);
  const name = `${basename(output, ext)}-${seed}${ext}`;
  const dir = dirname(output);
  return dir === '.' && !output.startsWith('.') ? name : join(dir, name);
}

/** `count` variants with consecutive seeds from `first`, named after `output`. */
export function variantsOf(output: string, first: number, count: number): Variant[] {
  if (!(Number.isInteger(count) && count >= 1)) throw new Error(`Expected a positive number of variants but received ${count}`);
  const last = first + count - 1;
  if (last > RANGES.seed.max) {
    throw new Error(`--variants ${count} from seed ${first} runs past the largest seed ${RANGES.seed.max}: give a lower --seed or fewer variants`);
  }
  return Array.from({ length: count }, (_, i) => ({ seed: first + i, output: variantPath(output, first + i) }));
}
