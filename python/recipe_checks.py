"""Checks of the training recipe's model surgery, run by test/model/recipe.test.ts.

    .venv/bin/python python/recipe_checks.py

Prints one JSON line of findings; exits non-zero when a check fails.
- grow: a VAE state saved without decoder refine blocks loads into a config with them
  (load_vae_state reports the growth) and the decoder's output is unchanged;
- train: after two optimiser steps on the grown decoder its refine blocks are no longer the identity;
- refuse: a state that does not fit the config (unexpected keys) is refused;
- resume: a run folder holding only the EMA weights (dit-ema.pt, as a remote run brings back)
  continues from their step, and a VAE given no minutes (--vae-minutes 0) is kept byte for byte;
- object weights (experiments/trials.py): the loss weights of --object-weight λ are 1 + λ on the latent
  cells an object covers and their neighbours and 1 elsewhere, and a run with them trains (with rendered
  masks); experiments/caption_probe.py reads that run, reports a loss gap for each changed caption part and draws its
  sheet of one-step estimates (a round-trip row and one row per t, a column per scene);
- configs: the EMA-only checkpoint holds half-precision weights (the run's own dit.pt full ones);
  a checkpoint of one --config is refused by another with a message that says what to do; the
  wider built-in transformer (flowedit-tiny-wide) brings its EMA weights back in one file under
  16 MiB and exports a pack under 40 MB;
- VAE: the 8-channel config (flowedit-tiny-c8) refuses a 4-channel vae.pt with a message naming
  --config, and a run holding a VAE alone exports a pack with --vae-only (and without it is told so);
  the VAE stage with --vae-object-weight trains encoder and decoder on crops around objects;
- convolutional head: a transformer saved without the config's convolutional head loads with the head at zero
  and predicts exactly as before (stills and clips), training moves the head's last convolution,
  and a state that misfits elsewhere is still refused;
- polish focus: --polish-object-weight crops around objects and weighs their pixels 1 + λ, and a
  polish with it moves the decoder alone, also in a folder recovered from a pack; with
  --polish-encoder-anchor β the encoder trains too, anchored to the encoder it started from (kept
  through a resume), the nearer the larger β;
- render on device: a run whose data processes only draw scenes, rendered in the training process
  (--render-on device), trains to the same weights as a run whose data processes render them, with
  clips in its steps.
The shape map, the caption contrast and transfer.py are the trials of python/experiments/, checked here too.
"""

import contextlib
import dataclasses
import io
import hashlib
import json
import os
import shutil
import sys
import tempfile

import torch
from torch.nn import functional as F

from flowedit_model import CONFIGS, build_models
from flowedit_model.vae import load_vae_state
import train
from experiments import caption_probe, transfer, trials


