"""Recover a training run folder from an exported pack, so training can go on from any pack.

    .venv/bin/python python/unpack.py --pack models/flowedit-tiny --config flowedit-tiny --run runs/from-pack

Writes vae.pt, latent_stats.json and dit-ema.pt: what train.py needs to continue the transformer
(`--vae-minutes 0` keeps the VAE; without dit.pt the transformer starts from the EMA weights with a
fresh optimiser) and what python/device_train.sh takes as RESUME. A pack holds the EMA weights as
ONNX initialisers whose names the exporter may have replaced and whose layout it may have changed
(a linear layer's weight becomes a transposed MatMul operand). The mapping is found, not assumed:
the config's networks are exported once with every parameter filled with values of its own, and
each parameter is located among that export's initialisers, as it is or transposed. The recovered
networks are then exported again and every initialiser compared with the pack's, bit for bit;
any difference is an error and nothing is written.
"""

import argparse
import json
import os
import re
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from flowedit_model import CONFIGS, build_models
from flowedit_model.export import export_pack
from flowedit_model.models import PackModels

# graph file -> the network whose parameters it holds
GRAPHS = {"transformer.onnx": "transformer", "text_encoder.onnx": "text_encoder",
          "vae_encoder.onnx": "vae", "vae_decoder.onnx": "vae"}
# How a parameter appears in a graph: the graph file, an input of a node that reads it (node name,
# input index; node names stay put where the exporter merges equal initialisers into one name),
# and whether it is a 2-D weight transposed.
Layout = Tuple[str, Tuple[str, int], bool]


# A graph's tables: {initialiser name: array} and {(node name, input index): the tensor it reads}.
Tables = Tuple[Dict[str, np.ndarray], Dict[Tuple[str, int], str]]


def graph_tables(folder: str) -> Dict[str, Tables]:
    """graph file -> its tables, for the graphs a pack folder holds. The exporter merges
    initialisers of equal value into one and names the others with Identity nodes; an input read
    through them is given the initialiser they pass on."""
    tables = {}
    for f in GRAPHS:
        if not os.path.exists(os.path.join(folder, f)):
            continue
        graph = onnx.load(os.path.join(folder, f)).graph
        alias = {node.output[0]: node.input[0] for node in graph.node if node.op_type == "Identity"}

        def source(name: str) -> str:
            while name in alias:
                name = alias[name]
            return name

        tables[f] = ({i.name: numpy_helper.to_array(i) for i in graph.initializer},
                     {(node.name, k): source(name) for node in graph.node for k, name in enumerate(node.input)})
    return tables


def exported_tables(models: PackModels, cfg) -> Dict[str, Tables]:
    """The tables of the pack the project's exporter writes for `models`."""
    with tempfile.TemporaryDirectory() as tmp:
        export_pack(models, cfg, tmp, cfg.name, cfg.name)
        return graph_tables(tmp)


def networks(models: PackModels) -> Dict[str, torch.nn.Module]:
    return {k: m for k, m in (("transformer", models.transformer), ("text_encoder", models.text_encoder),
                              ("vae", models.vae)) if m is not None}


def find_layouts(cfg) -> Tuple[Dict[str, Dict[str, Layout]], Dict[str, List[str]]]:
    """For each network, parameter name -> where the export puts it; and the parameters no graph
    holds as they are (e.g. folded into another constant), per network."""
    models = build_models(cfg, 0)
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for net in networks(models).values():
            for p in net.parameters():  # values of its own: no two parameters share one
                p.copy_(torch.rand(p.shape, generator=gen, dtype=torch.float64).to(p.dtype) + 1.0)
    graphs = exported_tables(models, cfg)
    read_at = {}  # graph file -> initialiser name -> the first (node name, input index) reading it
    for graph, (_, reads) in graphs.items():
        read_at[graph] = {}
        for use, name in reads.items():
            read_at[graph].setdefault(name, use)
    layouts: Dict[str, Dict[str, Layout]] = {}
    missing: Dict[str, List[str]] = {}
    for key, net in networks(models).items():
        layouts[key], missing[key] = {}, []
        for name, p in net.named_parameters():
            a = p.detach().numpy()
            found = None
            for graph, (inits, _) in graphs.items():
                if GRAPHS[graph] != key:
                    continue
                for init_name, v in inits.items():
                    if v.size != a.size or init_name not in read_at[graph]:
                        continue
                    if np.array_equal(v.reshape(a.shape), a):  # as it is, maybe with axes of 1 added
                        found = (graph, read_at[graph][init_name], False)
                    elif a.ndim == 2 and v.squeeze().shape == a.T.shape and np.array_equal(v.squeeze(), a.T):
                        found = (graph, read_at[graph][init_name], True)
                    if found:
                        break
                if found:
                    break
            if found:
                layouts[key][name] = found
            else:
                missing[key].append(name)
    return layouts, missing


