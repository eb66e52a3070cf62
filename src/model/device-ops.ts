/**
 * Operations the device runs itself on tensors it keeps, so they need not visit the host:
 * constant inputs uploaded once (a prompt's embeddings, an attention bias); the keys/values
 * repeated along the batch or cut to its first item; and the sampling loop's arithmetic (the
 * latents repeated to a transformer's batch, classifier-free guidance, x + h·v), with a copy in
 * each direction. Each is a small ONNX graph (onnx-proto.ts) opened once per element type and size.
 */
import type { Device } from './devices.js';
import { ONNX_TYPE, onnxModel, type OnnxElement } from './onnx-proto.js';
import type { Tensor } from '../media/tensor.js';
import { floatFeed, openGraph, type DeviceTensor, type Feed, type FloatType, type OnnxGraph } from './ort.js';

export interface DeviceOps {
  /**
   * A constant host tensor on the device, in the element type `type`: uploaded on first use and
   * reused for the same array and shape (so the array must not change once fed). It is freed
   * when the array is garbage-collected, or by release().
   */
  constant(x: Tensor, type: FloatType): Promise<DeviceTensor>;
  /** each [1, h, S, d] → [B, h, S, d] on the device, in one run */
  repeat(xs: readonly DeviceTensor[], B: number): Promise<DeviceTensor[]>;
  /** [B, …] → [1, …] on the device (the first item) */
  first(x: DeviceTensor): Promise<DeviceTensor>;
  /** a host tensor copied to the device as float32, the caller's to free */
  put(x: Tensor): Promise<DeviceTensor>;
  /** a device tensor copied to the host as float32 */
  get(x: DeviceTensor): Promise<Tensor>;
  /** x + h·v (float32), on the device */
  addScaled(x: DeviceTensor, h: number, v: DeviceTensor): Promise<DeviceTensor>;
  /** x [1, …] (float32) repeated to [B, …] in the element type `type`: a transformer's latents */
  batchOf(x: DeviceTensor, B: number, type: FloatType): Promise<DeviceTensor>;
  /**
   * One velocity from a transformer's [B, …] output, as float32 [1, …]: the item itself for B = 1,
   * and for B = 2 (conditional, guided-against) v_neg + g·(v_c − v_neg), classifier-free guidance.
   */
  guide(v: DeviceTensor, g: number): Promise<DeviceTensor>;
  release(): Promise<void>;
}

const RANK4 = ['b', 'h', 's', 'd'];

/** n Expand nodes: x<i> [1, h, S, d] and shape<i> [4] → y<i> [B, h, S, d]. */
function expandModel(type: OnnxElement, n: number): Uint8Array {
  const ids = Array.from({ length: n }, (_, i) => i);
  return onnxModel({
    inputs: ids.flatMap((i) => [{ name: `x${i}`, type, shape: RANK4.map((a) => `${a}${i}`) }, { name: `shape${i}`, type: 'int64' as const, shape: [4] }]),
    outputs: ids.map((i) => ({ name: `y${i}`, type, shape: RANK4.map((a) => `${a}${i}`) })),
    nodes: ids.map((i) => ({ op: 'Expand', inputs: [`x${i}`, `shape${i}`], outputs: [`y${i}`] })),
  });
}

function firstModel(type: OnnxElement): Uint8Array {
  return onnxModel({
    inputs: [{ name: 'x', type, shape: RANK4 }],
    outputs: [{ name: 'y', type, shape: [1, 'h', 's', 'd'] }],
    nodes: [{ op: 'Slice', inputs: ['x', 'starts', 'ends', 'axes'], outputs: ['y'] }],
    constants: [
      { name: 'starts', values: [0] },
      { name: 'ends', values: [1] },
      { name: 'axes', values: [0] },
    ],
  });
}

/** Symbolic axes a0, a1, … of a rank. */
const symbolic = (rank: number) => Array.from({ length: rank }, (_, i) => `a${i}`);