def resume_from_ema() -> dict:
    """Train 3 steps, drop dit.pt, train on to step 5 with the VAE frozen in place."""
    with tempfile.TemporaryDirectory() as run:
        common = ["--config", "tiny", "--run", run, "--threads", "1", "--workers", "0", "--size", "32",
                  "--batch", "2", "--repeat", "1", "--clip-p", "0", "--vae-batch", "2", "--vae-crop", "16",
                  "--vae-crops", "1", "--save-every", "1e9"]
        train.main(common + ["--vae-steps", "2", "--dit-steps", "3"])

        def digest() -> str:
            with open(os.path.join(run, "vae.pt"), "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()

        vae_before = digest()
        os.remove(os.path.join(run, "dit.pt"))
        train.main(common + ["--vae-steps", "50", "--vae-minutes", "0", "--dit-steps", "5"])
        ema = torch.load(os.path.join(run, "dit-ema.pt"), map_location="cpu", weights_only=False)
        full = torch.load(os.path.join(run, "dit.pt"), map_location="cpu", weights_only=False)
        with open(os.path.join(run, "log.jsonl"), encoding="utf-8") as f:
            resumed = [json.loads(line) for line in f if "resumed_from" in line]
        return {"resumed_at": resumed[0]["step"] if resumed else None, "step_after": ema["step"],
                "vae_kept": digest() == vae_before,
                "slim_dtypes": sorted({str(v.dtype) for k in ("ema_dit", "ema_te") for v in ema[k].values()}),
                "full_dtypes": sorted({str(v.dtype) for v in full["dit"].values()})}


def config_checks() -> dict:
    """The wider transformer's files, and a checkpoint refused by a config it does not fit."""
    wide = build_models(CONFIGS["flowedit-tiny-wide"](), 0)
    small = build_models(CONFIGS["flowedit-tiny"](), 0)
    try:
        train.load_weights(wide.transformer, small.transformer.state_dict(), "run/dit-ema.pt", "flowedit-tiny-wide")
        refusal = ""
    except SystemExit as stop:
        refusal = str(stop)
    with tempfile.TemporaryDirectory() as tmp:
        slim = os.path.join(tmp, "dit-ema.pt")
        train.save(slim, {"ema_dit": train.half(wide.transformer.state_dict()),
                          "ema_te": train.half(wide.text_encoder.state_dict()), "step": 0})
        slim_bytes = os.path.getsize(slim)
        pack_bytes = export_bytes(wide, CONFIGS["flowedit-tiny-wide"](), os.path.join(tmp, "pack"))
    return {"refusal_names_config": "--config flowedit-tiny-wide" in refusal and "new --run folder" in refusal,
            "wide_slim_under_16MiB": slim_bytes < 16 * 2**20, "wide_pack_under_40MB": pack_bytes < 40e6,
            "wide_slim_bytes": slim_bytes, "wide_pack_bytes": pack_bytes}


def vae_checks() -> dict:
    """The 8-channel VAE config refuses a 4-channel vae.pt with what to do, and a run with a VAE alone
    exports a pack (--vae-only) or says how to, instead of failing on the missing transformer."""
    c8 = build_models(CONFIGS["flowedit-tiny-c8"](), 0)
    four = build_models(CONFIGS["flowedit-tiny"](), 0)
    with tempfile.TemporaryDirectory() as run:
        path = os.path.join(run, "vae.pt")
        train.save(path, {"vae": four.vae.state_dict(), "step": 0})
        try:
            train.load_vae(c8.vae, path, "cpu", "flowedit-tiny-c8")
            channels_refusal = ""
        except SystemExit as stop:
            channels_refusal = str(stop)
    def small(run: str) -> list:
        return ["--config", "tiny", "--run", run, "--threads", "1", "--workers", "0", "--size", "32",
                "--vae-batch", "2", "--vae-crop", "16", "--vae-crops", "1", "--vae-steps", "2", "--save-every", "1e9"]

    with tempfile.TemporaryDirectory() as run:
        common = small(run)
        train.main(common + ["--stage", "vae"])
        out = os.path.join(run, "pack")
        try:
            train.main(common + ["--stage", "export", "--export", out])
            export_refusal = ""
        except SystemExit as stop:
            export_refusal = str(stop)
        train.main(common + ["--stage", "export", "--export", out, "--vae-only"])
        with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    with tempfile.TemporaryDirectory() as run:  # the whole VAE trained with crops around objects
        train.main(small(run) + ["--vae-object-weight", "4", "--vae-object-crops", "1", "--stage", "vae"])
        after = train.load(os.path.join(run, "vae.pt"), "cpu")
        start = build_models(CONFIGS["tiny"](), 0).vae.state_dict()
        moved = {part: any(not torch.equal(v, after["vae"][k]) for k, v in start.items() if k.startswith(part))
                 for part in ("encoder.", "decoder.")}
    return {"channels_refused": "--config flowedit-tiny-c8" in channels_refusal and "[16, 48, 3, 3]" in channels_refusal,
            "no_transformer_says_vae_only": "--vae-only" in export_refusal,
            "vae_only_pack_channels": manifest["latent"]["channels"],
            "c8_latent_channels": CONFIGS["flowedit-tiny-c8"]().latent_channels,
            "object_focused_vae": {"step": after["step"], **moved}}


def export_bytes(models, cfg, out: str) -> int:
    from flowedit_model.export import export_pack  # needs onnx

    models.eval()
    export_pack(models, cfg, out, cfg.name, train.PACK_NAME, train.defaults_for(cfg.layers), description=train.pack_description(cfg))
    return train.pack_bytes(out)


def object_weight_checks() -> dict:
    """A square covering pixels 8..15 of a 32×32 frame covers latent cells 2..3 of 8×8 (s = 4);
    grown by one cell, 4×4 cells weigh 1 + λ."""
    cover = torch.zeros(1, 1, 1, 32, 32)  # [B, 1, F, H, W]
    cover[..., 8:16, 8:16] = 1
    w = trials.object_weights(cover, (1, 4, 1, 8, 8), 3.0)  # [B, 1, F, h, w]
    heavy = (w == 4.0).nonzero()[:, -2:].tolist()
    with tempfile.TemporaryDirectory() as run:
        trials.main(["--config", "tiny", "--run", run, "--threads", "1", "--workers", "0", "--size", "32",
                    "--batch", "2", "--repeat", "2", "--clip-p", "0", "--vae-batch", "2", "--vae-crop", "16",
                    "--vae-crops", "1", "--save-every", "1e9", "--vae-steps", "2", "--dit-steps", "2",
                    "--object-weight", "3"])
        step = torch.load(os.path.join(run, "dit-ema.pt"), map_location="cpu", weights_only=False)["step"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            caption_probe.main(["--config", "tiny", "--run", run, "--scenes", "2", "--threads", "1",
                                "--sheet", os.path.join(run, "sheet.png")])
        last = json.loads(out.getvalue().strip().splitlines()[-1])
        from PIL import Image

        with Image.open(os.path.join(run, "sheet.png")) as sheet:
            sheet_size = list(sheet.size)
    return {"probe_step": last["step"], "probe_gaps": sorted(last["mean_gap"]), "sheet_size": sheet_size, "light_min": float(w.min()), "heavy_cells": len(heavy),
            "heavy_box": [min(r for r, _ in heavy), max(r for r, _ in heavy), min(c for _, c in heavy), max(c for _, c in heavy)],
            "weighted_steps": step}


def conv_head_check() -> dict:
    """The convolutional head grown onto a trained transformer (tiny config, head 8 wide)."""
    from flowedit_model.dit import load_dit_state

    base = CONFIGS["tiny"]()
    plain = build_models(base, 0).transformer.eval()
    headed = build_models(dataclasses.replace(base, conv_head_channels=8), 1).transformer.eval()
    grown = load_dit_state(headed, plain.state_dict())
    text = torch.randn(2, base.max_tokens, base.text_dim)  # [B, L, D]
    t = torch.tensor([0.3, 0.8])  # [B]
    change = 0.0
    for frames in (1, 3):
        x = torch.randn(2, base.latent_channels, frames, 8, 8)  # [B, C, F, h, w]
        with torch.no_grad():
            change = max(change, (plain(x, t, text)[0] - headed(x, t, text)[0]).abs().max().item())
    headed.train()
    opt = torch.optim.Adam(headed.parameters(), lr=1e-2)
    for _ in range(2):
        x = torch.randn(2, base.latent_channels, 1, 8, 8)  # [B, C, F, h, w]
        loss = headed(x, t, text)[0].pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    state = plain.state_dict()
    state.pop("final.linear.bias")
    try:
        load_dit_state(headed, state)
        refused = False
    except KeyError:
        refused = True
    return {"grown": grown, "max_output_change": change,
            "head_moved": headed.conv_head.conv3.weight.abs().sum().item() > 0, "misfit_refused": refused}


def twin_runs(tmp: str, common: list, names: tuple) -> tuple:
    """Two run folders under tmp sharing one freshly trained VAE (and its latent statistics), for
    transformer runs that should differ only in what a check changes."""
    first, second = (os.path.join(tmp, n) for n in names)
    train.main(common + ["--run", first, "--vae-steps", "2", "--dit-steps", "0"])
    return first, share_vae(first, second)


def share_vae(run: str, other: str) -> str:
    """A new run folder `other` holding run's VAE and latent statistics alone."""
    os.makedirs(other)
    for name in ("vae.pt", "latent_stats.json"):
        with open(os.path.join(run, name), "rb") as src, open(os.path.join(other, name), "wb") as dst:
            dst.write(src.read())
    return other


def device_runs(tmp: str, clip_p: str, name: str) -> tuple:
    """The arguments of a small run that renders on its device, and two run folders under tmp from
    one VAE: one trained 50 plain steps, and `name`, untrained, for the option a check tries."""
    common = ["--config", "tiny", "--threads", "1", "--workers", "0", "--size", "32", "--batch", "2",
              "--repeat", "2", "--clip-p", clip_p, "--clip-batch", "2", "--clip-frames", "5", "--vae-batch", "2",
              "--vae-crop", "16", "--vae-crops", "1", "--save-every", "1e9", "--render-on", "device"]
    plain, other = twin_runs(tmp, common, ("plain", name))
    with contextlib.redirect_stdout(io.StringIO()):
        train.main(common + ["--run", plain, "--vae-minutes", "0", "--dit-steps", "50"])
    return common, plain, other


def train_refuses(argv: list) -> bool:
    """Whether experiments/trials.py refuses these arguments before training."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            trials.main(argv)
        return False
    except SystemExit:
        return True


def refused_on_workers(common: list, run: str, option: list) -> bool:
    """Whether experiments/trials.py refuses `option` when the batches are not rendered on the device."""
    return train_refuses(common[:-2] + ["--run", run] + option)


def render_on_device_check() -> dict:
    """Three transformer steps of the recipe (stills and clips) with each way of rendering,
    from one VAE: the largest difference between the two runs' weights."""
    with tempfile.TemporaryDirectory() as tmp:
        common = ["--config", "tiny", "--threads", "1", "--workers", "0", "--size", "32", "--batch", "2",
                  "--repeat", "1", "--clip-p", "0.5", "--clip-batch", "2", "--clip-frames", "5", "--vae-batch", "2",
                  "--vae-crop", "16", "--vae-crops", "1", "--save-every", "1e9", "--encode-in-workers", "0"]
        first, second = twin_runs(tmp, common, ("workers", "device"))
        for run, where in ((first, "workers"), (second, "device")):
            train.main(common + ["--run", run, "--vae-minutes", "0", "--dit-steps", "3", "--render-on", where])
        a, b = (torch.load(os.path.join(r, "dit.pt"), map_location="cpu", weights_only=False) for r in (first, second))
        diff = max((a[k][n] - b[k][n]).abs().max().item() for k in ("dit", "te") for n in a[k])
        return {"steps": [a["step"], b["step"]], "max_weight_difference": diff}


def unpack_check() -> dict:
    """A pack exported from known weights, recovered into a run folder by unpack.py: the weights
    come back exactly, with the pack's step; the run trains on from them; a used folder and a pack
    of another config are refused."""
    import unpack

    cfg = CONFIGS["tiny"]()
    models = build_models(cfg, 5)
    with tempfile.TemporaryDirectory() as tmp:
        from flowedit_model.export import export_pack  # needs onnx

        pack, run = os.path.join(tmp, "pack"), os.path.join(tmp, "run")
        export_pack(models, cfg, pack, cfg.name, train.PACK_NAME, train.defaults_for(cfg.layers),
                    description=train.pack_description(cfg) + " Training: 7 transformer steps.")
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet):
            unpack.main(["--pack", pack, "--config", "tiny", "--run", run])
        ema = torch.load(os.path.join(run, "dit-ema.pt"), map_location="cpu", weights_only=False)
        vae = torch.load(os.path.join(run, "vae.pt"), map_location="cpu", weights_only=False)
        pairs = [(models.transformer, ema["ema_dit"]), (models.text_encoder, ema["ema_te"]), (models.vae, vae["vae"])]
        diff = max((net.state_dict()[k] - state[k]).abs().max().item() for net, state in pairs for k in net.state_dict())
        keys_match = all(sorted(net.state_dict()) == sorted(state) for net, state in pairs)
        refusals = []
        for argv in (["--pack", pack, "--config", "tiny", "--run", run],
                     ["--pack", pack, "--config", "tiny-pixel", "--run", os.path.join(tmp, "other")]):
            try:
                with contextlib.redirect_stdout(quiet):
                    unpack.main(argv)
                refusals.append("")
            except SystemExit as stop:
                refusals.append(str(stop))
        train.main(["--config", "tiny", "--run", run, "--threads", "1", "--workers", "0", "--size", "32", "--batch", "2",
                    "--repeat", "1", "--clip-p", "0", "--save-every", "1e9", "--vae-steps", "2", "--vae-minutes", "0",
                    "--dit-steps", "9"])
        after = torch.load(os.path.join(run, "dit-ema.pt"), map_location="cpu", weights_only=False)["step"]
    return {"step": ema["step"], "keys_match": keys_match, "max_weight_difference": diff, "trained_on_to": after,
            "used_folder_refused": "new folder" in refusals[0], "other_config_refused": "--config tiny-pixel" in refusals[1]}


def shape_aux_check() -> dict:
    """draw_shapes: the per-shape coverage adds up to draw's union and puts each object in its
    shape's channel. A run with --shape-aux logs the shape map's loss, keeps the head in dit.pt
    only (the EMA weights, and so the pack, are the transformer's alone), resumes with it, trains
    the transformer to other weights than a run without it, and is refused without --render-on device;
    caption_probe.py --shape-map scores the head at every t."""
    import numpy as np
    from flowedit_scenes import sample_scene
    from flowedit_scenes.render_batch import SHAPE_NAMES, draw, draw_shapes, plan

    rng = np.random.default_rng([9, 0])
    scenes = [sample_scene(rng, frames=3) for _ in range(6)]
    p = plan(scenes, (64, 64))
    _, union = draw(p, "cpu", masks=True)  # [B, 1, F, H, W]
    _, per_shape = draw_shapes(p, "cpu")  # [B, P, F, H, W]
    centre_in_channel = []
    for (b, f, i), (cx, cy, _) in zip(p["where"].tolist(), p["geometry"].tolist()):
        k = SHAPE_NAMES.index(scenes[b]["objects"][i]["shape"])
        centre_in_channel.append(bool(per_shape[b, k, f, int(cy * 64), int(cx * 64)] > 0.9))
    with tempfile.TemporaryDirectory() as tmp:
        common, plain, aux = device_runs(tmp, "0.5", "aux")
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet):
            trials.main(common + ["--run", aux, "--vae-minutes", "0", "--dit-steps", "50", "--shape-aux", "1", "--shape-aux-layer", "1"])
            first = torch.load(os.path.join(aux, "dit.pt"), map_location="cpu", weights_only=False)
            trials.main(common + ["--run", aux, "--vae-minutes", "0", "--dit-steps", "52", "--shape-aux", "1", "--shape-aux-layer", "1"])
            caption_probe.main(["--config", "tiny", "--run", aux, "--scenes", "2", "--threads", "1", "--shape-map"])
        probed = [json.loads(line) for line in quiet.getvalue().splitlines() if line.startswith('{"t"')]
        a, b = (torch.load(os.path.join(r, "dit.pt"), map_location="cpu", weights_only=False) for r in (plain, aux))
        ema = torch.load(os.path.join(aux, "dit-ema.pt"), map_location="cpu", weights_only=False)
        with open(os.path.join(aux, "log.jsonl"), encoding="utf-8") as f:
            logged = [json.loads(line) for line in f if '"aux"' in line]
        refused = refused_on_workers(common, aux, ["--shape-aux", "1"])
    return {"coverage_sums_to_union": (per_shape.sum(1) - union[:, 0]).abs().max().item() < 1e-6,
            "centres_in_their_channel": f"{sum(centre_in_channel)}/{len(centre_in_channel)}",
            "aux_logged_at": [r["step"] for r in logged], "aux_loss_positive": bool(logged) and logged[0]["aux"] > 0,
            "head_in_dit_pt": "aux" in first and "aux_opt" in first,
            "head_resumed_and_moved": (first["aux"]["head.weight"] - b["aux"]["head.weight"]).abs().max().item() > 0
                                      and float(b["aux_opt"]["state"][0]["step"]) == 52 and b["step"] == 52,
            "ema_keys_as_plain": sorted(ema["ema_dit"]) == sorted(a["ema_dit"]),
            "transformer_changed_by_aux": max((first["dit"][k] - a["dit"][k]).abs().max().item() for k in a["dit"]) > 0,
            "workers_refused": refused,
            "probe_reads_head": len(probed) == 5 and all(0 <= r.get("shape_map_right", -1) <= 1 for r in probed)}


