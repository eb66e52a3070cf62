/**
 * Seeded Gaussian noise, the same on every machine and Node version (Math.random is neither
 * seedable nor specified). Generator: SplitMix32-seeded sfc32 (Chris Doty-Humphrey's small fast
 * counter); normals by the Box–Muller transform.
 */

/** A stream of uniform numbers in [0, 1) from a non-negative integer seed (up to 2^53). */
export function uniformStream(seed: number): () => number {
  if (!(Number.isSafeInteger(seed) && seed >= 0)) throw new Error(`Expected a non-negative integer seed but received ${seed}`);
  // split the 53-bit seed into two 32-bit words and spread them with SplitMix32
  let s = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32), 0x9e3779b9);
  const splitmix = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = 1;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < 12; i++) next(); // leave the seeding transient behind
  return next;
}

/** `n` standard normal samples from `seed` (Box–Muller over the uniform stream). */
export function gaussianNoise(n: number, seed: number): Float32Array {
  const u = uniformStream(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u())); // 1 - u in (0, 1]: log is finite
    const phi = 2 * Math.PI * u();
    out[i] = r * Math.cos(phi);
    if (i + 1 < n) out[i + 1] = r * Math.sin(phi);
  }
  return out;
}
