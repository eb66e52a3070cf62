"""Train the built-in model (flowedit-tiny) on the scene world and export its pack.

    .venv/bin/python python/train.py --run runs/flowedit-tiny --export models/flowedit-tiny

Stages, each resumable from its checkpoint in --run (rerun the same command to continue):
  1. vae: the autoencoder on random crops of rendered frames (L1 + MSE reconstruction).
  2. stats: latent shift and scale (mean and 1/std of the VAE means over rendered scenes).
  3. dit: the transformer and the text encoder with the rectified-flow loss
     ‖v_θ(x_t, t, c) − (ε − x_0)‖², x_t = (1 − t) x_0 + t ε, t ~ logit-normal(0, 1) (SD3),
     captions dropped with probability --drop so classifier-free guidance works, EMA weights.
  3b. polish (optional, --polish-minutes): the decoder alone, encoder frozen (or, with
      --polish-encoder-anchor β, the encoder too, held near its latents: flowedit_train/latent_anchor.py).
  4. export: the pack (ONNX graphs, tokenizer.json, manifest.json) from the EMA weights.
Budgets: --vae-steps/--dit-steps, and --vae-minutes/--dit-minutes as wall-clock limits.
Runs on the CPU (Debian's torch) or with --device cuda. --config flowedit-tiny-wide trains the wider
transformer on the same VAE (docs/built-in-model.md); a run folder belongs to one config, and a
checkpoint of another is refused.
"""

import argparse
import copy
import dataclasses
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch.nn import functional as F

from flowedit_model import CONFIGS, build_models
from flowedit_model.dit import DiT, load_dit_state
from flowedit_model.layers import load_fitting
from flowedit_model.tokenizer import build_vocab, encode_with
from flowedit_model.vae import load_vae_state
from flowedit_scenes.render_batch import SHAPE_NAMES, draw, draw_objects, draw_shapes, union
from flowedit_train.caption_contrast import contrast_loss, object_cells, own_x_t
from flowedit_train.data import SceneStream, batch, loader
from flowedit_train.flow_path import on_path
from flowedit_train.latent_anchor import anchor_penalty, frozen_anchor
from flowedit_train.object_focus import recon_loss, training_crops
from flowedit_train.shape_aux import ShapeAux

PACK_NAME = "flowedit-tiny: the built-in scene-world model"


def pack_description(cfg) -> str:
    return (
        f"A small rectified-flow DiT ({cfg.layers} layers, width {cfg.dim}, joint text)"
        + (f" with a {cfg.conv_head_channels}-channel convolutional head," if cfg.conv_head_channels else "")
        + f" over the {cfg.latent_channels}-channel latent of a small convolutional VAE (spatial compression "
        f"{cfg.spatial_compression}), with a {cfg.text_layers}-layer text encoder, trained by "
        "flowedit's own recipe (python/train.py) on procedurally rendered scenes of coloured shapes "
        "on patterned backgrounds (scenes/world.json): 128×128 stills and clips of up to 17 frames."
    )