def caption_contrast_check() -> dict:
    """--caption-contrast: each negative caption differs from the true one in exactly one word, the
    chosen object's shape word changed to another shape; the chosen object's latent cells weigh its
    centre fully and the other objects' centres not at all; the hinge is the margin where the negative caption
    predicts as well as the true one, 0 where it is worse by the margin, and leaves out dropped
    captions; the stream draws the same scenes with and without negatives (clip batches carry none);
    a run with it logs the hinge and the gap, trains the transformer to other weights than a run
    without it, and is refused without --render-on device."""
    import numpy as np
    from flowedit_scenes import caption, object_position, sample_scene
    from flowedit_scenes.scene import ordered
    from flowedit_scenes.render_batch import draw_objects, plan
    from flowedit_scenes.world import SHAPES
    from experiments.caption_contrast import contrast_loss, negatives, object_cells, own_x_t
    from flowedit_train.data import SceneStream

    tokenize = train.Tokenize(CONFIGS["flowedit-tiny"]())  # 16 tokens: every caption whole
    words = {i: w for w, i in tokenize.vocab.items()}
    rng = np.random.default_rng([9, 1])
    scenes = [sample_scene(rng) for _ in range(12)]
    neg_ids, slots = negatives(scenes, np.random.default_rng([9, 2]), tokenize)
    one_shape_word = []
    for scene, ids, i in zip(scenes, neg_ids.tolist(), slots.tolist()):
        true = tokenize(caption(scene))
        changed = [k for k, (a, b) in enumerate(zip(true, ids)) if a != b]
        obj = scene["objects"][i]
        place = [k for k, w in enumerate(true) if words[w] in SHAPES][ordered(scene).index(obj)] if len(changed) == 1 else -1
        one_shape_word.append(len(changed) == 1 and changed[0] == place and words[ids[place]] in SHAPES
                              and words[ids[place]] != obj["shape"])
    p = plan(scenes, (128, 128))
    _, per_slot = draw_objects(p, "cpu")  # [B, F, S, H, W]
    m = object_cells(per_slot, torch.as_tensor(slots), 4)  # [B, 1, F, 32, 32]
    own, others = [], []
    for b, (scene, i) in enumerate(zip(scenes, slots.tolist())):
        for j, obj in enumerate(scene["objects"]):
            x, y = object_position(obj, 0, 1)
            at_centre = float(m[b, 0, 0, int(y * 32), int(x * 32)])  # the cell holding the object's centre
            (own if j == i else others).append(at_centre)
    u = torch.randn(2, 4, 1, 8, 8)  # [B, C, F, h, w]
    cells = torch.zeros(2, 1, 1, 8, 8)
    cells[..., 2:5, 2:5] = 1
    keep = torch.tensor([True, True])
    same, _ = contrast_loss(u + 0.3, u + 0.3, u, cells, keep, 0.1)
    apart, gap = contrast_loss(u, u + 1.0, u, cells, keep, 0.1)
    dropped, _ = contrast_loss(u + 0.3, u + 0.3, u, cells, torch.tensor([False, True]), 0.1)
    none_dropped, _ = contrast_loss(u + 0.3, u + 0.3, u, cells, torch.tensor([False, False]), 0.1)

    x0 = torch.randn(64, 4, 1, 8, 8)  # [n, C, F, h, w]
    gen = torch.Generator().manual_seed(3)
    t_own, xt_own, u_own = own_x_t(x0, 0.7, gen, gen)  # [n], [n, C, F, h, w] x2
    tt = t_own.view(-1, 1, 1, 1, 1)
    on_path = (xt_own - ((1 - tt) * x0 + tt * (u_own + x0))).abs().max().item()  # x_t' = (1 − t')x0 + t'ε', ε' = u' + x0

    def stream(contrast: bool) -> list:
        s = SceneStream(5, 32, 2, 0.5, 2, (5,), scenes_only=True, tokenize=tokenize,
                        negatives=negatives if contrast else None)
        batches = iter(s)
        return [next(batches) for _ in range(6)]

    with_neg, without = stream(True), stream(False)
    same_scenes = all(a[1] == b[1] for a, b in zip(with_neg, without))
    carried = [(int(b[0]["frames"]) == 1) == (b[3] is not None) for b in with_neg]
    with tempfile.TemporaryDirectory() as tmp:
        common, plain, con = device_runs(tmp, "0.3", "contrast")
        with contextlib.redirect_stdout(io.StringIO()):
            trials.main(common + ["--run", con, "--vae-minutes", "0", "--dit-steps", "50", "--caption-contrast", "1"])
        high = share_vae(plain, os.path.join(tmp, "high"))
        with contextlib.redirect_stdout(io.StringIO()):
            trials.main(common + ["--run", high, "--vae-minutes", "0", "--dit-steps", "50", "--caption-contrast", "1",
                                 "--caption-contrast-t", "0.7"])
        a, b, c = (torch.load(os.path.join(r, "dit.pt"), map_location="cpu", weights_only=False) for r in (plain, con, high))
        logged, logged_high = ([json.loads(line) for line in open(os.path.join(r, "log.jsonl"), encoding="utf-8")
                                if '"contrast"' in line] for r in (con, high))
        refused = refused_on_workers(common, con, ["--caption-contrast", "1"])
        t_one_refused = train_refuses(common + ["--run", high, "--caption-contrast", "1", "--caption-contrast-t", "1"])
    return {"one_shape_word_changed": f"{sum(one_shape_word)}/{len(one_shape_word)}",
            "chosen_centre_min": round(min(own), 3), "other_centres_max": round(max(others), 3),
            "hinge_when_equal": round(same.item(), 6), "hinge_when_apart": round(apart.item(), 6),
            "gap_when_apart": round(gap.item(), 6), "dropped_left_out": round(dropped.item(), 6),
            "all_dropped": round(none_dropped.item(), 6), "same_scenes": same_scenes,
            "negatives_on_stills_only": f"{sum(carried)}/{len(carried)}",
            "logged_at": [r["step"] for r in logged], "logged_hinge_positive": bool(logged) and logged[0]["contrast"] > 0,
            "transformer_changed": max((a["dit"][k] - b["dit"][k]).abs().max().item() for k in a["dit"]) > 0,
            "workers_refused": refused,
            "own_t_range": [round(t_own.min().item(), 3), round(t_own.max().item(), 3)], "own_x_t_on_path": on_path < 1e-5,
            "high_logged_at": [r["step"] for r in logged_high],
            "high_hinge_positive": bool(logged_high) and logged_high[0]["contrast"] > 0,
            "high_differs_from_shared": max((b["dit"][k] - c["dit"][k]).abs().max().item() for k in b["dit"]) > 0,
            "t_one_refused": t_one_refused}


