"""The FLUX.1 transformer exported one part at a time, so the 12B model is never held whole in
float32 (48 GB): each part (the embeddings, every double and single block, the final layer) is
built or read from the checkpoint on its own, traced to its own graph in memory, quantised to
weight-only MatMulNBits (quantize.quantize_model) or converted to float16 (half.half_model) and
freed, its weights appended to the one data
file beside transformer.onnx. Peak memory is that of the largest part (a double block: 340M
weights, 1.4 GB in float32) and its export, not of the model: 3.5 GB for the 12B model with
int4 weights (bench/flux-full.py: 36 minutes on 2 cores, a 7.6 GB graph).

The tracer never sees the weights (part_graph): given them, torch's exporter spends minutes per
block in shape inference and protobuf serialisation.

The joined graph has the ports of dit.transformer_ports and computes what dit.export_transformer's
graph computes (python/flux_checks.py compares the two on the tiny size, made the same way).
Between the parts, values pass under names of their own (`part.img.i`, `part.x.i`, ...); every
other name of a part is prefixed with the part's name, so no two parts collide.
"""

import gc
import os
import resource
import tempfile
import time
from dataclasses import replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import onnx
import torch
from torch import nn

from ..checkpoint import CheckpointError
from ..onnx_export import declare_shapes
from .config import FluxConfig
from .dit import (
    BATCH,
    SEQ,
    TEXT,
    TRACE_BATCH,
    TRACE_GRID,
    TRACE_TEXT,
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


# ---------------------------------------------------------------- one part's graph, in memory

class _WeightsAsInputs(nn.Module):
    """Runs `module` with its parameters passed as trailing inputs, so the tracer sees them as
    graph inputs of known shape rather than as constants."""

    def __init__(self, module: nn.Module, names: Sequence[str], count: int):
        super().__init__()
        self.module, self.names, self.count = module, list(names), count

    def forward(self, *args):
        # torch.func.functional_call refuses to run under the tracer: swap the tensors in by hand.
        slots = []
        for name, value in zip(self.names, args[self.count :]):
            owner, _, leaf = name.rpartition(".")
            params = self.module.get_submodule(owner)._parameters
            slots.append((params, leaf, params[leaf]))
            params[leaf] = value
        try:
            return self.module(*args[: self.count])
        finally:
            for params, leaf, original in slots:
                params[leaf] = original


def _dynamic_axes(ports: Dict) -> Dict[str, Dict[int, str]]:
    return {name: {i: s for i, s in enumerate(shape) if isinstance(s, str)} for name, shape in ports.items()}


def part_graph(module: nn.Module, args: Sequence[torch.Tensor], inputs: Dict, outputs: Dict) -> onnx.ModelProto:
    """The graph onnx_export.export_graph would write for `module`, built in memory without
    handing the weights to the tracer: the exporter's shape inference and protobuf serialisation
    run over every constant they are given, which takes minutes for a 1.4 GB block. The
    parameters enter the trace as inputs and come back as initializers; the Transpose the
    exporter puts on each Linear weight is applied to the array instead (what constant folding
    does), so every MatMul weight is an initializer, as quantize_model expects."""
    import warnings

    import numpy as np
    from onnx import numpy_helper

    from ..onnx_export import OPSET

    module.eval()
    params = dict(module.named_parameters())
    names = list(params)
    weight_ports = [f"weight:{n}" for n in names]
    with tempfile.TemporaryDirectory() as scratch:
        traced = os.path.join(scratch, "graph.onnx")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            torch.onnx.export(
                _WeightsAsInputs(module, names, len(args)),
                tuple(args) + tuple(params[n].detach() for n in names),
                traced,
                input_names=list(inputs) + weight_ports,
                output_names=list(outputs),
                dynamic_axes={**_dynamic_axes(inputs), **_dynamic_axes(outputs)},
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        model = onnx.load(traced)
    graph = model.graph
    users: Dict[str, List[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    folded = set()
    for port, name in zip(weight_ports, names):
        array = params[name].detach().numpy()
        for node in users.get(port, []):
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            if node.op_type == "Transpose" and array.ndim == 2 and perm in (None, [1, 0]):
                graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array.T), node.output[0]))
                folded.add(id(node))
        if any(id(node) not in folded for node in users.get(port, [])):
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array), port))
    kept = [node for node in graph.node if id(node) not in folded]
    del graph.node[:]
    graph.node.extend(kept)
    ports = [v for v in graph.input if not v.name.startswith("weight:")]
    del graph.input[:]
    graph.input.extend(ports)
    got_in, got_out = [i.name for i in graph.input], [o.name for o in graph.output]
    if got_in != list(inputs) or got_out != list(outputs):
        raise RuntimeError(f"part graph: ports {got_in} -> {got_out}, expected {list(inputs)} -> {list(outputs)}")
    declare_shapes(graph.input, inputs)
    declare_shapes(graph.output, outputs)
    return model