def log(run: str, record: Dict) -> None:
    record = {"time": round(time.time(), 1), **record}
    print(json.dumps(record), flush=True)
    with open(os.path.join(run, "log.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def save(path: str, state: Dict) -> None:
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: str, dev) -> Dict:
    """A checkpoint this recipe wrote. torch 2.6+ loads weights only by default and refuses the
    optimiser state's Python objects; these files are the run's own, so they are unpickled whole."""
    return torch.load(path, map_location=dev, weights_only=False)


def load_weights(module: torch.nn.Module, weights: Dict, path: str, config: str) -> bool:
    """Weights a checkpoint holds, into a module of --config; refused with what to do when the
    checkpoint was trained with another configuration (its tensors do not fit). A transformer
    saved without the config's convolutional head gets the head at zero (returns True: grown)."""
    try:
        if isinstance(module, DiT):
            return load_dit_state(module, weights)
        load_fitting(module, weights)
        return False
    except KeyError as misfit:
        raise SystemExit(
            f"{path} was trained with another configuration than --config {config} "
            f"({misfit.args[0]}). Train this configuration in a new --run folder "
            "(copy vae.pt and latent_stats.json into it to keep the VAE), or give the --config that run "
            "was trained with."
        )


def load_vae(vae: torch.nn.Module, path: str, dev, config: str) -> Tuple[Dict, bool]:
    """A run's vae.pt into the VAE of --config: (the checkpoint, whether refine blocks were grown).
    A VAE of another configuration (e.g. another number of latent channels) is refused with what to do."""
    state = load(path, dev)
    try:
        return state, load_vae_state(vae, state["vae"])
    except RuntimeError as misfit:
        raise SystemExit(
            f"{path} holds a VAE of another configuration than --config {config} ({misfit}). Give the --config "
            "that run was trained with, or train this configuration's VAE in a new --run folder."
        )


def load_ema(models, run: str, config: str, hint: str) -> int:
    """A run's EMA transformer and text encoder (dit-ema.pt, else dit.pt) into `models`; returns their
    step. A run without either is refused with `hint`, what to do."""
    slim = os.path.join(run, "dit-ema.pt")
    path = slim if os.path.exists(slim) else os.path.join(run, "dit.pt")
    if not os.path.exists(path):
        raise SystemExit(f"{run} holds no transformer checkpoint (dit-ema.pt or dit.pt): {hint}")
    state = load(path, "cpu")
    load_weights(models.transformer, state["ema_dit"], path, config)
    load_weights(models.text_encoder, state["ema_te"], path, config)
    return state["step"]


def half(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Floating-point tensors in half precision: the EMA-only checkpoint of a larger transformer
    stays under the 16 MiB a remote machine's files may each take (loading casts them back)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2)."""
    mse = torch.mean((x.clamp(-1, 1) - y) ** 2).item()
    return 10 * math.log10(4.0 / max(mse, 1e-12))


# ---------------------------------------------------------------- stage 1: VAE
def train_vae(args, cfg, models, dev) -> None:
    path = os.path.join(args.run, "vae.pt")
    if args.vae_minutes <= 0 and os.path.exists(path):  # kept as it is (a resumed run's latents)
        return
    vae = models.vae.to(dev).train()
    opt = torch.optim.Adam(vae.parameters(), lr=args.vae_lr)
    step = 0
    if os.path.exists(path):
        state, grown = load_vae(vae, path, dev, args.config)
        # a grown decoder, or one recovered from a pack (unpack.py, no optimiser), starts a fresh optimiser
        if not grown and "opt" in state:
            opt.load_state_dict(state["opt"])
        step = state["step"]
    if step >= args.vae_steps:
        return
    focus = args.vae_object_weight > 0  # crops around objects, loss weighted to them (flowedit_train/object_focus.py)
    data = iter(loader(SceneStream(1000 + step, args.size, args.vae_batch, 0.0, 1, (1,), masks=focus), args.workers))
    gen = torch.Generator().manual_seed(step)
    start, last_save = time.time(), time.time()
    while step < args.vae_steps and (time.time() - start) < args.vae_minutes * 60:
        pixels, _, *covered = next(data)  # [B, 3, 1, H, W] (and with focus the objects' coverage [B, 1, 1, H, W])
        # several crops per render (rendering costs more than training): [B, 3, 1, c, c] each, with their coverage
        crops = [training_crops(pixels, covered[0] if focus else None, args.vae_crop, args.vae_object_crops, gen)
                 for _ in range(args.vae_crops)]
        x = torch.cat([x_k for x_k, _ in crops]).to(dev)  # [k·B, 3, 1, c, c]
        cover = torch.cat([cover_k for _, cover_k in crops]).to(dev) if focus else None  # [k·B, 1, 1, c, c]
        mean = vae.encode_mean(x)  # [B, C, 1, c/s, c/s]
        rec = vae.decode(mean)  # [B, 3, 1, c, c]
        loss = recon_loss(rec, x, cover, args.vae_object_weight) + 1e-5 * mean.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            log(args.run, {"stage": "vae", "step": step, "loss": round(loss.item(), 5), "psnr": round(psnr(rec.detach(), x), 2)})
        if time.time() - last_save > args.save_every or step == args.vae_steps:
            save(path, {"vae": vae.state_dict(), "opt": opt.state_dict(), "step": step})
            last_save = time.time()
    save(path, {"vae": vae.state_dict(), "opt": opt.state_dict(), "step": step})


# ---------------------------------------------------------------- stage 1b: decoder polish
def polish_decoder(args, cfg, models, latent_scale: float, dev) -> None:
    """Fine-tunes the decoder alone (warm-up, then cosine learning rate to 0). The encoder, and so every
    latent the transformer learned from, stays as it is, so this may run after the DiT stage. With
    --polish-encoder-anchor β the encoder trains too, held near the latents it started from
    (flowedit_train/latent_anchor.py)."""
    path = os.path.join(args.run, "vae.pt")
    vae = models.vae.to(dev)
    state, _ = load_vae(vae, path, dev, args.config)
    beta = args.polish_encoder_anchor
    anchor = None
    if beta > 0:  # the drift is measured in the units of the run's latent scale (latent_stats.json, which stays)
        anchor = frozen_anchor(vae.encoder, state.get("anchor_encoder"))
        state["anchor_encoder"] = anchor.state_dict()
    vae.encoder.train(beta > 0)
    vae.decoder.train()
    for p_ in vae.encoder.parameters():
        p_.requires_grad_(beta > 0)
    opt = torch.optim.Adam([p_ for p_ in vae.parameters() if p_.requires_grad], lr=args.polish_lr)
    first = state.get("polish_step", 0)
    focus = args.polish_object_weight > 0  # flowedit_train/object_focus.py
    data = iter(loader(SceneStream(3000 + first, args.size, args.vae_batch, 0.0, 1, (1,), masks=focus), args.workers))
    gen = torch.Generator().manual_seed(7)
    start, step, last_save = time.time(), 0, time.time()

    def checkpoint() -> None:
        state["vae"], state["polish_step"] = vae.state_dict(), first + step
        save(path, state)

    budget = args.polish_minutes * 60
    while (elapsed := time.time() - start) < budget:
        for g in opt.param_groups:
            # a short warm-up (fresh Adam moments would jolt a decoder that is already trained),
            # then cosine to 0
            warm = min(1.0, elapsed / (0.05 * budget))
            g["lr"] = args.polish_lr * warm * 0.5 * (1 + math.cos(math.pi * elapsed / budget))
        pixels, _, *covered = next(data)  # [B, 3, 1, H, W] (and with focus the objects' coverage [B, 1, 1, H, W])
        x, cover = training_crops(pixels, covered[0] if focus else None, args.vae_crop * 2, args.polish_object_crops, gen)
        x = x.to(dev)  # [B, 3, 1, c, c]
        cover = cover.to(dev) if cover is not None else None  # [B, 1, 1, c, c]
        with torch.set_grad_enabled(anchor is not None):
            mean = vae.encode_mean(x)  # [B, C, 1, c/s, c/s]
        rec = vae.decode(mean)  # [B, 3, 1, c, c]
        loss = recon_loss(rec, x, cover, args.polish_object_weight)
        drift = None
        if anchor is not None:
            with torch.no_grad():
                anchor_mean = anchor(x)[0]  # [B, C, 1, c/s, c/s]
            drift = anchor_penalty(mean, anchor_mean, latent_scale)
            loss = loss + beta * drift
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            record = {"stage": "polish", "step": step, "loss": round(loss.item(), 5), "psnr": round(psnr(rec.detach(), x), 2)}
            if drift is not None:  # RMS latent drift from the anchor, in normalised units
                record["drift"] = round(math.sqrt(drift.item()), 4)
            log(args.run, record)
        if time.time() - last_save > args.save_every:  # an interrupted polish keeps its progress
            checkpoint()
            last_save = time.time()
    checkpoint()
    stats_path = os.path.join(args.run, "latent_stats.json")
    if os.path.exists(stats_path):  # refresh the recorded round-trip figure; shift and scale stay
        with open(stats_path, encoding="utf-8") as f:
            stats = json.load(f)
        if "vae_psnr" in stats:  # a folder made from a pack (unpack.py) has no figure to keep
            stats.setdefault("vae_psnr_before_polish", stats["vae_psnr"])
        os.remove(stats_path)
        fresh = latent_stats(args, cfg, models, dev)
        stats["vae_psnr"] = fresh["vae_psnr"]
        with open(stats_path, "w", encoding="utf-8") as f:
            json.dump(stats, f)


# ---------------------------------------------------------------- stage 2: latent statistics
@torch.no_grad()
def latent_stats(args, cfg, models, dev) -> Dict[str, float]:
    path = os.path.join(args.run, "latent_stats.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    vae = models.vae.to(dev).eval()
    rng = np.random.default_rng([3, 0])
    means, recs = [], []
    for _ in range(8):
        pixels, _ = batch(rng, args.size, 32, 1)  # [32, 3, 1, H, W]
        mean = vae.encode_mean(pixels.to(dev))  # [32, C, 1, H', W']
        means.append(mean.cpu())
        recs.append(psnr(vae.decode(mean).cpu(), pixels))
    z = torch.cat(means)
    stats = {"shift": z.mean().item(), "scale": 1.0 / z.std().item(), "vae_psnr": float(np.mean(recs))}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(stats, f)
    log(args.run, {"stage": "stats", **stats})
    return stats


# ---------------------------------------------------------------- stage 3: DiT + text encoder
class Tokenize:
    """caption -> token ids [L] of a config's vocabulary, built once (picklable, for the data
    processes); `empty` holds the empty prompt's ids [L]."""

    def __init__(self, cfg):
        self.vocab, self.max_tokens = build_vocab(cfg.vocab), cfg.max_tokens
        self.empty = torch.tensor(self(""), dtype=torch.int64)  # [L]

    def __call__(self, text: str) -> List[int]:
        return encode_with(self.vocab, text, self.max_tokens)


def tokens(captions: List[str], tokenize: Tokenize, drop: float, gen: torch.Generator,
           ids: Optional[torch.Tensor] = None) -> torch.Tensor:
    """input_ids [B, L]; each caption replaced by the empty prompt with probability drop. ids: the
    captions' ids when the data process has tokenised them already."""
    keep = torch.rand(len(captions), generator=gen) >= drop  # [B]
    if ids is None:
        ids = torch.tensor([tokenize(c) for c in captions], dtype=torch.int64)  # [B, L]
    return torch.where(keep[:, None], ids, tokenize.empty[None])  # [B, L]


class LatentEncoder:
    """pixels [B, 3, F, H, W] -> normalised latents (mean − shift) · scale (picklable)."""

    def __init__(self, vae, shift: float, scale: float):
        self.vae, self.shift, self.scale = vae, shift, scale

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        return (self.vae.encode_mean(pixels) - self.shift) * self.scale


def object_weights(cover: torch.Tensor, latent_shape, lam: float) -> torch.Tensor:
    """Loss weights 1 + λ·m at latent resolution, m the objects' coverage [B, 1, F, H, W]
    averaged over each latent cell and grown by one cell, so a shape's outline (where a circle
    and a square differ) counts with the inside. Objects cover a small part of a frame and the
    outline a smaller one, so under the plain mean a caption's shape word barely moves the loss
    (docs/built-in-model.md)."""
    b, _, f, h, w = latent_shape
    m = F.adaptive_avg_pool2d(cover.flatten(0, 2)[:, None], (h, w))  # [B·F, 1, H', W']
    m = F.max_pool2d(m, 3, stride=1, padding=1)  # [B·F, 1, H', W'] grown by one latent cell
    return 1.0 + lam * m.view(b, 1, f, h, w)  # [B, 1, F, H', W']


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema ← decay · ema + (1 − decay) · model, over all parameters at once (two kernels a step
    on a GPU instead of two per parameter)."""
    with torch.no_grad():
        e, p = list(ema.parameters()), [q.detach() for q in model.parameters()]
        torch._foreach_mul_(e, decay)
        torch._foreach_add_(e, p, alpha=1 - decay)


def device_batch(plan, dev, masks: bool, shapes: bool = False, objects: bool = False):
    """A batch's render plan drawn on the training device: (pixels [B, 3, F, H, W] in [-1, 1],
    coverage [B, 1, F, H, W] or None, per-shape coverage [B, P, F, H, W] or None, and with objects
    each object slot's coverage [B, F, S, H, W] or else None), the pixels the rendering processes
    would have sent."""
    per_shape = per_slot = None  # main() refuses asking for both
    if shapes:
        pixels, per_shape = draw_shapes(plan, dev)  # [B, F, H, W, 3], [B, P, F, H, W]
        cover = per_shape.sum(1, keepdim=True).clamp(max=1.0) if masks else None  # [B, 1, F, H, W]
    elif objects:
        pixels, per_slot = draw_objects(plan, dev)  # [B, F, H, W, 3], [B, F, S, H, W]
        cover = union(per_slot) if masks else None  # [B, 1, F, H, W]
    else:
        pixels, cover = draw(plan, dev, masks=masks)  # [B, F, H, W, 3], [B, 1, F, H, W]
    return pixels.permute(0, 4, 1, 2, 3) * 2.0 - 1.0, cover, per_shape, per_slot  # [B, 3, F, H, W]


def dit_lr(args, steps_run: int, elapsed: float, step_budget: int) -> float:
    """Linear warm-up over this run's first --warmup steps (a resumed run warms up again, so its
    first steps do not jump from where the last run's schedule ended); with --lr-schedule cosine,
    a cosine decay to lr · lr_floor over this run's budget: its wall-clock minutes or its
    step_budget steps (--dit-steps less the step it started from), whichever runs out first."""
    lr = args.lr * min(1.0, (steps_run + 1) / args.warmup)
    if args.lr_schedule == "cosine":
        frac = min(1.0, max(elapsed / (args.dit_minutes * 60), steps_run / max(1, step_budget)))
        lr *= args.lr_floor + (1 - args.lr_floor) * 0.5 * (1 + math.cos(math.pi * frac))
    return lr


def train_dit(args, cfg, models, stats, dev) -> None:
    path = os.path.join(args.run, "dit.pt")
    dit, te, vae = models.transformer.to(dev).train(), models.text_encoder.to(dev).train(), models.vae.to(dev).eval()
    ema_dit, ema_te = copy.deepcopy(dit).eval(), copy.deepcopy(te).eval()
    params = list(dit.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    step = 0
    slim = os.path.join(args.run, "dit-ema.pt")
    if os.path.exists(path):
        state = load(path, dev)
        grown = [load_weights(m, state[key], path, args.config)
                 for m, key in ((dit, "dit"), (te, "te"), (ema_dit, "ema_dit"), (ema_te, "ema_te"))]
        if any(grown):  # new parameters: a fresh optimiser (with its warm-up)
            log(args.run, {"stage": "dit", "grown": "convolutional head", "step": state["step"]})
        else:
            opt.load_state_dict(state["opt"])
        step = state["step"]
    elif os.path.exists(slim):  # the EMA weights alone (e.g. fetched from a remote run): the online
        state = load(slim, dev)  # weights start from them too, with a fresh optimiser (warm-up)
        grown = [load_weights(m, state[key], slim, args.config)
                 for m, key in ((dit, "ema_dit"), (ema_dit, "ema_dit"), (te, "ema_te"), (ema_te, "ema_te"))]
        step = state["step"]
        log(args.run, {"stage": "dit", "resumed_from": "dit-ema.pt", "step": step,
                       **({"grown": "convolutional head"} if any(grown) else {})})
    if step >= args.dit_steps:
        return
    aux = aux_opt = None
    if args.shape_aux > 0:  # training only: block --shape-aux-layer's tokens predict the shape map
        aux = ShapeAux(dit, args.shape_aux_layer, len(SHAPE_NAMES)).to(dev)
        aux_opt = torch.optim.AdamW(aux.parameters(), lr=args.lr, weight_decay=0.0)
        if os.path.exists(path) and "aux" in state:
            aux.load_state_dict(state["aux"])
            aux_opt.load_state_dict(state["aux_opt"])
    log(args.run, {"stage": "dit", "start_step": step, "config": args.config, "render_on": args.render_on,
                   "parameters": sum(p.numel() for p in params),
                   **({"shape_aux": args.shape_aux, "shape_aux_layer": args.shape_aux_layer} if aux else {})})
    frames = tuple(int(f) for f in args.clip_frames.split(","))
    shift, scale = stats["shift"], stats["scale"]
    encode = None
    on_device = args.render_on == "device"
    if args.encode_in_workers and not on_device:  # CPU: the data process renders and encodes
        encoder = copy.deepcopy(vae).cpu().eval()
        encode = LatentEncoder(encoder, shift, scale)
    weighted = args.object_weight > 0
    tokenize = Tokenize(cfg)
    stream = SceneStream(2000 + step, args.size, args.batch, args.clip_p, args.clip_batch, frames, encode,
                         masks=weighted and not on_device, scenes_only=on_device, tokenize=tokenize,
                         close_p=args.close_p, contrast=args.caption_contrast > 0)
    data = iter(loader(stream, args.workers))
    gen = torch.Generator().manual_seed(10_000 + step)
    # noise drawn where it is used (a CPU run keeps its one generator, and so its stream)
    noise_gen = gen if dev.type == "cpu" else torch.Generator(device=dev).manual_seed(20_000 + step)

    def checkpoint() -> None:
        save(path, {"dit": dit.state_dict(), "te": te.state_dict(), "ema_dit": ema_dit.state_dict(),
                    "ema_te": ema_te.state_dict(), "opt": opt.state_dict(), "step": step,
                    **({"aux": aux.state_dict(), "aux_opt": aux_opt.state_dict(), "aux_layer": args.shape_aux_layer}
                       if aux else {})})
        # the EMA weights alone (what export needs), small enough to fetch from a remote machine
        save(slim, {"ema_dit": half(ema_dit.state_dict()), "ema_te": half(ema_te.state_dict()), "step": step})

    first_step = step
    start, last_save, last_log = time.time(), time.time(), time.time()
    losses, mses, aux_losses, aux_accs, con_losses, con_gaps = [], [], [], [], [], []
    while step < args.dit_steps and (time.time() - start) < args.dit_minutes * 60:
        ids = shapes = negative = None
        if on_device:  # scenes as arrays, rendered here
            plan, captions, ids, negative = next(data)
            ids = torch.as_tensor(ids)  # [B, L]
            inputs, covered, shapes, per_slot = device_batch(plan, dev, weighted, aux is not None,
                                                             objects=negative is not None)  # [B, 3, F, H, W]
            cover = [covered]
            shapes = aux.cells(shapes) if aux is not None else None  # [B, P, F, H', W']
        else:
            inputs, captions, *cover = next(data)  # pixels [B, 3, F, H, W] or latents [B, C, F, H', W']
        if encode is None:
            with torch.no_grad():
                x0 = (vae.encode_mean(inputs.to(dev)) - shift) * scale  # [B, C, F, H', W']
        else:
            x0 = inputs.to(dev)  # [B, C, F, H', W']
        w = object_weights(cover[0].to(dev), x0.shape, args.object_weight) if weighted else None  # [B, 1, F, H', W']
        n_scenes = x0.shape[0]
        if args.repeat > 1:  # each scene twice, with its own t and noise: half the rendering
            x0 = x0.repeat(args.repeat, 1, 1, 1, 1)  # [r·B, C, F, H', W']
            captions = list(captions) * args.repeat
            ids = ids.repeat(args.repeat, 1) if ids is not None else None  # [r·B, L]
            w = w.repeat(args.repeat, 1, 1, 1, 1) if w is not None else None  # [r·B, 1, F, H', W']
            shapes = shapes.repeat(args.repeat, 1, 1, 1, 1) if shapes is not None else None  # [r·B, P, F, H', W']
        ids = tokens(captions, tokenize, args.drop, gen, ids).to(dev)  # [B, L]
        b = x0.shape[0]
        t = torch.sigmoid(torch.randn(b, generator=gen)).to(dev)  # [B] logit-normal
        eps = torch.randn(x0.shape, generator=noise_gen, device=noise_gen.device).to(dev)  # [B, C, F, H', W']
        xt, u = on_path(x0, t, eps)  # [B, C, F, H', W'] each; u the velocity target
        lr = dit_lr(args, step - first_step, time.time() - start, args.dit_steps - first_step)
        for g in opt.param_groups + (aux_opt.param_groups if aux else []):
            g["lr"] = lr
        if negative is None:
            v, _ = dit(xt, t, te(ids))  # [B, C, F, H', W']
        else:  # the first repeat's scenes once more under their negative captions (caption_contrast.py), on
            # the flow loss's x_t, or on one of their own at large t, run under the true captions as well
            own = args.caption_contrast_t > 0
            n = n_scenes
            t_con, xt_con, u_con = (own_x_t(x0[:n], args.caption_contrast_t, gen, noise_gen) if own
                                    else (t[:n], xt[:n], u[:n]))  # [n], [n, C, F, H', W'] x2
            passes = ([(xt, t, ids)] + ([(xt_con, t_con, ids[:n])] if own else [])
                      + [(xt_con, t_con, torch.as_tensor(negative[0]).to(dev))])  # (x_t, t, token ids) each
            xs, ts, cs = (torch.cat(part) for part in zip(*passes))  # [B + (2)n, ...]
            v_all, _ = dit(xs, ts, te(cs))  # [B + (2)n, C, F, H', W']
            v, v_neg = v_all[:b], v_all[-n:]  # [B, C, F, H', W'], [n, C, F, H', W']
            v_pos = v_all[b:b + n] if own else v[:n]  # [n, C, F, H', W']
        se = (v - u) ** 2  # [B, C, F, H', W']
        loss = se.mean() if w is None else (w * se).mean() / w.mean()
        total = loss
        if negative is not None:
            m = object_cells(per_slot, torch.as_tensor(negative[1]), cfg.spatial_compression)  # [n, 1, F, H', W']
            keep = (ids[:n_scenes] != tokenize.empty.to(dev)[None]).any(1)  # [n]: caption not dropped
            con_loss, con_gap = contrast_loss(v_pos, v_neg, u_con, m, keep, args.caption_contrast_margin)
            total = total + args.caption_contrast * con_loss
            con_losses.append(con_loss.detach())
            con_gaps.append(con_gap)
        if aux is not None:
            aux_loss, aux_acc = aux.loss(xt, shapes)
            total = total + args.shape_aux * aux_loss
            aux_losses.append(aux_loss.detach())
            aux_accs.append(aux_acc)
            aux_opt.zero_grad(set_to_none=True)
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if aux is not None:
            aux_opt.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        ema_update(ema_dit, dit, decay)
        ema_update(ema_te, te, decay)
        losses.append(loss.detach())  # read at the log, so a GPU step does not wait for its loss
        if weighted:  # the plain mean is the loss itself otherwise
            mses.append(se.mean().detach())
        if step % 50 == 0:
            record = {"stage": "dit", "step": step, "loss": round(torch.stack(losses).double().mean().item(), 5),
                      "s_per_step": round((time.time() - last_log) / len(losses), 3)}
            if weighted:  # the plain mean too, comparable with unweighted runs
                record["mse"] = round(torch.stack(mses).double().mean().item(), 5)
            if con_losses:  # caption contrast (not in "loss"): its hinge and the shape word's gap on the objects
                record["contrast"] = round(torch.stack(con_losses).double().mean().item(), 5)
                record["contrast_gap"] = round(torch.stack(con_gaps).double().mean().item(), 5)
            if aux is not None:  # the shape map's cross-entropy (not in "loss")
                record["aux"] = round(torch.stack(aux_losses).double().mean().item(), 5)
                record["aux_shape_acc"] = round(torch.stack(aux_accs).double().mean().item(), 4)
            log(args.run, record)
            last_log = time.time()
            losses, mses, aux_losses, aux_accs, con_losses, con_gaps = [], [], [], [], [], []
        if time.time() - last_save > args.save_every:
            checkpoint()
            last_save = time.time()
    checkpoint()


# ---------------------------------------------------------------- stage 4: export
def export(args, cfg, stats, dev) -> None:
    from flowedit_model.export import export_pack  # needs onnx, which a training machine may lack

    models = build_models(cfg, 0)
    load_vae(models.vae, os.path.join(args.run, "vae.pt"), "cpu", args.config)
    # with --vae-only the transformer and text encoder keep their initial weights
    step = 0 if args.vae_only else load_ema(
        models, args.run, args.config, "train the transformer first (--stage dit), or add --vae-only to export the VAE "
        "with an untrained transformer for measuring the VAE alone (npm run eval -- --only vae)")
    models.eval()
    cfg = dataclasses.replace(cfg, latent_shift=stats["shift"], latent_scale=stats["scale"])
    defaults = json.loads(args.defaults) if args.defaults else defaults_for(cfg.layers)
    export_pack(models, cfg, args.export, cfg.name, PACK_NAME, defaults,
                description=pack_description(cfg) + (" VAE only: the transformer is untrained." if args.vae_only
                                                    else f" Training: {step} transformer steps."), license="Apache-2.0")
    log(args.run, {"stage": "export", "out": args.export, "bytes": pack_bytes(args.export), "dit_step": step})


def pack_bytes(folder: str) -> int:
    """The size of an exported pack: its files' bytes."""
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))


def defaults_for(layers: int) -> Dict:
    """The manifest defaults of a transformer with `layers` blocks ("all layers" is every one of them).

    Measured on the benchmark's held-out stills (docs/lab/built-in-model.md, "Defaults"): edits keep the
    background best with light guidance and context shared at every step; swaps draw the new object
    more often with strong guidance against the source prompt (so the guidance scales what the
    target prompt changes) and the source's keys inside the mask removed; an edit inside the mask
    its prompts give (autoMask θ 0.4, then the swap settings) beats an edit everywhere.
    """
    every = list(range(layers))
    return {"steps": 20, "solver": "fireflow", "guidance": 4.0, "shareLayers": every,
            "shareSteps": 0.5, "fit": "pad",
            "tasks": {"edit": {"guidance": 2.0, "shareSteps": 1.0, "autoMask": 0.4},
                      # layer sets and sharing ranges measured by `flowedit layers --sweep --write`
                      # (docs/built-in-model.md); rerun it after training the pack further
                      "swap": {"guidance": 10.0, "guideAgainst": "source", "shareSteps": 0.5, "maskBias": -10000.0,
                               "shareLayers": [0, 1, 2, 3]},
                      "recolor": {"shareLayers": [1, 2, 3, 4], "shareSteps": 0.2},
                      "insert": {"shareLayers": every, "shareSteps": 1.0},
                      "remove": {"shareLayers": every, "shareSteps": 0.2},
                      "auto-edit": {"shareLayers": [2], "shareSteps": 0.2}}}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="flowedit-tiny", choices=sorted(CONFIGS))
    p.add_argument("--run", default="runs/flowedit-tiny", help="checkpoint folder (resumed when present)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--workers", type=int, default=1, help="data-rendering processes")
    p.add_argument("--encode-in-workers", type=int, default=1, help="1: data processes also VAE-encode (CPU runs)")
    p.add_argument("--render-on", choices=["workers", "device"], default="workers",
                   help="transformer stage: 'workers' renders in the data processes (numpy); 'device' has them "
                        "draw scene descriptions only and renders each batch on --device (torch), for a GPU run")
    p.add_argument("--size", type=int, default=128, help="rendered frame size (pixels)")
    p.add_argument("--vae-steps", type=int, default=4000)
    p.add_argument("--vae-minutes", type=float, default=1e9, help="wall-clock limit; 0 keeps an existing vae.pt as it is")
    p.add_argument("--vae-batch", type=int, default=12)
    p.add_argument("--vae-crop", type=int, default=32)
    p.add_argument("--vae-crops", type=int, default=4, help="crops per rendered frame")
    p.add_argument("--vae-lr", type=float, default=1e-3)
    p.add_argument("--vae-object-weight", type=float, default=0,
                   help="λ: VAE stage (encoder and decoder) with crops around objects and the loss weighted 1 + λ on their "
                        "pixels, grown by 2 px (flowedit_train/object_focus.py); 0 = random crops, plain loss")
    p.add_argument("--vae-object-crops", type=float, default=0.5,
                   help="with --vae-object-weight, the share of crops centred on an object")
    p.add_argument("--dit-steps", type=int, default=100_000)
    p.add_argument("--dit-minutes", type=float, default=1e9)
    p.add_argument("--batch", type=int, default=16, help="rendered stills per step")
    p.add_argument("--repeat", type=int, default=2, help="copies of each rendered scene per step (own t and noise)")
    p.add_argument("--clip-p", type=float, default=0.2, help="share of steps that train on clips")
    p.add_argument("--clip-batch", type=int, default=2)
    p.add_argument("--close-p", type=float, default=0.0,
                   help="share of the still batches drawn as close-ups: 2 × --batch one-object stills seen twice "
                        "as close and rendered at half --size (flowedit_scenes.close_up)")
    p.add_argument("--clip-frames", default="5,9,17")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                   help="cosine: decay over this run's --dit-minutes or its steps up to --dit-steps, whichever ends first")
    p.add_argument("--lr-floor", type=float, default=0.1, help="cosine: final lr as a share of --lr")
    p.add_argument("--object-weight", type=float, default=0.0,
                   help="λ: weigh the loss by 1 + λ·(object coverage, grown by one latent cell); 0 = plain mean")
    p.add_argument("--shape-aux", type=float, default=0.0,
                   help="λ: add λ × the cross-entropy of a shape map predicted from block --shape-aux-layer's tokens "
                        "(flowedit_train/shape_aux.py; needs --render-on device); 0 = none")
    p.add_argument("--shape-aux-layer", type=int, default=3, help="the block whose output tokens predict the shape map")
    p.add_argument("--caption-contrast", type=float, default=0.0,
                   help="λ: add λ × a hinge asking that the caption's shape word explain an object's latent cells "
                        "better than another shape word does (flowedit_train/caption_contrast.py; needs --render-on "
                        "device); 0 = none")
    p.add_argument("--caption-contrast-margin", type=float, default=0.1,
                   help="δ: the gap in the object's loss at which the hinge stops pushing")
    p.add_argument("--caption-contrast-t", type=float, default=0.0,
                   help="t_lo: run the contrast on an x_t of its own at t ~ U[t_lo, 1], where the outline must come "
                        "from the shape word (two passes more per scene); 0 = on the flow loss's x_t and t (one more)")
    p.add_argument("--drop", type=float, default=0.1, help="caption dropout for CFG")
    p.add_argument("--ema", type=float, default=0.998)
    p.add_argument("--save-every", type=float, default=120, help="seconds between checkpoints")
    p.add_argument("--export", default=None, help="write the pack here when training ends")
    p.add_argument("--defaults", default=None, help="manifest defaults (JSON; default: the built-in model's, every layer of --config for 'all')")
    p.add_argument("--polish-minutes", type=float, default=0, help="decoder-only fine-tuning after the DiT stage")
    p.add_argument("--polish-lr", type=float, default=3e-4)
    p.add_argument("--polish-object-weight", type=float, default=0,
                   help="λ: polish loss weighted 1 + λ on the objects (grown by 2 px), crops drawn around them (flowedit_train/object_focus.py)")
    p.add_argument("--polish-encoder-anchor", type=float, default=0,
                   help="β > 0: the polish trains the encoder too, penalising β · its latents' squared drift from where it "
                        "started, in normalised units (flowedit_train/latent_anchor.py); 0 keeps the encoder frozen")
    p.add_argument("--polish-object-crops", type=float, default=0.5,
                   help="with --polish-object-weight, the share of crops centred on an object")
    p.add_argument("--vae-only", action="store_true",
                   help="export: the VAE with an untrained transformer and text encoder, to measure a VAE before "
                        "any transformer is trained on it (npm run eval -- --only vae); such a pack cannot edit")
    p.add_argument("--stage", default="all", choices=["all", "vae", "dit", "polish", "export"])
    args = p.parse_args(argv)

    if args.shape_aux > 0 and args.render_on != "device":
        p.error("--shape-aux needs the per-shape coverage only --render-on device draws: add --render-on device "
                "(it renders on --device, the CPU included)")
    if args.caption_contrast > 0 and args.render_on != "device":
        p.error("--caption-contrast needs each object's coverage, which only --render-on device draws: add "
                "--render-on device (it renders on --device, the CPU included)")
    if not 0 <= args.caption_contrast_t < 1:
        p.error(f"--caption-contrast-t must be in [0, 1) (t_lo of U[t_lo, 1]), got {args.caption_contrast_t}")
    if args.caption_contrast > 0 and args.shape_aux > 0:
        p.error("--caption-contrast and --shape-aux cannot be combined: the shape map reads the transformer's tokens of "
                "one pass, and the contrast runs a second; choose one")
    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision("high")  # TF32 matmuls on CUDA; no effect on the CPU
    os.makedirs(args.run, exist_ok=True)
    cfg = CONFIGS[args.config]()
    dev = torch.device(args.device)
    models = build_models(cfg, 0)
    if args.stage in ("all", "vae"):
        train_vae(args, cfg, models, dev)
    vae_path = os.path.join(args.run, "vae.pt")
    if not os.path.exists(vae_path):
        raise SystemExit(f"{args.run} holds no vae.pt: train the VAE first (--stage vae or all), or point --run at a run "
                         "folder that has one (python/unpack.py makes one from a pack)")
    load_vae(models.vae, vae_path, dev, args.config)
    stats = latent_stats(args, cfg, models, dev)
    if args.stage in ("all", "dit"):
        train_dit(args, cfg, models, stats, dev)
    if args.polish_minutes > 0 and args.stage in ("all", "polish"):
        polish_decoder(args, cfg, models, stats["scale"], dev)
    if args.export and args.stage in ("all", "export"):
        export(args, cfg, stats, dev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
