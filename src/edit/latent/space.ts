/**
 * Where a sampling loop keeps its state: host arrays, or tensors on a device that keeps them
 * (WebGPU), so the latents and velocities of the edit's two paths never visit the host between
 * model calls. The solvers work on either through the arithmetic each space gives.
 */
import type { Tensor } from '../../media/tensor.js';
import type { DeviceOps } from '../../model/device-ops.js';
import type { DeviceTensor } from '../../model/ort.js';
import type { LoadedPack } from '../../model/pack.js';
import type { LayerKV } from '../../model/transformer.js';
import { hostAlgebra, type Algebra } from '../../solvers/index.js';
import type { PathCall, PathVelocity } from './velocity.js';

export interface Space<V> {
  readonly alg: Algebra<V>;
  /** a host latent [1, C, F', H', W'] as a value of this space (the caller's to free) */
  from(x: Tensor): Promise<V>;
  /** a value's data on the host (an array of the space's own on the host: copy it before freeing x) */
  toHost(x: V): Promise<Float32Array>;
  /** one call of a path at x: v a new value (the caller's to free), the fetched keys/values */
  call(path: PathVelocity, x: V, t: number, extra?: PathCall): Promise<{ v: V; kv: ReadonlyMap<number, LayerKV> }>;
}

/** Host arrays, from one store that reuses what the solver frees. */
export function hostSpace(): Space<Float32Array> {
  const alg = hostAlgebra(); // one store of arrays per run
  return {
    alg,
    from: async (x) => alg.copy(x.data),
    toHost: async (x) => x,
    async call(path, x, t, extra) {
      const r = await path.call(x, t, extra);
      return { v: alg.copy(r.v), kv: r.kv }; // the path reuses its output buffer
    },
  };
}

function deviceSpace(ops: DeviceOps): Space<DeviceTensor> {
  return {
    alg: { addScaled: (x, h, v) => ops.addScaled(x, h, v), free: (v) => v.dispose() },
    from: (x) => ops.put(x),
    toHost: async (x) => (await ops.get(x)).data,
    call: (path, x, t, extra) => path.callOn(x, t, extra),
  };
}

/** The pack's space: on its device when the device keeps tensors, else the host. */
export function spaceOf(pack: LoadedPack): Space<Float32Array> | Space<DeviceTensor> {
  const ops = pack.transformer.onDevice;
  return ops ? deviceSpace(ops) : hostSpace();
}

/** Pairs of values, [reconstruction path, edit path], with each operation applied to both. */
export function pairs<V>(alg: Algebra<V>): Algebra<readonly [V, V]> {
  return {
    async addScaled([a, b], h, [va, vb]) {
      return [await alg.addScaled(a, h, va), await alg.addScaled(b, h, vb)] as const;
    },
    free([a, b]) {
      alg.free(a);
      if (b !== a) alg.free(b);
    },
  };
}