def polish_focus_check() -> dict:
    """--polish-object-weight: crops centred on objects hold object pixels; the weighted loss is
    the plain L1 + L2 at λ = 0 and weighs an error on an object 1 + λ; a polish with it, in a
    folder whose latent statistics carry no round-trip figure (as unpack.py writes them), moves
    the decoder alone and keeps the shift and scale."""
    from flowedit_train.object_focus import object_crops, weighted_recon_loss

    gen = torch.Generator().manual_seed(0)
    pixels = torch.rand(4, 3, 1, 64, 64) * 2 - 1  # [B, 3, F, H, W]
    cover = torch.zeros(4, 1, 1, 64, 64)  # [B, 1, F, H, W]
    for i, (y, x) in enumerate([(0, 0), (50, 50), (0, 54), (30, 10)]):
        cover[i, ..., y : y + 10, x : x + 10] = 1
    crops, crop_cover = object_crops(pixels, cover, 16, 1.0, gen)  # [B, 3, 1, 16, 16], [B, 1, 1, 16, 16]
    rec = pixels + 0.1 * torch.randn_like(pixels)
    plain = (F.l1_loss(rec, pixels) + F.mse_loss(rec, pixels)).item()
    on_object = pixels + 0.1 * cover  # an error on the objects alone
    with tempfile.TemporaryDirectory() as tmp:
        common = ["--config", "tiny", "--threads", "1", "--workers", "0", "--size", "32", "--vae-batch", "2",
                  "--vae-crop", "16", "--vae-crops", "1", "--save-every", "1e9"]
        run = os.path.join(tmp, "run")
        with contextlib.redirect_stdout(io.StringIO()):
            train.main(common + ["--run", run, "--batch", "2", "--clip-p", "0", "--vae-steps", "2", "--dit-steps", "0"])
        stats_path = os.path.join(run, "latent_stats.json")
        with open(stats_path, encoding="utf-8") as f:
            stats = json.load(f)
        with open(stats_path, "w", encoding="utf-8") as f:
            json.dump({"shift": stats["shift"], "scale": stats["scale"]}, f)
        before = torch.load(os.path.join(run, "vae.pt"), map_location="cpu", weights_only=False)["vae"]
        with contextlib.redirect_stdout(io.StringIO()):
            train.main(common + ["--run", run, "--vae-minutes", "0", "--stage", "polish", "--polish-minutes", "0.02",
                                 "--polish-object-weight", "4"])
        after = torch.load(os.path.join(run, "vae.pt"), map_location="cpu", weights_only=False)
        with open(stats_path, encoding="utf-8") as f:
            polished_stats = json.load(f)
        anchored = anchored_polish(common, run, tmp, after["vae"])
    moved = {part: max((before[k] - after["vae"][k]).abs().max().item() for k in before if k.startswith(part + "."))
             for part in ("encoder", "decoder")}
    return {"crops_on_objects": int((crop_cover.flatten(1).sum(1) > 0).sum()),
            "plain_at_zero": abs(weighted_recon_loss(rec, pixels, cover, 0.0).item() - plain) < 1e-6,
            "object_error_weighs_more": weighted_recon_loss(on_object, pixels, cover, 4.0).item()
                                        > 2 * weighted_recon_loss(on_object, pixels, cover, 0.0).item(),
            "polish_steps": after.get("polish_step", 0), "encoder_moved": moved["encoder"] > 0, "decoder_moved": moved["decoder"] > 0,
            "stats_kept": polished_stats["shift"] == stats["shift"] and polished_stats["scale"] == stats["scale"] and "vae_psnr" in polished_stats,
            **anchored}