def recover(pack: str, cfg, tables: Dict[str, Tables]) -> Tuple[PackModels, Dict[str, List[str]]]:
    """The config's networks with the weights of the pack (its tables); raises ValueError when
    they do not fit."""
    layouts, missing = find_layouts(cfg)
    models = build_models(cfg, 0)
    packed = {f: inits for f, (inits, _) in tables.items()}
    read = {f: reads for f, (_, reads) in tables.items()}
    with torch.no_grad():
        for key, net in networks(models).items():
            params = dict(net.named_parameters())
            for name, (graph, use, transposed) in layouts[key].items():
                init_name = read.get(graph, {}).get(use)
                if init_name not in packed.get(graph, {}):
                    raise ValueError(f"{pack}/{graph} has no weight where --config {cfg.name} puts {key}.{name} "
                                     f"(input {use[1]} of node {use[0]}): the pack was not exported from --config {cfg.name}")
                v = packed[graph][init_name]
                v = v.squeeze().T if transposed else v
                if v.size != params[name].numel():
                    raise ValueError(f"{pack}/{graph}: {init_name} is {list(v.shape)}, {key}.{name} "
                                     f"{list(params[name].shape)}: the pack was not exported from --config {cfg.name}")
                params[name].copy_(torch.from_numpy(np.array(v, copy=True)).view(params[name].shape))
    return models.eval(), missing


def verify(models: PackModels, cfg, pack: str, tables: Dict[str, Tables]) -> int:
    """Exports the recovered networks and compares every initialiser with the pack's (its tables);
    returns how many were compared, raises ValueError on any difference."""
    compared = 0
    for graph, (inits, _) in exported_tables(models, cfg).items():
        theirs = tables[graph][0] if graph in tables else {}
        if sorted(theirs) != sorted(inits):
            raise ValueError(f"{pack}/{graph}: --config {cfg.name} exports other initialisers than the pack holds: "
                             "give the --config the pack was exported from")
        for name, v in inits.items():
            if v.shape != theirs[name].shape or not np.array_equal(v, theirs[name]):
                raise ValueError(f"{pack}/{graph}: initialiser {name} differs from the pack's after recovery: "
                                 f"the pack was not exported from --config {cfg.name}")
            compared += 1
    return compared


def trained_steps(manifest: Dict) -> int:
    """The transformer steps the pack's description records (train.py writes them), else 0."""
    m = re.search(r"Training: (\d+) transformer steps", manifest.get("description", ""))
    return int(m.group(1)) if m else 0


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pack", default="models/flowedit-tiny", help="the exported pack folder")
    p.add_argument("--config", default="flowedit-tiny", choices=sorted(CONFIGS), help="the config it was exported from")
    p.add_argument("--run", required=True, help="run folder to write (must not hold checkpoints yet)")
    p.add_argument("--step", type=int, default=None, help="transformer step to record (default: the pack's own)")
    args = p.parse_args(argv)

    manifest_path = os.path.join(args.pack, "manifest.json")
    if not os.path.exists(manifest_path):
        raise SystemExit(f"{args.pack} is not a pack folder (no manifest.json); give --pack the folder train.py exported")
    existing = [f for f in ("vae.pt", "dit.pt", "dit-ema.pt", "latent_stats.json") if os.path.exists(os.path.join(args.run, f))]
    if existing:
        raise SystemExit(f"{args.run} already holds {', '.join(existing)}; give --run a new folder")
    torch.set_num_threads(2)
    cfg = CONFIGS[args.config]()
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    try:
        tables = graph_tables(args.pack)
        models, missing = recover(args.pack, cfg, tables)
        compared = verify(models, cfg, args.pack, tables)
    except ValueError as e:
        raise SystemExit(f"{e} (a pack exported before the fused operators of flowedit_model/layers.py "
                         f"is read after python/reexport_pack.py {args.pack})")
    step = trained_steps(manifest) if args.step is None else args.step
    os.makedirs(args.run, exist_ok=True)
    te = models.text_encoder.state_dict() if models.text_encoder is not None else {}
    if models.vae is not None:
        torch.save({"vae": models.vae.state_dict(), "step": 0, "from_pack": args.pack}, os.path.join(args.run, "vae.pt"))
        stats = {"shift": manifest["latent"]["shift"], "scale": manifest["latent"]["scale"]}
        with open(os.path.join(args.run, "latent_stats.json"), "w", encoding="utf-8") as f:
            json.dump(stats, f)
    torch.save({"ema_dit": models.transformer.state_dict(), "ema_te": te, "step": step},
               os.path.join(args.run, "dit-ema.pt"))
    print(json.dumps({"run": args.run, "step": step, "initialisers_compared": compared,
                      "parameters_not_in_any_graph": {k: v for k, v in missing.items() if v}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
