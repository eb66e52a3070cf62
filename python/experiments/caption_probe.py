"""How much each part of a caption moves the transformer's rectified-flow loss.

    .venv/bin/python python/experiments/caption_probe.py [--run runs/flowedit-tiny] [--scenes 48] [--seed 0]

On one-object held-out-style scenes (numpy seeds [PROBE_STREAM, seed], never drawn in training)
it noises each latent x_0 to x_t = (1 − t) x_0 + t ε for a few t and computes the loss
‖v_θ(x_t, t, c) − (ε − x_0)‖² with the same ε under four captions c: the true one, the true one
with the object's shape word changed, with its colour word changed, and the empty caption.
A model that has learned what a word means predicts worse when it is wrong, so the gap
loss(changed) − loss(true) says how much the model uses that word; a gap near 0 means it ignores
it. Prints one JSON line per t and a last line with the gaps averaged over t.

--shape-map also reports, for a run trained with train.py --shape-aux, how well the shape-map
head in its dit.pt reads each object's shape from the middle tokens of the EMA transformer under
the true caption: the share of object cells (mostly covered) given the right shape, per t. At
large t the noise hides the object, so a right shape there comes from the caption's shape word.

--sheet out.png also writes what the model makes of each noised latent under the true caption:
one row per t of the one-step estimates x̂_0 = x_t − t·v_θ(x_t, t, c), decoded, under a first row
of the source's VAE round trip, for the first --sheet-scenes scenes (columns).
"""

import argparse
import json
import os
import sys
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # python/: the recipe's packages and train.py

from flowedit_model import CONFIGS, build_models
from flowedit_model.tokenizer import encode
from flowedit_model.vae import load_vae_state
from flowedit_scenes import caption, render, sample_scene
from flowedit_scenes.world import OBJECT_COLOURS, SHAPES
from flowedit_scenes.render_batch import SHAPE_NAMES, draw_shapes, plan
from flowedit_train.data import to_tensor
from experiments.shape_aux import ShapeAux
from train import load, load_weights

PROBE_STREAM = 7  # training draws from stream 1, the benchmark from 2, the samples from 4
TIMES = (0.2, 0.4, 0.6, 0.8, 0.9)
KINDS = ("true", "shape", "colour", "empty")


def changed(scene: Dict, kind: str, i: int) -> str:
    """The caption of a one-object scene with one word changed (a different word per scene i)."""
    obj = scene["objects"][0]
    if kind == "empty":
        return ""
    if kind == "shape":
        others = [s for s in SHAPES if s != obj["shape"]]
        obj = {**obj, "shape": others[i % len(others)]}
    elif kind == "colour":
        others = [c for c in OBJECT_COLOURS if c not in (obj["colour"], scene["background"]["colour"])]
        obj = {**obj, "colour": others[i % len(others)]}
    return caption({**scene, "objects": [obj]})


