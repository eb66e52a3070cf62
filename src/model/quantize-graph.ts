/**
 * int8 weights for an ONNX graph: every MatMul (and Gemm) whose weight B is a float32
 * initializer becomes onnxruntime's dynamic-quantised matmul. The weight W [K, N] is stored as
 * per-column (per output channel) symmetric int8,
 *
 *   s_n = max_k |W[k, n]| / 127,   Wq[k, n] = round(W[k, n] / s_n) ∈ [−127, 127],
 *
 * and the activation A is quantised at run time (uint8, its own scale and zero point per call),
 * so Y = A W + b ≈ s_A (Aq − z_A) Wq diag(s) + b. A bias Add right after a MatMul (and Gemm's C)
 * moves into the quantised node. Everything else in the graph is passed on byte for byte.
 *
 * Each becomes one com.microsoft DynamicQuantizeMatMul (onnxruntime's CPU provider). The
 * ONNX-standard DynamicQuantizeLinear → MatMulInteger form runs on the same kernels after
 * onnxruntime's fusion and makes a larger file (docs/lab/cpu-speed-int8.md).
 */
import { Message, ONNX_TYPE, protoFields, protoInts, protoStrings, type ProtoField } from './onnx-proto.js';

export interface QuantizeGraphOptions {
  /** called once per matmul looked at */
  readonly onNode?: (done: number, total: number, node: string) => void;
}

/** One matmul made int8: its node, its weight's [K, N], and the largest |W − s·Wq| / max|W| over its columns. */
export interface QuantisedMatmul {
  readonly node: string;
  readonly op: 'MatMul' | 'Gemm';
  readonly shape: readonly [number, number];
  readonly biasFolded: boolean;
  readonly maxRoundingError: number;
}

/** A matmul (or Gemm) left float32, and why. */
export interface LeftFloat {
  readonly node: string;
  readonly why: string;
}

export interface GraphQuantisation {
  readonly bytes: Uint8Array;
  readonly quantised: readonly QuantisedMatmul[];
  readonly left: readonly LeftFloat[];
}

// onnx.proto field numbers
const MODEL = { graph: 7, opset: 8 } as const;
const GRAPH = { node: 1, initializer: 5, input: 11, output: 12 } as const;
const NODE = { input: 1, output: 2, name: 3, op: 4, attribute: 5, domain: 7 } as const;
const ATTR = { name: 1, f: 2, i: 3 } as const;
const TENSOR = { dims: 1, dataType: 2, floatData: 4, name: 8, rawData: 9, dataLocation: 14 } as const;
const MS_DOMAIN = 'com.microsoft';

interface NodeInfo {
  readonly index: number;
  readonly raw: Uint8Array;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly name: string;
  readonly op: string;
  readonly domain: string;
  /** integer and float attributes by name */
  readonly attrs: Map<string, number>;
}

interface Initializer {
  readonly name: string;
  readonly dims: number[];
  readonly dataType: number;
  readonly fields: ProtoField[];
}

function parseNode(f: ProtoField, index: number): NodeInfo {
  const fs = protoFields(f.data);
  const attrs = new Map<string, number>();
  for (const a of fs.filter((x) => x.no === NODE.attribute)) {
    const af = protoFields(a.data);
    const name = protoStrings(af, ATTR.name)[0] ?? '';
    const fl = af.find((x) => x.no === ATTR.f);
    const int = af.find((x) => x.no === ATTR.i);
    if (fl) attrs.set(name, new DataView(fl.data.buffer, fl.data.byteOffset, 4).getFloat32(0, true));
    else if (int) attrs.set(name, int.value);
  }
  return {
    index,
    raw: f.raw,
    inputs: protoStrings(fs, NODE.input),
    outputs: protoStrings(fs, NODE.output),
    name: protoStrings(fs, NODE.name)[0] ?? '',
    op: protoStrings(fs, NODE.op)[0] ?? '',
    domain: protoStrings(fs, NODE.domain)[0] ?? '',
    attrs,
  };
}

function parseInitializer(f: ProtoField): Initializer {
  const fs = protoFields(f.data);
  return { name: protoStrings(fs, TENSOR.name)[0] ?? '', dims: protoInts(fs, TENSOR.dims), dataType: fs.find((x) => x.no === TENSOR.dataType)?.value ?? 0, fields: fs };
}

