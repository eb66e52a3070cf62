"""float16 transformer graphs (format 2, `"transformer": {"dtype": "float16"}`): every float input
and output port of the graph is float16 except the scalars `t` and `guidance`, which stay float32,
and the graph computes in float16 with float16 weights.

`half_model` converts an exported float32 graph in memory with onnxruntime's converter
(onnxruntime.transformers.float16, keep_io_types=False), puts the nodes back in topological
order (the converter appends the Casts it adds at the end) and checks the result; `half_graph`
does the same from one file to another, graphs with external data included. `check_half` lists
what keeps a graph from being the float16 form (a float32 port, a float64 tensor).

The angles of the sinusoidal features stay float32: every node that a Sin or Cos depends on (the
time and guidance features, the rotary tables) is kept out of the conversion, so the frequencies
and the products 1000·t·ω are exact to float32; the Sin/Cos results, in [−1, 1], enter the float16
graph. In float16 these angles are wrong by up to 2 rad (FLUX's guidance 4 → 4000·ω, float16 step
2 at 4000): at t = 0.5 and guidance 4 (exact in float16) the tiny random FLUX.1 [dev]
velocity was 12% off the float32 graph's with them converted and 0.07% with them kept (Wan2.1
tiny: 0.7% and 0.06%). Besides them, only the converter's default block list stays float32
(Range, Min, Max, CumSum, ...). For the same reason the ports `t` and `guidance` stay float32 and
feed the float32 angles directly: rounded to float16's 11 bits (t step 2^-11 near 1, half a step
of the 1000-scale timestep) they alone moved the random tiny models' velocity by 1–3%
(python/half_checks.py measures what the float16 ports still cost). The
attention biases of flowedit (−1e4 EXCLUDE, −10000 kv-edit, and their sum with a
padding mask, −2e4) are finite in float16 (max 65504), and softmax of a row of −1e4 logits is a
plain uniform row, so excluded keys do not turn into NaN.
"""

import os
import time
from typing import Callable, Dict, List, Optional

import onnx
from onnx import TensorProto

from .onnx_export import EXTERNAL_DATA_BYTES, save_graph
from .quantize import _topological, _weight_bytes

# Ops whose presence means a graph's weights are quantised (weight-only or static int8/int4).
QUANTISED_OPS = {"MatMulNBits", "MatMulInteger", "QLinearMatMul", "DequantizeLinear", "QuantizeLinear", "DynamicQuantizeLinear", "QGemm", "GatherBlockQuantized"}
QUANTISED_TYPES = {TensorProto.INT8, TensorProto.UINT8, TensorProto.INT4, TensorProto.UINT4}
FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}
# Ports that stay float32 in a float16 graph: per-item scalars that only feed sinusoidal features.
FLOAT32_PORTS = ("t", "guidance")


class HalfError(Exception):
    """A graph that cannot be made float16 (already float16, quantised), said in one line."""


def _elem(value: onnx.ValueInfoProto) -> int:
    return value.type.tensor_type.elem_type


def port_types(model: onnx.ModelProto) -> Dict[str, int]:
    """Element type of every graph input and output, by name."""
    return {v.name: _elem(v) for v in list(model.graph.input) + list(model.graph.output)}


def quantised_weights(model: onnx.ModelProto) -> List[str]:
    """What shows a graph's weights are quantised: its quantising ops and int8/int4 initializers."""
    ops = sorted({n.op_type for n in model.graph.node if n.op_type in QUANTISED_OPS})
    ints = sum(1 for t in model.graph.initializer if t.data_type in QUANTISED_TYPES and len(t.dims) >= 2)
    return ops + ([f"{ints} int8/int4 weight tensors"] if ints else [])


