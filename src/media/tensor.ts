/**
 * A dense float32 tensor in row-major order. The lowest layer of flowedit: every other
 * layer passes latents, pixels and attention context around as this type.
 */
export interface Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** Number of elements a shape holds. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Builds a tensor, checking that the data length matches the shape. */
export function tensor(data: Float32Array, shape: readonly number[]): Tensor {
  const n = sizeOf(shape);
  if (data.length !== n) {
    throw new Error(`Tensor data holds ${data.length} values but shape [${shape.join(', ')}] needs ${n}`);
  }
  return { data, shape: [...shape] };
}

/** A zero-filled tensor of the given shape. */
export function zeros(shape: readonly number[]): Tensor {
  return { data: new Float32Array(sizeOf(shape)), shape: [...shape] };
}

/** Stacks tensors of equal shape [...s] along a new leading batch axis: [n, ...s]. */
export function stack(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (!first) throw new Error('stack needs at least one tensor');
  const n = first.data.length;
  const out = new Float32Array(n * parts.length);
  parts.forEach((p, i) => {
    if (p.data.length !== n) throw new Error('stack needs tensors of equal size');
    out.set(p.data, i * n);
  });
  return { data: out, shape: [parts.length, ...first.shape] };
}