/** x (any shape) → y: a copy onto the device or, with its output on the host, back. */
function identityModel(type: OnnxElement, rank: number): Uint8Array {
  const shape = symbolic(rank);
  return onnxModel({ inputs: [{ name: 'x', type, shape }], outputs: [{ name: 'y', type, shape }], nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }] });
}

/** y = x + h·v over float32 tensors of one shape. */
function addScaledModel(rank: number): Uint8Array {
  const shape = symbolic(rank);
  return onnxModel({
    inputs: [{ name: 'x', type: 'float32', shape }, { name: 'h', type: 'float32', shape: [1] }, { name: 'v', type: 'float32', shape }],
    outputs: [{ name: 'y', type: 'float32', shape }],
    nodes: [
      { op: 'Mul', inputs: ['v', 'h'], outputs: ['hv'] },
      { op: 'Add', inputs: ['x', 'hv'], outputs: ['y'] },
    ],
  });
}

/** x [1, …] float32 → y [B, …] of `type`, B given by `shape`. */
function batchOfModel(rank: number, type: OnnxElement): Uint8Array {
  return onnxModel({
    inputs: [{ name: 'x', type: 'float32', shape: [1, ...symbolic(rank - 1)] }, { name: 'shape', type: 'int64', shape: [rank] }],
    outputs: [{ name: 'y', type, shape: ['B', ...symbolic(rank - 1)] }],
    nodes: [
      { op: 'Expand', inputs: ['x', 'shape'], outputs: ['xb'] },
      { op: 'Cast', inputs: ['xb'], outputs: ['y'], attrs: { to: ONNX_TYPE[type] } },
    ],
  });
}

/** v [B, …] of `type` → y [1, …] float32: v itself for B = 1, v_1 + g·(v_0 − v_1) for B = 2. */
function guideModel(rank: number, type: OnnxElement, B: 1 | 2): Uint8Array {
  const rest = symbolic(rank - 1);
  const io = { inputs: [{ name: 'v', type, shape: [B, ...rest] }], outputs: [{ name: 'y', type: 'float32' as const, shape: [1, ...rest] }] };
  if (B === 1) return onnxModel({ ...io, nodes: [{ op: 'Cast', inputs: ['v'], outputs: ['y'], attrs: { to: ONNX_TYPE.float32 } }] });
  return onnxModel({
    inputs: [...io.inputs, { name: 'g', type: 'float32', shape: [1] }],
    outputs: io.outputs,
    nodes: [
      { op: 'Slice', inputs: ['v', 'zero', 'one', 'zero'], outputs: ['c16'] },
      { op: 'Slice', inputs: ['v', 'one', 'two', 'zero'], outputs: ['u16'] },
      { op: 'Cast', inputs: ['c16'], outputs: ['c'], attrs: { to: ONNX_TYPE.float32 } },
      { op: 'Cast', inputs: ['u16'], outputs: ['u'], attrs: { to: ONNX_TYPE.float32 } },
      { op: 'Sub', inputs: ['c', 'u'], outputs: ['d'] },
      { op: 'Mul', inputs: ['d', 'g'], outputs: ['gd'] },
      { op: 'Add', inputs: ['u', 'gd'], outputs: ['y'] },
    ],
    constants: [
      { name: 'zero', values: [0] },
      { name: 'one', values: [1] },
      { name: 'two', values: [2] },
    ],
  });
}

const scalar = (x: number): Feed => ({ dtype: 'float32', data: Float32Array.of(x), shape: [1] });