def anchored_polish(common: list, run: str, tmp: str, start: dict) -> dict:
    """--polish-encoder-anchor β: the encoder trains too; the anchor is the encoder the polish started
    from, kept through a resumed polish; a larger β keeps the latents nearer it."""
    from flowedit_train.latent_anchor import anchor_penalty

    def encoder_part(vae_state: dict) -> dict:
        return {k[len("encoder."):]: v for k, v in vae_state.items() if k.startswith("encoder.")}

    pixels = torch.rand(4, 3, 1, 32, 32) * 2 - 1  # [B, 3, F, H, W]
    start_encoder = encoder_part(start)
    encoder = build_models(CONFIGS["tiny"](), 0).vae.encoder.eval()
    encoder.load_state_dict(start_encoder)
    with torch.no_grad():
        start_mean = encoder(pixels)[0]  # [B, C, 1, h, w]
    drift, states = {}, {}
    for beta in ("0.01", "1000"):
        folder = os.path.join(tmp, f"anchored-{beta}")
        shutil.copytree(run, folder)
        argv = common + ["--run", folder, "--vae-minutes", "0", "--stage", "polish", "--polish-minutes", "0.02",
                         "--polish-lr", "3e-3", "--polish-encoder-anchor", beta]
        with contextlib.redirect_stdout(io.StringIO()):
            train.main(argv)
            first = torch.load(os.path.join(folder, "vae.pt"), map_location="cpu", weights_only=False)
            train.main(argv)  # resumed: the anchor stays the encoder the first polish started from
        states[beta] = torch.load(os.path.join(folder, "vae.pt"), map_location="cpu", weights_only=False)
        encoder.load_state_dict(encoder_part(states[beta]["vae"]))
        with torch.no_grad():
            drift[beta] = anchor_penalty(encoder(pixels)[0], start_mean, 1.0).item()
        states[beta]["first_anchor"] = first["anchor_encoder"]
    loose = states["0.01"]
    return {
        "anchored_encoder_moved": drift["0.01"] > 0,
        "anchor_is_start": all(torch.equal(v, start_encoder[k]) for k, v in loose["anchor_encoder"].items()),
        "anchor_kept_on_resume": all(torch.equal(loose["anchor_encoder"][k], loose["first_anchor"][k]) for k in loose["anchor_encoder"]),
        "tighter_anchor_drifts_less": drift["1000"] < drift["0.01"],
    }