# ---------------------------------------------------------------- joining the parts

class GraphJoiner:
    """Collects part graphs in execution order into one graph whose weights (each tensor of
    EXTERNAL_MIN_BYTES or more) are appended to one data file as the parts arrive, so only the
    weightless structure of the earlier parts stays in memory. Every name inside a part except
    its ports gets the part's name as a prefix."""

    def __init__(self, path: str):
        self.path = path
        self.data_name = os.path.basename(path) + ".data"
        self.data = open(os.path.join(os.path.dirname(os.path.abspath(path)), self.data_name), "wb")
        self.nodes: List[onnx.NodeProto] = []
        self.initializers: List[onnx.TensorProto] = []
        self.ports: Dict[str, onnx.ValueInfoProto] = {}
        self.opsets: Dict[str, int] = {}
        self.ir_version = 0

    def add(self, name: str, model: onnx.ModelProto) -> None:
        graph = model.graph
        keep = {v.name for v in graph.input} | {v.name for v in graph.output} | {""}

        def renamed(value: str) -> str:
            return value if value in keep else f"{name}/{value}"

        for node in graph.node:
            node.name = f"{name}/{node.name or node.op_type}"
            node.input[:] = [renamed(n) for n in node.input]
            node.output[:] = [renamed(n) for n in node.output]
        for tensor in graph.initializer:
            tensor.name = renamed(tensor.name)
            self._externalise(tensor)
        # Kept as a copy: protobuf frees a message's memory only with its whole tree, so holding
        # any piece of the part's own graph would hold its weights too (1.4 GB per block).
        graph = onnx.ModelProto.FromString(model.SerializeToString()).graph
        self.nodes.extend(graph.node)
        self.initializers.extend(graph.initializer)
        for v in list(graph.input) + list(graph.output):
            self.ports.setdefault(v.name, v)
        for op in model.opset_import:
            self.opsets[op.domain] = max(self.opsets.get(op.domain, 0), op.version)
        self.ir_version = max(self.ir_version, model.ir_version)

    def add_node(self, node: onnx.NodeProto) -> None:
        self.nodes.append(node)

    def _externalise(self, tensor: onnx.TensorProto) -> None:
        """Move a tensor's bytes to the end of the data file (aligned when large)."""
        from onnx import numpy_helper

        raw = tensor.raw_data if tensor.HasField("raw_data") else numpy_helper.to_array(tensor).tobytes()
        if len(raw) < EXTERNAL_MIN_BYTES:
            return
        offset = self.data.tell()
        pad = (-offset) % ALIGN if len(raw) >= ALIGN_MIN_BYTES else 0
        if pad:
            self.data.write(b"\0" * pad)
            offset += pad
        self.data.write(raw)
        for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
            tensor.ClearField(field)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", self.data_name), ("offset", str(offset)), ("length", str(len(raw)))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value

    def finish(self, inputs: Dict, outputs: Dict) -> None:
        """Write the joined graph with the ports `inputs` -> `outputs` (name -> shape) and check it."""
        self.data.close()
        missing = [n for n in list(inputs) + list(outputs) if n not in self.ports]
        if missing:
            raise RuntimeError(f"{self.path}: the parts lack the ports {', '.join(missing[:6])}")
        graph = onnx.helper.make_graph(self.nodes, "flux_transformer", [self.ports[n] for n in inputs], [self.ports[n] for n in outputs], self.initializers)
        declare_shapes(graph.input, inputs)
        declare_shapes(graph.output, outputs)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in sorted(self.opsets.items())])
        model.ir_version = self.ir_version
        onnx.save(model, self.path)
        onnx.checker.check_model(self.path)

    def abandon(self) -> None:
        """Close and remove what was written."""
        self.data.close()
        for p in (self.path, os.path.join(os.path.dirname(os.path.abspath(self.path)), self.data_name)):
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
    every part's MatMul weights (quantize.quantize_model: MatMulNBits, blocks of `block_size`),
    None keeps them float; `float16` converts every part to float16 (half.half_model: float16
    ports, weights and arithmetic, as half.half_graph does to the whole graph; the values passed
    between parts are float16 too). Returns per-part seconds, the graph's bytes
    and the peak memory of this process. A failure leaves nothing at `path`."""
    from ..half import half_model
    from ..quantize import ACCURACY_LEVEL, BLOCK_SIZES, quantize_model

    if bits not in (None, 4, 8):
        raise ValueError(f"bits {bits}: expected 4, 8 or None (float weights)")
    if bits is not None and float16:
        raise ValueError("choose int4/int8 weights or float16 weights, not both")
    if bits is not None and (block_size not in BLOCK_SIZES or activations not in ACCURACY_LEVEL):
        raise ValueError(f"block size {block_size} / activations {activations!r}: expected one of {BLOCK_SIZES} / {', '.join(ACCURACY_LEVEL)}")
    source = WeightSource(cfg, checkpoint, seed)  # a checkpoint is checked whole before any work
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    plan: List[Tuple[str, str, int]] = [("stem", "stem", 0)]
    plan += [(f"double.{i}", "double", i) for i in range(cfg.depth)]
    plan += [(f"single.{j}", "single", j) for j in range(cfg.depth_single_blocks)]
    plan += [("head", "head", 0)]
    report: Dict = {"parts": {}, "bits": bits, "float16": float16}
    start = time.perf_counter()
    joiner = GraphJoiner(path)
    try:
        shell: Optional[FluxDiT] = None
        for name, kind, index in plan:
            t0 = time.perf_counter()
            if kind in ("stem", "head"):
                if shell is None:
                    shell = source.fill(FluxDiT(shell_config(cfg)), "")
                module: nn.Module = StemGraph(shell) if kind == "stem" else HeadGraph(shell)
            elif kind == "double":
                module = DoubleGraph(source.fill(DoubleStreamBlock(cfg), f"double_blocks.{index}."))
            else:
                module = SingleGraph(source.fill(SingleStreamBlock(cfg), f"single_blocks.{index}."))
            t1 = time.perf_counter()
            inputs, outputs = part_ports(cfg, kind, index)
            model = part_graph(module, part_trace_inputs(cfg, kind, index), inputs, outputs)
            del module  # the shell stays for the head
            gc.collect()
            t2 = time.perf_counter()
            if bits is not None:
                model, _ = quantize_model(model, bits, block_size, activations=activations)
            elif float16:
                model = half_model(model)
            t3 = time.perf_counter()
            joiner.add(name, model)
            del model
            if kind == "double" and index == cfg.depth - 1:
                # The single blocks take the joint sequence [text; image].
                joiner.add_node(onnx.helper.make_node("Concat", [txt_name(cfg.depth), img_name(cfg.depth)], [x_name(cfg.depth)], name="join/concat", axis=1))
            gc.collect()
            t4 = time.perf_counter()
            times = {"weights_s": t1 - t0, "trace_s": t2 - t1, "quantise_s": t3 - t2, "write_s": t4 - t3, "total_s": t4 - t0}
            report["parts"][name] = {k: round(v, 2) for k, v in times.items()}
            progress(f"{name}: {times['total_s']:.1f} s (weights {times['weights_s']:.1f}, trace {times['trace_s']:.1f}, {'float16' if float16 else 'quantise'} {times['quantise_s']:.1f}, write {times['write_s']:.1f}), peak memory {peak_rss_bytes() / 2**30:.2f} GiB")
        del shell
        t0 = time.perf_counter()
        joiner.finish(*transformer_ports(cfg, text_tokens))
        report["join_s"] = round(time.perf_counter() - t0, 2)
    except BaseException:
        joiner.abandon()
        raise
    report["seconds"] = round(time.perf_counter() - start, 1)
    report["peak_rss_bytes"] = peak_rss_bytes()
    report["bytes"] = sum(os.path.getsize(p) for p in (path, path + ".data") if os.path.exists(p))
    progress(f"{path}: {len(plan)} parts, {report['bytes'] / 2**30:.2f} GiB, {report['seconds']:.0f} s")
    return report
