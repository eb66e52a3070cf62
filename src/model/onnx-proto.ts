/**
 * Writes small ONNX models in memory: a graph of a few standard operators whose inputs and
 * outputs have symbolic shapes. The device runs these between transformer calls (repeating the
 * shared keys/values along the batch) so that tensors kept on the device need not visit the host.
 * Only the protobuf fields such graphs use are written (onnx.proto: ModelProto, GraphProto,
 * NodeProto, ValueInfoProto, TypeProto, TensorShapeProto, TensorProto).
 */

/** ONNX TensorProto.DataType codes. */
export const ONNX_TYPE = { float32: 1, int64: 7, float16: 10 } as const;
export type OnnxElement = keyof typeof ONNX_TYPE;

export interface OpValue {
  readonly name: string;
  readonly type: OnnxElement;
  /** a number for a fixed axis, a string for a symbolic one */
  readonly shape: readonly (number | string)[];
}

export interface OpNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** integer attributes (e.g. Cast's `to`, an ONNX_TYPE code) */
  readonly attrs?: Readonly<Record<string, number>>;
}

/** A constant int64 vector inside the graph. */
export interface OpConstant {
  readonly name: string;
  readonly values: readonly number[];
}

export interface OpGraph {
  readonly inputs: readonly OpValue[];
  readonly outputs: readonly OpValue[];
  readonly nodes: readonly OpNode[];
  readonly constants?: readonly OpConstant[];
  /** default 17 */
  readonly opset?: number;
}

const enc = new TextEncoder();

/** Bytes of a protobuf message under construction. */
class Message {
  private readonly parts: Uint8Array[] = [];

  private varint(v: number): void {
    const out: number[] = [];
    let n = BigInt(v);
    if (n < 0n) n += 1n << 64n; // int64 two's complement
    do {
      let byte = Number(n & 0x7fn);
      n >>= 7n;
      if (n > 0n) byte |= 0x80;
      out.push(byte);
    } while (n > 0n);
    this.parts.push(Uint8Array.from(out));
  }

  int(field: number, v: number): this {
    this.varint((field << 3) | 0);
    this.varint(v);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }

  str(field: number, s: string): this {
    return this.bytes(field, enc.encode(s));
  }

  msg(field: number, m: Message): this {
    return this.bytes(field, m.done());
  }

  done(): Uint8Array {
    const n = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function valueInfo(v: OpValue): Message {
  const shape = new Message();
  for (const d of v.shape) shape.msg(1, typeof d === 'number' ? new Message().int(1, d) : new Message().str(2, d)); // Dimension
  const tensorType = new Message().int(1, ONNX_TYPE[v.type]).msg(2, shape); // TypeProto.Tensor
  return new Message().str(1, v.name).msg(2, new Message().msg(1, tensorType)); // ValueInfoProto
}

function constant(c: OpConstant): Message {
  // TensorProto: dims (1), data_type (2), int64_data (7, one varint each), name (8)
  const t = new Message().int(1, c.values.length).int(2, ONNX_TYPE.int64);
  for (const v of c.values) t.int(7, v);
  return t.str(8, c.name);
}

/** The serialised ModelProto of `g`, for InferenceSession.create(bytes). */
export function onnxModel(g: OpGraph): Uint8Array {
  const graph = new Message();
  g.nodes.forEach((n, i) => {
    const node = new Message();
    for (const name of n.inputs) node.str(1, name);
    for (const name of n.outputs) node.str(2, name);
    node.str(3, `${n.op}_${i}`).str(4, n.op);
    for (const [name, value] of Object.entries(n.attrs ?? {})) node.msg(5, new Message().str(1, name).int(3, value).int(20, 2)); // AttributeProto: name, i, type INT
    graph.msg(1, node);
  });
  graph.str(2, 'flowedit_ops');
  for (const c of g.constants ?? []) graph.msg(5, constant(c));
  for (const v of g.inputs) graph.msg(11, valueInfo(v));
  for (const v of g.outputs) graph.msg(12, valueInfo(v));
  return new Message()
    .int(1, 8) // ir_version
    .str(2, 'flowedit')
    .msg(7, graph)
    .msg(8, new Message().str(1, '').int(2, g.opset ?? 17)) // opset_import
    .done();
}
