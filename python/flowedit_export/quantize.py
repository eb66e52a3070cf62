"""Smaller transformer graphs: weight-only int8/int4 MatMul on an exported float32 graph. It
keeps float32 inputs and outputs, so flowedit feeds them as before (float16 graphs, whose ports
are float16 too, are half.py's).

- `quantize_weights`: every MatMul with a constant weight (the Linear layers applied to token
  sequences) becomes onnxruntime's MatMulNBits (com.microsoft domain) with `bits` ∈ {4, 8} and
  one scale and zero point per `block_size` input channels; activations stay float32. Runs on
  onnxruntime's CPU provider. The Gemm layers of the time path (batch rows only) and the
  patch embedding's convolution stay float32.
"""

import os
from typing import Callable, Optional

import onnx

from .onnx_export import EXTERNAL_DATA_BYTES, save_graph

WEIGHT_BITS = {"int8": 8, "int4": 4}
BLOCK_SIZES = (32, 64, 128)
# MatMulNBits' accuracy_level on onnxruntime's CPU provider: 'int8' quantises the activations
# per block and multiplies in integers; 'float32' dequantises the weights and multiplies in float32.
# Measured on the random 1.3B transformer, one call of 64 tokens on 2 cores (float32 graph: 2.6 s):
# int8 weights 1.3 s and 1.3% velocity error with 'int8', 21 s and 0.65% with 'float32' (that
# path is slow for 8-bit weights); int4 weights (blocks of 32) 1.7 s / 9.6% and 2.7 s / 9.3%.
ACCURACY_LEVEL = {"int8": 4, "float32": 1}
# Block size by default: int4 needs the finer blocks more (tiny model: int4 error 7.8% at 32, 8.8% at 128).
DEFAULT_BLOCK = {"int8": 128, "int4": 32}


def _weight_bytes(model: onnx.ModelProto) -> int:
    total = 0
    for t in model.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        total += n * {onnx.TensorProto.FLOAT: 4, onnx.TensorProto.FLOAT16: 2, onnx.TensorProto.UINT8: 1, onnx.TensorProto.INT8: 1}.get(t.data_type, 4)
    return total


def _save(model: onnx.ModelProto, path: str) -> None:
    """Save next to any earlier data file of the same name, which is replaced."""
    data = path + ".data"
    if os.path.exists(data):
        os.remove(data)
    save_graph(model, path, _weight_bytes(model) > EXTERNAL_DATA_BYTES)


def quantize_weights(src: str, dst: str, bits: int, block_size: int = 128, symmetric: bool = False, activations: str = "int8") -> int:
    """Write `src` with its constant-weight MatMuls as MatMulNBits to `dst` (which may be `src`:
    the graph is read whole first); returns how many MatMuls were quantised. `activations`:
    how the CPU provider multiplies (ACCURACY_LEVEL)."""
    model, count = quantize_model(onnx.load(src, load_external_data=True), bits, block_size, symmetric, activations)
    _save(model, dst)
    return count


def quantize_in_place(folder: str, name: str, weights: str, progress: Callable[[str], None], block_size: Optional[int] = None,
                      activations: Optional[str] = None) -> None:
    """Replace folder/name (a float graph, read whole into memory first) by its weight-only
    quantised form: `weights` 'int8' | 'int4', blocks of `block_size` (DEFAULT_BLOCK by default),
    `activations` as quantize_weights takes them (named in the progress line when given)."""
    path = os.path.join(folder, name)
    block = block_size or DEFAULT_BLOCK[weights]
    how = f", {activations} activations" if activations is not None else ""
    progress(f"{name}: {weights} weight-only MatMul, blocks of {block}{how} …")
    count = quantize_weights(path, path, WEIGHT_BITS[weights], block, activations=activations or "int8")
    progress(f"{name}: {count} MatMul weights quantised")


def quantize_model(model: onnx.ModelProto, bits: int, block_size: int = 128, symmetric: bool = False, activations: str = "int8"):
    """quantize_weights on a graph in memory: (the quantised graph, how many MatMuls were quantised)."""
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    if bits not in (4, 8):
        raise ValueError(f"bits {bits}: expected 4 or 8")
    if activations not in ACCURACY_LEVEL:
        raise ValueError(f"activations {activations!r}: expected one of {', '.join(ACCURACY_LEVEL)}")
    accuracy_level = ACCURACY_LEVEL[activations]
    if block_size not in BLOCK_SIZES:
        raise ValueError(f"block size {block_size}: expected one of {', '.join(map(str, BLOCK_SIZES))}")
    import logging

    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    before = sum(1 for n in model.graph.node if n.op_type == "MatMul")
    config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=symmetric, bits=bits, accuracy_level=accuracy_level, op_types_to_quantize=("MatMul",))
    quantizer = MatMulNBitsQuantizer(model, bits=bits, block_size=block_size, is_symmetric=symmetric, accuracy_level=accuracy_level, algo_config=config, op_types_to_quantize=("MatMul",))
    quantizer.process()
    out = quantizer.model.model
    after = sum(1 for n in out.graph.node if n.op_type == "MatMul")
    _topological(out)
    return out, before - after


def _topological(model: onnx.ModelProto) -> None:
    """Reorder the graph's nodes so each comes after the producers of its inputs (the quantiser
    and the float16 converter append the nodes they add at the end)."""
    graph = model.graph
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        rest = []
        for node in pending:
            if all(i in ready for i in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise RuntimeError(f"graph has a cycle or an input nobody produces near node {rest[0].name}")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)
