"""The FLUX.1 transformer exported one part at a time, so the 12B model is never held whole in
float32 (48 GB): each part (the embeddings, every double and single block, the final layer) is
built or read from the checkpoint on its own, traced to its own graph, quantised to weight-only
MatMulNBits (quantize.py) and freed; the part graphs are then joined into one transformer.onnx
whose weights lie in one external data file beside it. Peak memory is that of the largest part
(a double block: 340M weights, 1.4 GB in float32) plus its export, not of the model.

The joined graph has the ports of dit.transformer_ports and computes what dit.export_transformer's
graph computes (python/flux_checks.py compares the two on the tiny size, quantised the same way).
Between the parts, values pass under names of their own (`part.img.i`, `part.x.i`, ...); every
other name of a part is prefixed with the part's name, so no two parts collide.
"""

import gc
import os
import resource
import shutil
import tempfile
import time
from dataclasses import replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import onnx
import torch
from torch import nn

from ..checkpoint import CheckpointError
from ..onnx_export import declare_shapes, export_graph
from .config import FluxConfig
from .dit import (
    BATCH,
    SEQ,
    TEXT,
    TRACE_BATCH,
    TRACE_GRID,
    TRACE_TEXT,
    HALF_LINEARS,
    DoubleStreamBlock,
    FluxDiT,
    SingleStreamBlock,
    check_flux_keys,
    checkpoint_shapes,
    init_random,
    input_names,
    read_tensors_into,
    transformer_ports,
)

# Names of the values passed between parts.
VEC, COS, SIN = "part.vec", "part.rope_cos", "part.rope_sin"
TOKENS = "part_tokens"  # the dynamic image-token count n of a part's ports


def img_name(i: int) -> str:
    return f"part.img.{i}"


def txt_name(i: int) -> str:
    return f"part.txt.{i}"


def x_name(layer: int) -> str:
    return f"part.x.{layer}"


# External data: tensors of at least EXTERNAL_MIN_BYTES go to the data file; those of at least
# ALIGN_MIN_BYTES start at an offset aligned to ALIGN bytes (so onnxruntime can map them).
EXTERNAL_MIN_BYTES = 1024
ALIGN, ALIGN_MIN_BYTES = 4096, 1 << 16


# ---------------------------------------------------------------- the parts as modules

def shell_config(cfg: FluxConfig) -> FluxConfig:
    """The transformer without its blocks: embeddings and final layer, the same parameter names."""
    return replace(cfg, depth=0, depth_single_blocks=0)


class StemGraph(nn.Module):
    """Graph inputs -> the blocks' inputs (img.0, txt.0, vec, cos, sin)."""

    def __init__(self, shell: FluxDiT):
        super().__init__()
        self.shell = shell

    def forward(self, latents, t, text, pooled, *guidance):
        return self.shell.embed(latents, t, text, pooled, guidance[0] if guidance else None)


class DoubleGraph(nn.Module):
    def __init__(self, block: DoubleStreamBlock):
        super().__init__()
        self.block = block

    def forward(self, img, txt, vec, cos, sin, ctx_k, ctx_v, ctx_bias):
        return self.block(img, txt, vec, cos, sin, (ctx_k, ctx_v, ctx_bias))


class SingleGraph(nn.Module):
    def __init__(self, block: SingleStreamBlock):
        super().__init__()
        self.block = block

    def forward(self, x, vec, cos, sin, ctx_k, ctx_v, ctx_bias):
        return self.block(x, vec, cos, sin, (ctx_k, ctx_v, ctx_bias))


class HeadGraph(nn.Module):
    """The last single block's x -> velocity (text rows dropped, final layer, unpacked)."""

    def __init__(self, shell: FluxDiT):
        super().__init__()
        self.shell = shell

    def forward(self, x, vec, text, latents):
        return self.shell.head(x, vec, text.shape[1], latents)


# ---------------------------------------------------------------- ports and trace inputs of each part

def _ctx_ports(cfg: FluxConfig, layer: int) -> Tuple[Dict, Dict]:
    inputs, outputs = transformer_ports(cfg)
    keep_in = {n: inputs[n] for n in (f"ctx_k.{layer}", f"ctx_v.{layer}", f"ctx_bias.{layer}")}
    keep_out = {n: outputs[n] for n in (f"k.{layer}", f"v.{layer}")}
    return keep_in, keep_out