/** Device operations on `device`, each graph opened when first used. */
export function deviceOps(device: Device): DeviceOps {
  const graphs = new Map<string, Promise<OnnxGraph>>();
  const kept = async (key: string, model: () => Uint8Array, feeds: Record<string, Feed>): Promise<DeviceTensor> =>
    (await (await graph(key, model, ['y'])).runKeeping(feeds, ['y'])).y as DeviceTensor;
  const graph = (key: string, model: () => Uint8Array, outputs: readonly string[]): Promise<OnnxGraph> => {
    let g = graphs.get(key);
    if (!g) graphs.set(key, (g = openGraph(model(), { device, keepOnDevice: outputs, label: `device ${key}` })));
    return g;
  };
  const constants = new WeakMap<Float32Array, Map<string, DeviceTensor>>();
  const held = new Set<DeviceTensor>();
  const collected = new FinalizationRegistry<DeviceTensor>((value) => {
    value.dispose();
    held.delete(value);
  });
  return {
    async constant(x, type) {
      const key = `${type}/${x.shape.join(',')}`;
      let byShape = constants.get(x.data);
      let value = byShape?.get(key);
      if (!value) {
        value = await kept(`upload/${type}/${x.shape.length}`, () => identityModel(type, x.shape.length), { x: floatFeed(x) });
        if (!byShape) constants.set(x.data, (byShape = new Map()));
        byShape.set(key, value);
        held.add(value);
        collected.register(x.data, value);
      }
      return value;
    },
    async repeat(xs, B) {
      if (xs.length === 0) return [];
      const type = xs[0]!.dtype;
      const feeds: Record<string, Feed> = {};
      xs.forEach((x, i) => {
        if (x.shape.length !== 4 || x.shape[0] !== 1) throw new Error(`Expected a [1, h, S, d] tensor to repeat, got [${x.shape.join(', ')}]`);
        if (x.dtype !== type) throw new Error(`Tensors repeated together must share one element type, got ${type} and ${x.dtype}`);
        feeds[`x${i}`] = x;
        feeds[`shape${i}`] = { dtype: 'int64', data: BigInt64Array.from([B, ...x.shape.slice(1)].map(BigInt)), shape: [4] };
      });
      const names = xs.map((_, i) => `y${i}`);
      const g = await graph(`expand/${type}/${xs.length}`, () => expandModel(type, xs.length), names);
      const out = await g.runKeeping(feeds, names);
      return names.map((name) => out[name] as DeviceTensor);
    },
    async first(x) {
      if (x.shape.length !== 4) throw new Error(`Expected a [B, h, S, d] tensor, got [${x.shape.join(', ')}]`);
      return kept(`first/${x.dtype}`, () => firstModel(x.dtype), { x });
    },
    put(x) {
      return kept(`upload/float32/${x.shape.length}`, () => identityModel('float32', x.shape.length), { x: floatFeed(x) });
    },
    async get(x) {
      // the same identity graph with its output on the host (a device tensor's own read-back is not usable in onnxruntime-node 1.30)
      const g = await graph(`download/${x.dtype}/${x.shape.length}`, () => identityModel(x.dtype, x.shape.length), []);
      return (await g.run({ x }, ['y'])).y!;
    },
    addScaled(x, h, v) {
      return kept(`add-scaled/${x.shape.length}`, () => addScaledModel(x.shape.length), { x, h: scalar(h), v });
    },
    batchOf(x, B, type) {
      const shape: Feed = { dtype: 'int64', data: BigInt64Array.from([B, ...x.shape.slice(1)].map(BigInt)), shape: [x.shape.length] };
      return kept(`batch-of/${type}/${x.shape.length}`, () => batchOfModel(x.shape.length, type), { x, shape });
    },
    guide(v, g) {
      const B = v.shape[0];
      if (B !== 1 && B !== 2) throw new Error(`Expected a velocity of batch 1 or 2, got [${v.shape.join(', ')}]`);
      return kept(`guide/${v.dtype}/${v.shape.length}/${B}`, () => guideModel(v.shape.length, v.dtype, B), B === 1 ? { v } : { v, g: scalar(g) });
    },
    async release() {
      for (const v of held) v.dispose();
      held.clear();
      const open = await Promise.all(graphs.values());
      graphs.clear();
      await Promise.all(open.map((g) => g.release()));
    },
  };
}