def refusal(model: onnx.ModelProto) -> Optional[str]:
    """Why `model` cannot be converted (already float16; quantised weights), or None."""
    half_ports = [n for n, t in port_types(model).items() if t == TensorProto.FLOAT16 and n not in FLOAT32_PORTS]
    if half_ports:
        return f"the transformer graph is already float16 (ports {', '.join(half_ports[:3])}{', …' if len(half_ports) > 3 else ''})"
    quantised = quantised_weights(model)
    if quantised:
        return (f"the transformer graph has quantised weights ({', '.join(quantised)}): float16 would not make it smaller or exact; "
                "convert the float32 pack (export it without --weights) instead")
    return None


def check_half(model: onnx.ModelProto) -> List[str]:
    """Problems that keep `model` from the float16 form of the contract: a float port that is not
    float16, a float64 initializer. Empty when it is that form."""
    def want(name: str) -> int:
        return TensorProto.FLOAT if name in FLOAT32_PORTS else TensorProto.FLOAT16

    problems = [f"port {n} is {TensorProto.DataType.Name(t)}, expected {TensorProto.DataType.Name(want(n))}"
                for n, t in port_types(model).items() if t in FLOAT_TYPES and t != want(n)]
    problems += [f"initializer {t.name} is DOUBLE" for t in model.graph.initializer if t.data_type == TensorProto.DOUBLE]
    return problems


TRIG_OPS = ("Sin", "Cos")


def angle_nodes(model: onnx.ModelProto) -> List[str]:
    """Names of the nodes every Sin and Cos depends on, and of those Sin and Cos: the sinusoidal
    features' angles, which float16 cannot hold (see the module's notes)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    seen, names = set(), []
    stack = [n for n in model.graph.node if n.op_type in TRIG_OPS]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if not node.name:
            raise HalfError(f"a {node.op_type} node on the sinusoidal features' path has no name: re-export the graph (the converter keeps nodes float32 by name)")
        names.append(node.name)
        stack += [producer[i] for i in node.input if i in producer]
    return names


def _convert(model, shape_infer: bool = True) -> onnx.ModelProto:
    """onnxruntime's converter (`model` a ModelProto, or a path for graphs over 2 GB), keeping the
    sinusoidal features' angles float32."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    structure = onnx.load(model, load_external_data=False) if isinstance(model, str) else model
    keep = angle_nodes(structure)
    scalars = [i.name for i in structure.graph.input if i.name in FLOAT32_PORTS]
    out = convert_float_to_float16(model, keep_io_types=scalars or False, disable_shape_infer=not shape_infer, node_block_list=keep)
    _drop_repeated_casts(out)
    _drop_round_trips(out, set(keep), set(scalars))
    return out


def _drop_round_trips(model: onnx.ModelProto, kept: set, inputs: set = frozenset()) -> None:
    """The converter passes a value from one kept (float32) node, or from a float32 graph input in
    `inputs`, to a kept node through a Cast to float16 and back, which rounds the angle it should
    keep: feed the consumers the float32 value directly and drop the Casts left unused."""
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}

    def cast_to(node, to):
        return node.op_type == "Cast" and any(a.name == "to" and a.i == to for a in node.attribute)

    bypass = {}
    for node in graph.node:
        if not cast_to(node, TensorProto.FLOAT):
            continue
        down = producer.get(node.input[0])
        if down is None or not cast_to(down, TensorProto.FLOAT16):
            continue
        source = producer.get(down.input[0])
        if (source is not None and source.name in kept) or (source is None and down.input[0] in inputs):
            bypass[node.output[0]] = down.input[0]
    for node in graph.node:
        node.input[:] = [bypass.get(i, i) for i in node.input]
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in graph.node for i in n.input} | outputs
        unused = [n for n in graph.node if n.op_type == "Cast" and not any(o in used for o in n.output)]
        if not unused:
            break
        drop = {id(n) for n in unused}
        kept_nodes = [n for n in graph.node if id(n) not in drop]
        del graph.node[:]
        graph.node.extend(kept_nodes)


