/**
 * Writes small ONNX models in memory: a graph of a few standard operators whose inputs and
 * outputs have symbolic shapes; reads the fields of any protobuf message (protoFields), so a
 * graph can be rewritten with the fields it does not change passed on as they are. The device runs these between transformer calls (repeating the
 * shared keys/values along the batch) so that tensors kept on the device need not visit the host.
 * Only the protobuf fields such graphs use are written (onnx.proto: ModelProto, GraphProto,
 * NodeProto, ValueInfoProto, TypeProto, TensorShapeProto, TensorProto).
 */

/** ONNX TensorProto.DataType codes. */
export const ONNX_TYPE = { float32: 1, int8: 3, int64: 7, float16: 10 } as const;
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
export class Message {
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

  /** A field already encoded (tag and value), e.g. one read by protoFields, passed on unchanged. */
  raw(b: Uint8Array): this {
    this.parts.push(b);
    return this;
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

/** One field of a protobuf message as read: its number, wire type, and where it lies in the bytes. */
export interface ProtoField {
  readonly no: number;
  /** 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
  readonly wire: number;
  /** the whole field, tag included (for passing it on unchanged) */
  readonly raw: Uint8Array;
  /** a length-delimited field's payload, or a fixed field's bytes */
  readonly data: Uint8Array;
  /** a varint field's value (exact up to 2^53) */
  readonly value: number;
}

function readVarint(b: Uint8Array, at: number): [value: number, next: number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (at >= b.length) throw new Error('ONNX protobuf: a varint runs past the end of the bytes (a truncated or not-ONNX file)');
    const byte = b[at++]!;
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return [v, at];
    mul *= 128;
  }
}

/** The fields of one protobuf message, in order. Sub-messages are views into `b`, not copies. */
export function protoFields(b: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let at = 0;
  while (at < b.length) {
    const start = at;
    const [tag, afterTag] = readVarint(b, at);
    const no = Math.floor(tag / 8);
    const wire = tag & 7;
    let value = 0;
    let data = b.subarray(afterTag, afterTag);
    if (wire === 0) [value, at] = readVarint(b, afterTag);
    else if (wire === 1 || wire === 5) {
      at = afterTag + (wire === 1 ? 8 : 4);
      data = b.subarray(afterTag, at);
    } else if (wire === 2) {
      const [len, from] = readVarint(b, afterTag);
      at = from + len;
      data = b.subarray(from, at);
    } else throw new Error(`ONNX protobuf: wire type ${wire} at byte ${start} is not one ONNX uses (a corrupt or not-ONNX file)`);
    if (at > b.length) throw new Error(`ONNX protobuf: field ${no} runs past the end of the bytes (a truncated file)`);
    out.push({ no, wire, raw: b.subarray(start, at), data, value });
  }
  return out;
}

/** The integers of a repeated int64 field (packed or not) among `fields`. */
export function protoInts(fields: readonly ProtoField[], no: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.no !== no) continue;
    if (f.wire === 0) out.push(f.value);
    else for (let at = 0; at < f.data.length; ) {
      const [v, next] = readVarint(f.data, at);
      out.push(v);
      at = next;
    }
  }
  return out;
}

const dec = new TextDecoder();

/** The strings of a repeated string field among `fields`. */
export function protoStrings(fields: readonly ProtoField[], no: number): string[] {
  return fields.filter((f) => f.no === no).map((f) => dec.decode(f.data));
}

/** A graph multiplying two float32 n × n matrices a · b = y (the machine's matmul rate, thread checks). */
export function squareMatmulModel(n: number): Uint8Array {
  return onnxModel({
    inputs: [
      { name: 'a', type: 'float32', shape: [n, n] },
      { name: 'b', type: 'float32', shape: [n, n] },
    ],
    outputs: [{ name: 'y', type: 'float32', shape: [n, n] }],
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
  });
}
