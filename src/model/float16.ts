/**
 * IEEE 754 half precision at the edges of float16 graphs: float32 values in, float16 bit
 * patterns (Uint16Array, what onnxruntime-node takes for 'float16') out, and back. Rounding is
 * to nearest, ties to even; values beyond the float16 range become ±Infinity, NaN stays NaN.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bit pattern nearest to x. */
export function toHalfBits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, NaN
  const e = exp - 127 + 15; // rebiased exponent
  if (e >= 0x1f) return sign | 0x7c00; // overflow: ±Inf
  if (e <= 0) {
    // subnormal half (or zero): shift the mantissa with its implicit 1 into place
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // a carry out of the mantissa rounds into the exponent, up to Inf, as it should
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}

/** The value of a float16 bit pattern. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 values → float16 bits, element by element. */
export function toFloat16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = toHalfBits(src[i]!);
  return out;
}

/** The 65,536 float16 values, decoded once: reading a float16 tensor is then one lookup per value. */
let table: Float32Array | null = null;

/** float16 bits (or a Float16Array, where the runtime has one) → float32 values. */
export function fromFloat16(src: Uint16Array | ArrayLike<number>, out = new Float32Array(src.length)): Float32Array {
  if (!(src instanceof Uint16Array)) {
    // a Float16Array holds values, not bit patterns
    for (let i = 0; i < src.length; i++) out[i] = src[i]!;
    return out;
  }
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = fromHalfBits(h);
  }
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return out;
}