/** A float32 initializer's values, or why they cannot be read here. */
function floatValues(t: Initializer): Float32Array | string {
  if (t.dataType !== ONNX_TYPE.float32) return `weight is not float32 (ONNX type ${t.dataType})`;
  if (t.fields.some((x) => x.no === TENSOR.dataLocation && x.value === 1)) return 'weight is in an external data file';
  const n = t.dims.reduce((a, d) => a * d, 1);
  const raw = t.fields.find((x) => x.no === TENSOR.rawData);
  let out: Float32Array;
  if (raw) {
    out = new Float32Array(raw.data.slice().buffer); // a copy: aligned, and free of the file's bytes
  } else {
    const parts = t.fields.filter((x) => x.no === TENSOR.floatData);
    const bytes = new Uint8Array(parts.reduce((a, p) => a + p.data.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p.data, at);
      at += p.data.length;
    }
    out = new Float32Array(bytes.buffer);
  }
  if (out.length !== n) return `weight holds ${out.length} values for dims [${t.dims.join(', ')}]`;
  return out;
}

/** Per-column symmetric int8 of W [K, N] (row-major; `transposed`: W is stored as [N, K]). */
export function quantiseColumns(w: Float32Array, K: number, N: number, transposed: boolean): { q: Int8Array; scale: Float32Array; maxRoundingError: number } {
  const at = transposed ? (k: number, n: number) => n * K + k : (k: number, n: number) => k * N + n;
  const q = new Int8Array(K * N); // [K, N]
  const scale = new Float32Array(N);
  let worst = 0;
  for (let n = 0; n < N; n++) {
    let max = 0;
    for (let k = 0; k < K; k++) max = Math.max(max, Math.abs(w[at(k, n)]!));
    const s = max > 0 ? max / 127 : 1;
    scale[n] = s;
    let err = 0;
    for (let k = 0; k < K; k++) {
      const x = w[at(k, n)]!;
      const v = Math.max(-127, Math.min(127, Math.round(x / s)));
      q[k * N + n] = v;
      err = Math.max(err, Math.abs(x - v * scale[n]!));
    }
    if (max > 0) worst = Math.max(worst, err / max);
  }
  return { q, scale, maxRoundingError: worst };
}

function tensor(name: string, dims: readonly number[], type: number, data: Uint8Array): Message {
  const t = new Message();
  for (const d of dims) t.int(TENSOR.dims, d);
  return t.int(TENSOR.dataType, type).str(TENSOR.name, name).bytes(TENSOR.rawData, data);
}

function node(op: string, inputs: readonly string[], outputs: readonly string[], name: string, domain = '', attrs: Record<string, number> = {}): Message {
  const m = new Message();
  for (const i of inputs) m.str(NODE.input, i);
  for (const o of outputs) m.str(NODE.output, o);
  m.str(NODE.name, name).str(NODE.op, op);
  for (const [k, v] of Object.entries(attrs)) m.msg(NODE.attribute, new Message().str(1, k).int(3, v).int(20, 2));
  if (domain) m.str(NODE.domain, domain);
  return m;
}