def finer_patch_check(cfg, models):
    """A transformer moved onto patches half as wide (transfer.ends_for_finer_patches) computes, on a
    latent x, what the old one computes on x upsampled twice (nearest) and averaged back over each
    2 × 2 block: (the new patch embedding's shape, the largest difference)."""

    fine = dataclasses.replace(cfg, patch=(1, 1, 1))
    fine_models = build_models(fine, 8)
    m, back = transfer.ends_for_finer_patches(cfg, fine)  # [Pa, Pb], [Pb, Pa]
    fine_models.transformer.load_state_dict(transfer.mapped_ends(models.transformer.state_dict(), m, back))
    _, captions = transfer.scenes(1, 2, 32)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, cfg.latent_channels, 1, 8, 8, generator=gen)  # [B, C, F', H', W']
    t = torch.tensor([0.3, 0.8])  # [B]
    with torch.no_grad():
        text = models.text_encoder(train.tokens(captions, train.Tokenize(cfg), 0.0, gen))  # [B, L, D]
        v_fine, _ = fine_models.transformer(x, t, text)  # [B, C, F', H', W']
        up = x.repeat_interleave(2, dim=3).repeat_interleave(2, dim=4)  # [B, C, F', 2H', 2W']
        v_old, _ = models.transformer(up, t, text)  # [B, C, F', 2H', 2W']
        pooled = F.avg_pool3d(v_old, (1, 2, 2))  # [B, C, F', H', W']
    return list(fine_models.transformer.patch_embed.weight.shape), (v_fine - pooled).abs().max().item()


