"""Re-export the transformer and text encoder of a pack made by flowedit's own recipe, from the weights in its graphs.

    .venv/bin/python python/reexport_pack.py models/flowedit-tiny [--config flowedit-tiny]

Today's exporter (flowedit_model/export.py) writes attention, the MLP's GELU and the QK-norm as
onnxruntime's fused operators (flowedit_model/layers.py), so a pack exported before them runs faster
without retraining. The weights are read back as python/unpack.py reads a pack, with the layout the
exporter writes in the standard operators the old graphs were made of (layers.standard_operators),
or in today's when the pack has them already. Each new graph and the old one then run on the same
inputs in onnxruntime (the exporter's trace inputs; the transformer also without context keys); the
new files replace the old ones only when every output of each agrees within 1e-4 (relative ∞-norm).
The VAE graphs, which hold none of these blocks, stay as they are.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from check_common import rel_err
from flowedit_model import CONFIGS
from flowedit_model.config import PackConfig
from flowedit_model.export import export_text_encoder, export_transformer, trace_text_inputs, trace_transformer_inputs
from flowedit_model.layers import standard_operators
from flowedit_model.ports import text_encoder_ports, transformer_input_names
from unpack import graph_tables, recover

TOLERANCE = 1e-4
Feeds = Dict[str, np.ndarray]


def as_feeds(names: Sequence[str], args: Sequence[torch.Tensor]) -> Feeds:
    return {name: a.numpy() for name, a in zip(names, args)}


def transformer_calls(cfg: PackConfig) -> List[Feeds]:
    """The exporter's trace inputs (context keys in every context layer), the same without any, and
    both again with key biases of zeros (the attention that skips them, flowedit_model/zero_bias.py)."""
    names = transformer_input_names(cfg)
    with_context = as_feeds(names, trace_transformer_inputs(cfg))
    if not cfg.context_layers:
        return [with_context]
    first = cfg.context_layers[0]
    seq = with_context[f"ctx_bias.{first}"].shape[1] - with_context[f"ctx_k.{first}"].shape[2]  # S
    without = {k: np.ascontiguousarray(v[:, :, :0] if k.startswith(("ctx_k.", "ctx_v.")) else v[:, :seq] if k.startswith("ctx_bias.") else v)
               for k, v in with_context.items()}
    unbiased = [{k: np.zeros_like(v) if k.startswith("ctx_bias.") else v for k, v in call.items()} for call in (without, with_context)]
    return [without, with_context, *unbiased]


def worst_difference(old: str, new: str, calls: Sequence[Feeds]) -> float:
    """Largest relative ∞-norm difference of any output of the two graphs over `calls`."""
    import onnxruntime as ort

    a, b = (ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in (old, new))
    worst = 0.0
    for feeds in calls:
        for x, y in zip(a.run(None, feeds), b.run(None, feeds)):
            worst = max(worst, rel_err(y, x))
    return worst


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pack", help="the pack's folder")
    parser.add_argument("--config", help="the config it was exported from (default: the manifest's id), one of " + ", ".join(CONFIGS))
    args = parser.parse_args(argv)
    manifest_path = os.path.join(args.pack, "manifest.json")
    if not os.path.isfile(manifest_path):
        parser.error(f"{args.pack} is not a pack folder: it has no manifest.json")
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    name = args.config or manifest["id"]
    if name not in CONFIGS:
        parser.error(f"no config named {name!r}: give --config with one of {', '.join(CONFIGS)}")
    cfg = CONFIGS[name]()
    torch.set_num_threads(2)
    tables = graph_tables(args.pack)
    try:
        with standard_operators():
            models, _ = recover(args.pack, cfg, tables)
    except ValueError:  # not the standard form: exported with the fused operators already
        models, _ = recover(args.pack, cfg, tables)

    torch.manual_seed(0)  # the text encoder's trace ids
    graphs = {manifest["transformer"]["file"]: (export_transformer, transformer_calls(cfg))}
    if cfg.has_text:
        graphs[manifest["text"]["encoder"]] = (export_text_encoder, [as_feeds(list(text_encoder_ports(cfg)[0]), trace_text_inputs(cfg))])
    folder = tempfile.mkdtemp(prefix=".reexport-", dir=args.pack)
    try:
        for file, (export, calls) in graphs.items():
            export(models, cfg, os.path.join(folder, file))
            worst = worst_difference(os.path.join(args.pack, file), os.path.join(folder, file), calls)
            if worst > TOLERANCE:
                print(f"nothing replaced: the new {file} differs from the old by {worst:.2e} (over {TOLERANCE:.0e})", file=sys.stderr)
                return 1
            print(f"{file}: outputs within {worst:.2e} of the old graph")
        for file in graphs:
            os.replace(os.path.join(folder, file), os.path.join(args.pack, file))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"re-exported {', '.join(graphs)} in {args.pack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