def _drop_repeated_casts(model: onnx.ModelProto) -> None:
    """The converter adds one Cast per consumer at the edge of a kept node, under the same output
    name when two consumers share an input (Sin and Cos of one angle): keep the first of such
    identical nodes. Nodes that differ under one output name are an error."""
    first: Dict[str, onnx.NodeProto] = {}
    kept = []
    for node in model.graph.node:
        clash = next((first[o] for o in node.output if o in first), None)
        if clash is None:
            first.update({o: node for o in node.output})
            kept.append(node)
            continue
        same = (clash.op_type, list(clash.input), list(clash.output), list(clash.attribute)) == (node.op_type, list(node.input), list(node.output), list(node.attribute))
        if not same:
            raise HalfError(f"the float16 converter gave two different nodes for {node.output[0]}: convert this graph with another onnxruntime version")
    seen_names: Dict[str, int] = {}
    for node in kept:
        if node.name in seen_names:
            seen_names[node.name] += 1
            node.name = f"{node.name}_{seen_names[node.name]}"
        else:
            seen_names[node.name] = 0
    del model.graph.node[:]
    model.graph.node.extend(kept)


def half_model(model: onnx.ModelProto, shape_infer: bool = True) -> onnx.ModelProto:
    """The float16 form of the float32 graph `model` (< 2 GB, in memory): float16 ports, weights
    and arithmetic, nodes in topological order, checked. `shape_infer` False skips onnx's type
    inference (for a model that already carries its value infos)."""
    why = refusal(model)
    if why:
        raise HalfError(why)
    return _finish(_convert(model, shape_infer))


def _finish(model: onnx.ModelProto) -> onnx.ModelProto:
    _topological(model)
    problems = check_half(model)
    if problems:
        raise HalfError("the converted graph is not float16 throughout: " + "; ".join(problems[:4]))
    return model


def half_graph(src: str, dst: str, progress: Callable[[str], None] = lambda line: None) -> Dict:
    """Write the float16 form of the float32 graph `src` (external data beside it read too) to
    `dst` (its weights in one `<dst>.data` beside it when over EXTERNAL_DATA_BYTES, else one file)
    and check it. Returns seconds and bytes before and after."""
    start = time.perf_counter()
    before = _file_bytes(src)
    # The structure alone first: refuse a float16 or quantised graph before reading any weights.
    why = refusal(onnx.load(src, load_external_data=False))
    if why:
        raise HalfError(why)
    if before > EXTERNAL_DATA_BYTES:
        # onnx's in-memory type inference stops at 2 GB: the converter infers from the file instead.
        model = _convert(os.path.abspath(src))
    else:
        model = _convert(onnx.load(src))
    model = _finish(model)
    data = dst + ".data"
    if os.path.exists(data):
        os.remove(data)
    save_graph(model, dst, _weight_bytes(model) > EXTERNAL_DATA_BYTES)
    after = _file_bytes(dst)
    seconds = time.perf_counter() - start
    progress(f"{os.path.basename(dst)}: float16, {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB in {seconds:.1f} s")
    return {"seconds": seconds, "bytes_float32": before, "bytes_float16": after}


def _file_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + ".data") if os.path.exists(p))


def export_half(export: Callable[[str], None], path: str, progress: Callable[[str], None] = lambda line: None) -> Dict:
    """The float16 graph at `path` of what `export` traces: `export(p)` writes the float32 graph
    to `p` (a scratch file beside `path`, removed afterwards), which half_graph converts."""
    root, ext = os.path.splitext(path)
    scratch = f"{root}.float32{ext}"
    try:
        export(scratch)
        progress(f"{os.path.basename(path)}: converting to float16 …")
        return half_graph(scratch, path, progress)
    finally:
        for p in (scratch, scratch + ".data"):
            if os.path.exists(p):
                os.remove(p)


def export_in(dtype: str, export: Callable[[str], None], path: str, progress: Callable[[str], None] = lambda line: None) -> None:
    """What `export(p)` traces, written to `path` as float32, or as the float16 graph (export_half)
    when `dtype` is "float16": the exporters' `--dtype`."""
    if dtype == "float16":
        export_half(export, path, progress)
    else:
        export(path)