def transfer_check() -> dict:
    """transfer.py onto the same VAE gives the input map the identity and the loss the old model has,
    and the fitted read-out lowers it; onto a VAE of 8 latent channels it widens the patch embedding
    and fits a read-out better than a transformer as initialised; the written dit-ema.pt trains on from
    step 0, and a folder holding a transformer already, or a configuration that differs in more than its
    latent, is refused."""

    cfg = CONFIGS["tiny"]()
    models = build_models(cfg, 5)
    with tempfile.TemporaryDirectory() as tmp:
        old, new = os.path.join(tmp, "old"), os.path.join(tmp, "new")
        for run in (old, new):
            os.makedirs(run)
            torch.save({"vae": models.vae.state_dict(), "step": 2}, os.path.join(run, "vae.pt"))
            with open(os.path.join(run, "latent_stats.json"), "w", encoding="utf-8") as f:
                json.dump({"shift": 0.0, "scale": 1.0}, f)
        torch.save({"ema_dit": models.transformer.state_dict(), "ema_te": models.text_encoder.state_dict(), "step": 7},
                   os.path.join(old, "dit-ema.pt"))
        argv = ["--from", old, "--from-config", "tiny", "--run", new, "--config", "tiny", "--size", "32",
                "--fit-scenes", "32", "--check-scenes", "16", "--threads", "1"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            transfer.main(argv)
        losses = json.loads(out.getvalue().splitlines()[0])
        pixels, captions = transfer.scenes(1, 16, 32)
        own = transfer.flow_loss(models, transfer.encode(models, pixels, (0.0, 1.0)), captions, train.Tokenize(cfg), 7, 0.1)
        written = torch.load(os.path.join(new, "dit-ema.pt"), map_location="cpu", weights_only=False)
        embed = written["ema_dit"]["patch_embed.weight"].float()
        try:
            with contextlib.redirect_stdout(out):
                transfer.main(argv)
            refused = ""
        except SystemExit as stop:
            refused = str(stop)
        try:
            transfer.main(argv[:6] + ["--run", os.path.join(tmp, "pixel"), "--config", "tiny-pixel"])
            other = ""
        except SystemExit as stop:
            other = str(stop)
        train.main(["--config", "tiny", "--run", new, "--threads", "1", "--workers", "0", "--size", "32", "--batch", "2",
                    "--repeat", "1", "--clip-p", "0", "--save-every", "1e9", "--vae-minutes", "0", "--dit-steps", "2"])
        trained_to = torch.load(os.path.join(new, "dit-ema.pt"), map_location="cpu", weights_only=False)["step"]

        wide = dataclasses.replace(cfg, latent_channels=8)
        wide_models = build_models(wide, 6)
        found = []
        transfer.transfer((cfg, models), (wide, wide_models), (0.0, 1.0), (0.0, 1.0), 32, 16, 32, 0.1, 1e-3, found.append)
    fine, emulated = finer_patch_check(cfg, models)
    try:
        transfer.check_configs(cfg, dataclasses.replace(cfg, patch=(1, 2, 1)))
        uneven = ""
    except SystemExit as stop:
        uneven = str(stop)
    return {"finer_patches_emulate_old": emulated < 1e-5, "finer_embedding": fine,
            "uneven_patch_refused": "refines square patches" in uneven,
            "embedding_kept": (embed - models.transformer.patch_embed.weight.half().float()).abs().max().item() < 1e-4,
            "mapped_is_own_loss": abs(losses["loss_input_mapped"] - own) < 1e-3,
            "read_out_lowers_loss": losses["loss_read_out_fitted"] < losses["loss_input_mapped"],
            "from_step": written["transferred_from"]["step"], "step": written["step"], "trained_to": trained_to,
            "used_folder_refused": "already holds a transformer" in refused,
            "other_config_refused": "differ in spatial_compression" in other,
            "wide_embedding": list(wide_models.transformer.patch_embed.weight.shape),
            "wide_read_out_beats_initialised": found[0]["loss_read_out_fitted"] < found[0]["loss_initialised"]}


def main() -> int:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    base = dataclasses.replace(CONFIGS["tiny"](), vae=True, spatial_compression=4, vae_channels=16, vae_blocks=1, vae_refine_blocks=0)
    grown_cfg = dataclasses.replace(base, vae_refine_blocks=2)
    old = build_models(base, 0).vae.eval()
    new = build_models(grown_cfg, 1).vae.eval()
    grew = load_vae_state(new, old.state_dict())
    z = torch.randn(1, base.latent_channels, 2, 8, 8)  # [B, C, F, h, w]
    with torch.no_grad():
        same = (old.decode(z) - new.decode(z)).abs().max().item()  # over [B, 3, F, H, W]

    opt = torch.optim.Adam(new.decoder.parameters(), lr=1e-2)
    for _ in range(2):  # the first step moves conv2 off zero, the second reaches conv1 too
        x = torch.rand(1, 3, 1, 32, 32) * 2 - 1  # [B, 3, F, H, W]
        loss = F.mse_loss(new.decode(new.encode_mean(x)), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    moved = sum(b.conv2.weight.abs().sum().item() for b in new.decoder.refine)

    try:
        load_vae_state(old, new.state_dict())
        refused = False
    except RuntimeError:
        refused = True

    resume = resume_from_ema()
    weights = object_weight_checks()
    configs = config_checks()
    vae = vae_checks()
    on_device = render_on_device_check()
    head = conv_head_check()
    unpacked = unpack_check()
    shape_aux = shape_aux_check()
    polish = polish_focus_check()
    transferred = transfer_check()
    contrast = caption_contrast_check()
    found = {"caption_contrast": contrast, "transfer": transferred, "polish_focus": polish, "unpack": unpacked, "shape_aux": shape_aux, "render_on_device": on_device, "conv_head": head, "grew": grew, "max_output_change": same, "refine_weight_after_training": moved, "refused_unfitting": refused,
             "resume": resume, "object_weights": weights, "configs": configs, "vae": vae}
    print(json.dumps(found))
    ok = (grew and same == 0.0 and moved > 0 and refused
          and contrast == {"one_shape_word_changed": "12/12", "chosen_centre_min": 1.0, "other_centres_max": 0.0,
                           "hinge_when_equal": 0.1, "hinge_when_apart": 0.0, "gap_when_apart": 1.0, "dropped_left_out": 0.1,
                           "all_dropped": 0.0, "same_scenes": True, "negatives_on_stills_only": "6/6", "logged_at": [50],
                           "logged_hinge_positive": True, "transformer_changed": True, "workers_refused": True,
                           "own_t_range": contrast["own_t_range"], "own_x_t_on_path": True, "high_logged_at": [50],
                           "high_hinge_positive": True, "high_differs_from_shared": True, "t_one_refused": True}
          and 0.7 <= contrast["own_t_range"][0] and contrast["own_t_range"][1] < 1
          and transferred == {"finer_patches_emulate_old": True, "finer_embedding": [32, 4], "uneven_patch_refused": True,
                              "embedding_kept": True, "mapped_is_own_loss": True, "read_out_lowers_loss": True, "from_step": 7,
                              "step": 0, "trained_to": 2, "used_folder_refused": True, "other_config_refused": True, "wide_embedding": [32, 32],
                              "wide_read_out_beats_initialised": True}
          and polish == {"crops_on_objects": 4, "plain_at_zero": True, "object_error_weighs_more": True,
                         "polish_steps": polish["polish_steps"], "encoder_moved": False, "decoder_moved": True, "stats_kept": True,
                         "anchored_encoder_moved": True, "anchor_is_start": True, "anchor_kept_on_resume": True,
                         "tighter_anchor_drifts_less": True}
          and polish["polish_steps"] > 0
          and resume == {"resumed_at": 3, "step_after": 5, "vae_kept": True, "slim_dtypes": ["torch.float16"],
                         "full_dtypes": ["torch.float32"]}
          and on_device == {"steps": [3, 3], "max_weight_difference": 0.0}
          and head == {"grown": True, "max_output_change": 0.0, "head_moved": True, "misfit_refused": True}
          and unpacked == {"step": 7, "keys_match": True, "max_weight_difference": 0.0, "trained_on_to": 9,
                           "used_folder_refused": True, "other_config_refused": True}
          and shape_aux["coverage_sums_to_union"] and shape_aux["aux_logged_at"] == [50]
          and shape_aux["centres_in_their_channel"].split("/")[0] == shape_aux["centres_in_their_channel"].split("/")[1]
          and all(shape_aux[k] for k in ("aux_loss_positive", "head_in_dit_pt", "head_resumed_and_moved", "ema_keys_as_plain",
                                          "transformer_changed_by_aux", "workers_refused", "probe_reads_head"))
          and vae == {"channels_refused": True, "no_transformer_says_vae_only": True, "vae_only_pack_channels": 4,
                      "c8_latent_channels": 8, "object_focused_vae": {"step": 2, "encoder.": True, "decoder.": True}}
          and configs["refusal_names_config"] and configs["wide_slim_under_16MiB"] and configs["wide_pack_under_40MB"]
          and weights == {"probe_step": 2, "probe_gaps": ["colour", "empty", "shape"], "sheet_size": [256, 768], "light_min": 1.0, "heavy_cells": 16,
                          "heavy_box": [1, 4, 1, 4], "weighted_steps": 2})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
