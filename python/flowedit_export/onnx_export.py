"""ONNX export shared by every exporter: the TorchScript tracer (torch.onnx.export with
dynamo=False) at opset 17, declared port shapes, external data for graphs over 2 GB, the onnx
checker, and packs written into a temporary sibling folder that is renamed into place only when
complete, so a failed export leaves no half-written pack.
"""

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Union

import onnx
import torch
from torch import nn

OPSET = 17
# Above this many bytes of weights a graph keeps its tensors in `<file>.data` beside it.
EXTERNAL_DATA_BYTES = 1 << 30

# A port's shape: fixed sizes as ints, dynamic axes as names.
Shape = Sequence[Union[int, str]]
Ports = Dict[str, Shape]


def declare_shapes(values, ports: Ports) -> None:
    """Write each port's shape from `ports` (fixed sizes as ints, axis names as strings) into the
    graph's value infos."""
    for value in values:
        dims = value.type.tensor_type.shape.dim
        shape = ports[value.name]
        if len(dims) != len(shape):
            raise RuntimeError(f"{value.name}: rank {len(dims)}, expected {len(shape)}")
        for dim, size in zip(dims, shape):
            if isinstance(size, int):
                dim.dim_value = size
            else:
                dim.dim_param = size


def _dynamic_axes(ports: Ports) -> Dict[str, Dict[int, str]]:
    return {name: {i: s for i, s in enumerate(shape) if isinstance(s, str)} for name, shape in ports.items()}


def export_graph(module: nn.Module, args: Sequence[torch.Tensor], path: str, inputs: Ports, outputs: Ports) -> None:
    """Trace `module` on `args` (in the order of `inputs`) to `path`, declare each port's shape
    (ints fixed, strings dynamic) and check the graph. Graphs with more than
    EXTERNAL_DATA_BYTES of weights keep them in one file `<path>.data` beside it."""
    module.eval()
    weight_bytes = sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])
    axes = {**_dynamic_axes(inputs), **_dynamic_axes(outputs)}
    # The tracer writes a large model's tensors as loose files beside its output: trace into a
    # private folder and gather them into one file when saving.
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as scratch:
        traced = os.path.join(scratch, "graph.onnx")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            torch.onnx.export(
                module,
                tuple(args),
                traced,
                input_names=list(inputs),
                output_names=list(outputs),
                dynamic_axes=axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
                export_params=True,
            )
        model = onnx.load(traced, load_external_data=True)
    got_in = [i.name for i in model.graph.input]
    got_out = [o.name for o in model.graph.output]
    if got_in != list(inputs) or got_out != list(outputs):
        raise RuntimeError(f"{path}: ports {got_in} -> {got_out}, expected {list(inputs)} -> {list(outputs)}")
    declare_shapes(model.graph.input, inputs)
    declare_shapes(model.graph.output, outputs)
    save_graph(model, path, weight_bytes > EXTERNAL_DATA_BYTES)


def example_context(g: torch.Generator, batch: int, heads: int, head_dim: int, tokens: int, context: Sequence[int], bias_scale: float = 1.0) -> List[torch.Tensor]:
    """Random context-port inputs in port order for a sequence of `tokens` (S): for each layer,
    Sc = context[i] extra keys and values and a bias over S + Sc keys (× bias_scale)."""
    args: List[torch.Tensor] = []
    for sc in context:
        args += [
            torch.randn(batch, heads, sc, head_dim, generator=g),  # [B, h, Sc, d]
            torch.randn(batch, heads, sc, head_dim, generator=g),  # [B, h, Sc, d]
            bias_scale * torch.randn(batch, tokens + sc, generator=g),  # [B, S + Sc]
        ]
    return args


def save_graph(model: onnx.ModelProto, path: str, external: bool) -> None:
    """Check and save `model`; with `external`, its tensors go to one file `<path>.data`."""
    if external:
        data_name = os.path.basename(path) + ".data"
        onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data_name, size_threshold=1024)
        onnx.checker.check_model(path)
    else:
        onnx.checker.check_model(model)
        onnx.save(model, path)


@contextlib.contextmanager
def pack_folder(out_dir: str, force: bool = False) -> Iterator[str]:
    """Yield a temporary folder beside `out_dir`; on success it becomes `out_dir`, on failure it
    is removed. An existing `out_dir` is refused unless `force` (then replaced only on success)."""
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    if os.path.exists(out_dir) and not force:
        raise FileExistsError(f"{out_dir} exists: choose another --out or pass --force to replace it")
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.", suffix=".partial", dir=parent)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.exists(out_dir):
        old = out_dir + ".old"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, out_dir)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def keep_files(folder: str, kept: Dict[str, str], progress: Callable[[str], None]) -> None:
    """Open the temporary pack `folder` to others as the umask allows (a temporary folder is
    private; the pack is not) and put in it the files `kept` from an existing pack (pack file ->
    existing file): hard links where the disk allows, else copies."""
    os.chmod(folder, 0o777 & ~_umask())
    for name, source in sorted(kept.items()):
        progress(f"keeping {name} from the existing pack")
        try:
            os.link(source, os.path.join(folder, name))
        except OSError:
            shutil.copy2(source, os.path.join(folder, name))


def read_manifest(path: str) -> Optional[dict]:
    """The manifest.json at `path`, or None where there is none or it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def finish_pack(folder: str, manifest: dict, files: Sequence[str], progress: Callable[[str], None]) -> None:
    """Write `manifest` as `folder`/manifest.json, give every file the umask's permissions (onnx
    writes external data privately), and warn of any of the pack's `files` still missing."""
    with open(os.path.join(folder, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    umask = _umask()
    for name in os.listdir(folder):
        os.chmod(os.path.join(folder, name), 0o666 & ~umask)
    missing = [n for n in files if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        progress(f"warning: the pack lacks {', '.join(missing)}; export them with --only (into this --out with --force) before using it")