def main(argv: List[str] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="flowedit-tiny", choices=sorted(CONFIGS))
    p.add_argument("--run", default="runs/flowedit-tiny", help="run folder: vae.pt, latent_stats.json, dit-ema.pt")
    p.add_argument("--scenes", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sheet", default=None, help="PNG of the one-step estimates x̂_0 per t (rows) and scene (columns)")
    p.add_argument("--sheet-scenes", type=int, default=6)
    p.add_argument("--shape-map", action="store_true", help="also score the run's shape-map head (train.py --shape-aux)")
    args = p.parse_args(argv)
    for name in ("vae.pt", "latent_stats.json", "dit-ema.pt"):
        if not os.path.exists(os.path.join(args.run, name)):
            p.error(f"{args.run} has no {name}: give --run the folder train.py trained into")
    torch.set_num_threads(args.threads)
    cfg = CONFIGS[args.config]()
    models = build_models(cfg, 0)
    load_vae_state(models.vae, load(os.path.join(args.run, "vae.pt"), "cpu")["vae"])
    weights = os.path.join(args.run, "dit-ema.pt")
    state = load(weights, "cpu")
    load_weights(models.transformer, state["ema_dit"], weights, args.config)
    load_weights(models.text_encoder, state["ema_te"], weights, args.config)
    with open(os.path.join(args.run, "latent_stats.json"), encoding="utf-8") as f:
        stats = json.load(f)
    shape_map = None
    if args.shape_map:
        full = os.path.join(args.run, "dit.pt")
        aux_state = load(full, "cpu") if os.path.exists(full) else {}
        if "aux" not in aux_state:
            p.error(f"{args.run} holds no shape-map head (dit.pt of a run trained with --shape-aux)")
        shape_map = ShapeAux(models.transformer, aux_state["aux_layer"], len(SHAPE_NAMES))
        shape_map.load_state_dict(aux_state["aux"])

    rng = np.random.default_rng([PROBE_STREAM, args.seed])
    scenes = [sample_scene(rng, 1, count=1) for _ in range(args.scenes)]
    pixels = torch.stack([to_tensor(render(s, (128, 128))) for s in scenes])  # [N, 3, 1, H, W]
    cells = shape_map.cells(draw_shapes(plan(scenes, (128, 128)))[1]) if shape_map else None  # [N, P, 1, h, w]
    ids = {k: torch.tensor([encode(changed(s, k, i), cfg.vocab, cfg.max_tokens) for i, s in enumerate(scenes)])
           for k in KINDS}  # each [N, L]
    gen = torch.Generator().manual_seed(args.seed)
    gaps: Dict[str, List[float]] = {k: [] for k in KINDS[1:]}
    shown = min(args.sheet_scenes, len(scenes))
    decode = lambda z: models.vae.decode(z / stats["scale"] + stats["shift"])  # [n, C, 1, h, w] -> [n, 3, 1, H, W]
    with torch.no_grad():
        x0 = (models.vae.encode_mean(pixels) - stats["shift"]) * stats["scale"]  # [N, C, 1, h, w]
        rows = [decode(x0[:shown])] if args.sheet else []  # each [n, 3, 1, H, W]
        text = {k: models.text_encoder(v) for k, v in ids.items()}  # each [N, L, D]
        for t in TIMES:
            eps = torch.randn(x0.shape, generator=gen)  # [N, C, 1, h, w]
            xt = (1 - t) * x0 + t * eps  # [N, C, 1, h, w]
            tt = torch.full((len(scenes),), t)  # [N]
            loss = {}
            for k in KINDS:
                v, _ = models.transformer(xt, tt, text[k])  # [N, C, 1, h, w]
                loss[k] = float(((v - (eps - x0)) ** 2).mean())
                if k == "true" and args.sheet:
                    rows.append(decode((xt - t * v)[:shown]))  # x̂_0 [n, 3, 1, H, W]
                if k == "true" and shape_map is not None:
                    read = float(shape_map.loss(xt, cells)[1])
            for k in gaps:
                gaps[k].append(loss[k] - loss["true"])
            print(json.dumps({"t": t, "loss": {k: round(v, 5) for k, v in loss.items()},
                              **({"shape_map_right": round(read, 4)} if shape_map is not None else {})}))
    if args.sheet:
        write_sheet(args.sheet, torch.stack(rows))
    print(json.dumps({"step": state["step"], "mean_gap": {k: round(float(np.mean(v)), 5) for k, v in gaps.items()}}))
    return 0


def write_sheet(path: str, rows: torch.Tensor) -> None:
    """rows [R, n, 3, 1, H, W] in [-1, 1] -> one PNG, R tiles high and n wide."""
    from PIL import Image  # only for the sheet (Debian's python3-pil)

    r, n, _, _, h, w = rows.shape
    tiles = ((rows[:, :, :, 0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # [R, n, 3, H, W]
    grid = tiles.permute(0, 3, 1, 4, 2).reshape(r * h, n * w, 3)  # [R·H, n·W, 3]
    Image.fromarray(grid.numpy()).save(path)


if __name__ == "__main__":
    sys.exit(main())