def _hidden(cfg: FluxConfig, tokens) -> List:
    return [BATCH, tokens, cfg.hidden_size]


def _rope(cfg: FluxConfig) -> List:
    return [SEQ, cfg.head_dim // 2]


def part_ports(cfg: FluxConfig, part: str, index: int = 0) -> Tuple[Dict, Dict]:
    """(inputs, outputs) of one part: 'stem', 'double' (block index), 'single' (block index), 'head'."""
    graph_in, graph_out = transformer_ports(cfg)
    if part == "stem":
        inputs = {n: graph_in[n] for n in ["latents"] + input_names(cfg)}
        outputs = {img_name(0): _hidden(cfg, TOKENS), txt_name(0): _hidden(cfg, TEXT), VEC: [BATCH, cfg.hidden_size], COS: _rope(cfg), SIN: _rope(cfg)}
        return inputs, outputs
    if part == "double":
        ctx_in, ctx_out = _ctx_ports(cfg, index)
        inputs = {img_name(index): _hidden(cfg, TOKENS), txt_name(index): _hidden(cfg, TEXT), VEC: [BATCH, cfg.hidden_size], COS: _rope(cfg), SIN: _rope(cfg), **ctx_in}
        return inputs, {img_name(index + 1): _hidden(cfg, TOKENS), txt_name(index + 1): _hidden(cfg, TEXT), **ctx_out}
    if part == "single":
        layer = cfg.depth + index
        ctx_in, ctx_out = _ctx_ports(cfg, layer)
        inputs = {x_name(layer): _hidden(cfg, SEQ), VEC: [BATCH, cfg.hidden_size], COS: _rope(cfg), SIN: _rope(cfg), **ctx_in}
        return inputs, {x_name(layer + 1): _hidden(cfg, SEQ), **ctx_out}
    if part == "head":
        inputs = {x_name(cfg.layers): _hidden(cfg, SEQ), VEC: [BATCH, cfg.hidden_size], "text": graph_in["text"], "latents": graph_in["latents"]}
        return inputs, {"velocity": graph_out["velocity"]}
    raise ValueError(f"part {part!r}: expected stem, double, single or head")


def part_trace_inputs(cfg: FluxConfig, part: str, index: int = 0) -> List[torch.Tensor]:
    """Random inputs of the trace sizes (dit.TRACE_*): the values do not matter, only the shapes."""
    from .dit import trace_inputs

    g = torch.Generator().manual_seed(index)
    b, (hp, wp), length = TRACE_BATCH, TRACE_GRID, TRACE_TEXT
    n, dim = hp * wp, cfg.hidden_size
    s = length + n
    graph_args = trace_inputs(cfg)
    conditioning = 1 + len(input_names(cfg))  # latents, t, text, pooled[, guidance]

    def ctx(layer: int) -> List[torch.Tensor]:
        start = conditioning + 3 * layer
        return graph_args[start : start + 3]

    rope = [torch.randn(s, cfg.head_dim // 2, generator=g) for _ in range(2)]  # cos, sin [S, d/2]
    vec = torch.randn(b, dim, generator=g)  # [B, dim]
    if part == "stem":
        return graph_args[:conditioning]
    if part == "double":
        return [torch.randn(b, n, dim, generator=g), torch.randn(b, length, dim, generator=g), vec, *rope, *ctx(index)]
    if part == "single":
        return [torch.randn(b, s, dim, generator=g), vec, *rope, *ctx(cfg.depth + index)]
    if part == "head":
        return [torch.randn(b, s, dim, generator=g), vec, graph_args[2], graph_args[0]]
    raise ValueError(part)


# ---------------------------------------------------------------- weights of one part

class WeightSource:
    """Where the parts' weights come from: random from a seed (the same values dit.build_flux
    gives), or a checkpoint read one tensor at a time (safetensors, lazily)."""

    def __init__(self, cfg: FluxConfig, checkpoint: Optional[str] = None, seed: Optional[int] = None):
        if (checkpoint is None) == (seed is None):
            raise ValueError("give either a checkpoint or a seed")
        self.cfg, self.checkpoint, self.seed = cfg, checkpoint, seed
        if checkpoint is not None:
            problems = check_flux_keys(checkpoint, cfg)
            if problems:
                raise CheckpointError(" | ".join(problems))
            self.shapes = checkpoint_shapes(checkpoint)

    def fill(self, module: nn.Module, prefix: str) -> nn.Module:
        """Give `module` its weights; its parameter names in the whole model start with `prefix`."""
        module.eval()
        if self.seed is not None:
            return init_random(module, self.seed, prefix)
        read_tensors_into(module, self.shapes, prefix)
        return module


# ---------------------------------------------------------------- joining part graphs

def _rename_part(model: onnx.ModelProto, prefix: str) -> None:
    """Prefix every name inside the graph except its inputs and outputs (the ports shared between parts)."""
    graph = model.graph
    keep = {v.name for v in graph.input} | {v.name for v in graph.output} | {""}

    def renamed(name: str) -> str:
        return name if name in keep else prefix + name

    for node in graph.node:
        node.name = prefix + (node.name or node.op_type)
        node.input[:] = [renamed(n) for n in node.input]
        node.output[:] = [renamed(n) for n in node.output]
    for t in graph.initializer:
        t.name = renamed(t.name)
    for v in graph.value_info:
        v.name = renamed(v.name)


def _externalise(tensor: onnx.TensorProto, data, location: str) -> None:
    """Move a loaded tensor's bytes to the end of the open data file `data` (aligned)."""
    from onnx import numpy_helper

    raw = tensor.raw_data if tensor.HasField("raw_data") else numpy_helper.to_array(tensor).tobytes()
    if len(raw) < EXTERNAL_MIN_BYTES:
        return
    offset = data.tell()
    pad = (-offset) % ALIGN if len(raw) >= ALIGN_MIN_BYTES else 0
    if pad:
        data.write(b"\0" * pad)
        offset += pad
    data.write(raw)
    array_fields = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")
    for field in array_fields:
        tensor.ClearField(field)
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    del tensor.external_data[:]
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(len(raw)))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value


def join_parts(parts: Sequence[Tuple[str, str]], cfg: FluxConfig, path: str, text_tokens: Optional[int] = None) -> None:
    """Join the part graphs [(name, file)] (in execution order) into one graph at `path` with the
    transformer's ports; every weight of 1 KB or more goes to `<path>.data`. One part is held in
    memory at a time; each part file is removed once joined."""
    inputs, outputs = transformer_ports(cfg, text_tokens)
    data_name = os.path.basename(path) + ".data"
    nodes: List[onnx.NodeProto] = []
    initializers: List[onnx.TensorProto] = []
    port_info: Dict[str, onnx.ValueInfoProto] = {}
    opsets: Dict[str, int] = {}
    ir_version = 0
    with open(os.path.join(os.path.dirname(os.path.abspath(path)), data_name), "wb") as data:
        for name, file in parts:
            model = onnx.load(file, load_external_data=True)
            _rename_part(model, name + "/")
            for t in model.graph.initializer:
                _externalise(t, data, data_name)
            nodes.extend(model.graph.node)
            initializers.extend(model.graph.initializer)
            for v in list(model.graph.input) + list(model.graph.output):
                port_info.setdefault(v.name, v)
            ir_version = max(ir_version, model.ir_version)
            for op in model.opset_import:
                opsets[op.domain] = max(opsets.get(op.domain, 0), op.version)
            del model
            _remove_graph(file)
            if name.startswith("double") and name.endswith(f".{cfg.depth - 1}"):
                # The single blocks take the joint sequence [text; image].
                nodes.append(onnx.helper.make_node("Concat", [txt_name(cfg.depth), img_name(cfg.depth)], [x_name(cfg.depth)], name="join/concat", axis=1))
    missing = [n for n in list(inputs) + list(outputs) if n not in port_info]
    if missing:
        raise RuntimeError(f"{path}: the parts lack the ports {', '.join(missing[:6])}")
    graph = onnx.helper.make_graph(nodes, "flux_transformer", [port_info[n] for n in inputs], [port_info[n] for n in outputs], initializers)
    declare_shapes(graph.input, inputs)
    declare_shapes(graph.output, outputs)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in sorted(opsets.items())])
    model.ir_version = ir_version
    onnx.save(model, path)
    onnx.checker.check_model(path)