const asBytes = (a: Float32Array | Int8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Rewrites the ONNX model `model` (its bytes) with int8 matmul weights. */
export function quantiseGraph(model: Uint8Array, opts: QuantizeGraphOptions = {}): GraphQuantisation {
  const top = protoFields(model);
  const graphField = top.find((f) => f.no === MODEL.graph);
  if (!graphField) throw new Error('ONNX model has no graph (field 7): not an ONNX model file?');
  const g = protoFields(graphField.data);
  const nodes = g.filter((f) => f.no === GRAPH.node).map(parseNode);
  const initFields = g.filter((f) => f.no === GRAPH.initializer).map((f) => ({ f, t: parseInitializer(f) }));
  const inits = new Map(initFields.map((i) => [i.t.name, i]));
  const graphInputs = new Set(g.filter((f) => f.no === GRAPH.input).map((f) => protoStrings(protoFields(f.data), 1)[0]));
  const graphOutputs = new Set(g.filter((f) => f.no === GRAPH.output).map((f) => protoStrings(protoFields(f.data), 1)[0]));
  const consumers = new Map<string, NodeInfo[]>();
  for (const n of nodes) {
    for (const i of n.inputs) {
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  const taken = new Set<string>([...inits.keys(), ...nodes.flatMap((n) => [...n.outputs, n.name])]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };

  const candidates = nodes.filter((n) => n.domain === '' && (n.op === 'MatMul' || n.op === 'Gemm'));
  const quantised: QuantisedMatmul[] = [];
  const left: LeftFloat[] = [];
  const replace = new Map<number, Message[]>(); // node index → the nodes in its place (none: dropped)
  const newInits: Message[] = [];
  const weightUses = new Map<string, number>(); // float weights: uses replaced
  candidates.forEach((n, i) => {
    opts.onNode?.(i, candidates.length, n.name);
    const label = n.name || n.outputs[0] || `${n.op} #${n.index}`;
    const leave = (why: string): void => void left.push({ node: label, why });
    const wName = n.inputs[1] ?? '';
    const w = inits.get(wName);
    if (!w) return leave('weight B is not an initializer (computed at run time)');
    if (graphInputs.has(wName)) return leave('weight B is also a graph input (it may be fed)');
    if (w.t.dims.length !== 2) return leave(`weight B has ${w.t.dims.length} dimensions, not 2`);
    let transposed = false;
    let bias: string | undefined;
    let biasAdd: NodeInfo | undefined;
    if (n.op === 'Gemm') {
      if ((n.attrs.get('transA') ?? 0) !== 0) return leave('Gemm with transA');
      if ((n.attrs.get('alpha') ?? 1) !== 1 || (n.inputs[2] && (n.attrs.get('beta') ?? 1) !== 1)) return leave('Gemm with alpha or beta other than 1');
      transposed = (n.attrs.get('transB') ?? 0) === 1;
      bias = n.inputs[2] || undefined;
    }
    const [K, N] = transposed ? [w.t.dims[1]!, w.t.dims[0]!] : [w.t.dims[0]!, w.t.dims[1]!];
    if (bias !== undefined) {
      const c = inits.get(bias);
      if (!c || c.t.dims.length !== 1 || c.t.dims[0] !== N || c.t.dataType !== ONNX_TYPE.float32) return leave(`Gemm's C is not a float32 [${N}] initializer`);
    }
    const values = floatValues(w.t);
    if (typeof values === 'string') return leave(values);
    if (n.op === 'MatMul') {
      // a bias Add that only this MatMul feeds moves into the quantised node
      const out = n.outputs[0]!;
      const next = consumers.get(out) ?? [];
      const add = next[0];
      if (next.length === 1 && !graphOutputs.has(out) && add && add.op === 'Add' && add.domain === '') {
        const other = add.inputs[0] === out ? add.inputs[1] : add.inputs[0];
        const c = other === undefined ? undefined : inits.get(other);
        if (c && c.t.dataType === ONNX_TYPE.float32 && c.t.dims.length === 1 && c.t.dims[0] === N && add.inputs.filter((x) => x === out).length === 1) {
          bias = other;
          biasAdd = add;
        }
      }
    }
    const { q, scale, maxRoundingError } = quantiseColumns(values, K, N, transposed);
    const base = n.name || wName;
    const qName = fresh(`${wName}_int8`);
    const sName = fresh(`${wName}_scale`);
    newInits.push(tensor(qName, [K, N], ONNX_TYPE.int8, asBytes(q)), tensor(sName, [N], ONNX_TYPE.float32, asBytes(scale)));
    const A = n.inputs[0]!;
    const Y = biasAdd ? biasAdd.outputs[0]! : n.outputs[0]!;
    const made = [node('DynamicQuantizeMatMul', bias ? [A, qName, sName, '', bias] : [A, qName, sName], [Y], fresh(`${base}_int8`), MS_DOMAIN)];
    if (biasAdd) {
      replace.set(n.index, []);
      replace.set(biasAdd.index, made); // in the Add's place: its inputs are ready there
    } else replace.set(n.index, made);
    weightUses.set(wName, (weightUses.get(wName) ?? 0) + 1);
    quantised.push({ node: label, op: n.op as 'MatMul' | 'Gemm', shape: [K, N], biasFolded: biasAdd !== undefined, maxRoundingError });
  });
  opts.onNode?.(candidates.length, candidates.length, '');

  // a float weight goes when every use of it was replaced
  const drop = new Set([...weightUses].filter(([name, uses]) => uses === (consumers.get(name) ?? []).length && !graphOutputs.has(name)).map(([name]) => name));
  const graph = new Message();
  const dropped = new Set(initFields.filter((i) => drop.has(i.t.name)).map((i) => i.f));
  let nodeIndex = 0;
  for (const f of g) {
    if (f.no === GRAPH.node) {
      const made = replace.get(nodeIndex++);
      if (made) for (const m of made) graph.msg(GRAPH.node, m);
      else graph.raw(f.raw);
    } else if (!dropped.has(f)) graph.raw(f.raw);
  }
  for (const t of newInits) graph.msg(GRAPH.initializer, t);

  const out = new Message();
  const hasMs = top.some((f) => f.no === MODEL.opset && protoStrings(protoFields(f.data), 1)[0] === MS_DOMAIN);
  for (const f of top) {
    if (f.no === MODEL.graph) out.msg(MODEL.graph, graph);
    else out.raw(f.raw);
  }
  if (!hasMs && quantised.length > 0) out.msg(MODEL.opset, new Message().str(1, MS_DOMAIN).int(2, 1));
  return { bytes: out.done(), quantised, left };
}