def _remove_graph(file: str) -> None:
    for p in (file, file + ".data"):
        if os.path.exists(p):
            os.remove(p)


# ---------------------------------------------------------------- the export

def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def stream_export(
    cfg: FluxConfig,
    path: str,
    checkpoint: Optional[str] = None,
    seed: Optional[int] = None,
    bits: Optional[int] = 4,
    float16: bool = False,
    block_size: int = 32,
    activations: str = "int8",
    text_tokens: Optional[int] = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Dict:
    """Write the transformer graph to `path` (+ `<path>.data`) part by part, with weights from
    `checkpoint` (a file or folder, read lazily) or random from `seed`; `bits` 4 or 8 quantises
    every part's MatMul weights (MatMulNBits, blocks of `block_size`), None keeps them float;
    `float16` makes the Linear layers of dit.HALF_LINEARS float16 (as quantize.half_linears does
    on the whole model). Returns per-part seconds and the peak memory of this process."""
    from ..quantize import ACCURACY_LEVEL, BLOCK_SIZES, half_linears, quantize_weights

    if bits not in (None, 4, 8):
        raise ValueError(f"bits {bits}: expected 4, 8 or None (float32)")
    if bits is not None and float16:
        raise ValueError("choose int4/int8 weights or float16 Linear layers, not both")
    if bits is not None and (block_size not in BLOCK_SIZES or activations not in ACCURACY_LEVEL):
        raise ValueError(f"block size {block_size} / activations {activations!r}: expected one of {BLOCK_SIZES} / {', '.join(ACCURACY_LEVEL)}")
    source = WeightSource(cfg, checkpoint, seed)  # a checkpoint is checked whole before any work
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    plan: List[Tuple[str, str, int]] = [("stem", "stem", 0)]
    plan += [(f"double.{i}", "double", i) for i in range(cfg.depth)]
    plan += [(f"single.{j}", "single", j) for j in range(cfg.depth_single_blocks)]
    plan += [("head", "head", 0)]
    report: Dict = {"parts": {}, "bits": bits, "float16": float16}
    start = time.perf_counter()
    scratch = tempfile.mkdtemp(prefix=".flux-parts.", dir=folder)
    try:
        shell: Optional[FluxDiT] = None
        files: List[Tuple[str, str]] = []
        for name, kind, index in plan:
            t0 = time.perf_counter()
            if kind in ("stem", "head"):
                if shell is None:
                    shell = source.fill(FluxDiT(shell_config(cfg)), "")
                    if float16:
                        half_linears(shell, [s for s in HALF_LINEARS if hasattr(shell, s)])
                module: nn.Module = StemGraph(shell) if kind == "stem" else HeadGraph(shell)
            elif kind == "double":
                module = DoubleGraph(source.fill(DoubleStreamBlock(cfg), f"double_blocks.{index}."))
            else:
                module = SingleGraph(source.fill(SingleStreamBlock(cfg), f"single_blocks.{index}."))
            if float16 and kind in ("double", "single"):
                half_linears(module, ["block"])
            built = time.perf_counter() - t0
            part_file = os.path.join(scratch, f"{name}.onnx")
            inputs, outputs = part_ports(cfg, kind, index)
            export_graph(module, part_trace_inputs(cfg, kind, index), part_file, inputs, outputs)
            del module  # the shell stays for the head
            gc.collect()
            exported = time.perf_counter() - t0 - built
            if bits is not None:
                quantised = os.path.join(scratch, f"{name}.q.onnx")
                quantize_weights(part_file, quantised, bits, block_size, activations=activations)
                _remove_graph(part_file)
                part_file = quantised
            files.append((name, part_file))
            seconds = time.perf_counter() - t0
            report["parts"][name] = {"build_s": round(built, 2), "export_s": round(exported, 2), "total_s": round(seconds, 2)}
            progress(f"{name}: {seconds:.1f} s (weights {built:.1f} s, trace {exported:.1f} s, quantise {seconds - built - exported:.1f} s), peak memory {peak_rss_bytes() / 2**30:.2f} GiB")
        del shell
        gc.collect()
        t0 = time.perf_counter()
        join_parts(files, cfg, path, text_tokens)
        report["join_s"] = round(time.perf_counter() - t0, 2)
        progress(f"joined {len(files)} parts into {path}: {report['join_s']:.1f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - start, 1)
    report["peak_rss_bytes"] = peak_rss_bytes()
    report["bytes"] = sum(os.path.getsize(p) for p in (path, path + ".data") if os.path.exists(p))
    return report
