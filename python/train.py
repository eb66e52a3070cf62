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
Transformer-stage trials the committed pack does not use are in experiments/trials.py (docs/lab).
Budgets: --vae-steps/--dit-steps, and --vae-minutes/--dit-minutes as wall-clock limits.
A config without a VAE (flowedit-pixel, flowedit-pixel-32) has no VAE stages: its transformer stage is
train_pixel.py's (the enlarged-object mix, the object-weighted loss, the in-run check).
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

from flowedit_model import CONFIGS, build_models
from flowedit_model.dit import DiT, load_dit_state
from flowedit_model.layers import load_fitting
from flowedit_model.tokenizer import build_vocab, encode_with
from flowedit_model.vae import load_vae_state
from flowedit_scenes.render_batch import draw
from flowedit_train.data import SceneStream, batch, loader
from flowedit_train.flow_path import on_path
from flowedit_train.latent_anchor import anchor_penalty, frozen_anchor
from flowedit_train.object_focus import recon_loss, training_crops

PACK_NAME = "flowedit-tiny: the built-in scene-world model"


def pack_description(cfg) -> str:
    if not cfg.vae:
        return (f"A small rectified-flow DiT ({cfg.layers} layers, width {cfg.dim}, joint text, the pooled caption in its "
                f"conditioning) on the pixels themselves (patches of {cfg.patch[1]} × {cfg.patch[2]} pixels), with a "
                f"{cfg.text_layers}-layer text encoder, trained by flowedit's own recipe (python/train.py) on procedurally "
                f"rendered scenes of coloured shapes on patterned backgrounds (scenes/world.json): "
                f"{cfg.default_size[0]}×{cfg.default_size[1]} stills and clips of up to {cfg.frames_max} frames.")
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


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema ← decay · ema + (1 − decay) · model, over all parameters at once (two kernels a step
    on a GPU instead of two per parameter)."""
    with torch.no_grad():
        e, p = list(ema.parameters()), [q.detach() for q in model.parameters()]
        torch._foreach_mul_(e, decay)
        torch._foreach_add_(e, p, alpha=1 - decay)


def device_pixels(plan, dev) -> torch.Tensor:
    """A batch's render plan drawn on the training device: pixels [B, 3, F, H, W] in [-1, 1], the
    pixels the rendering processes would have sent."""
    pixels, _ = draw(plan, dev, masks=False)  # [B, F, H, W, 3]
    return pixels.permute(0, 4, 1, 2, 3) * 2.0 - 1.0  # [B, 3, F, H, W]


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


@dataclasses.dataclass
class DitRun:
    """The transformer stage's networks, optimiser and step; `resumed` is the dit.pt it went on from."""
    dit: torch.nn.Module
    te: torch.nn.Module
    vae: torch.nn.Module
    ema_dit: torch.nn.Module
    ema_te: torch.nn.Module
    params: List[torch.nn.Parameter]
    opt: torch.optim.Optimizer
    step: int
    path: str  # dit.pt: everything, the optimiser included
    slim: str  # dit-ema.pt: the EMA weights alone, in half precision
    resumed: Optional[Dict] = None


def open_dit(args, models, dev) -> DitRun:
    """The networks on `dev`, resumed from the run's dit.pt (with its optimiser) or else its
    dit-ema.pt (the EMA weights alone, e.g. fetched from a remote run: the online weights start
    from them too, with a fresh optimiser and its warm-up). A checkpoint without the config's
    convolutional head gets the head at zero and a fresh optimiser."""
    path, slim = os.path.join(args.run, "dit.pt"), os.path.join(args.run, "dit-ema.pt")
    dit, te = models.transformer.to(dev).train(), models.text_encoder.to(dev).train()
    vae = models.vae.to(dev).eval() if models.vae is not None else None  # None in pixel space
    ema_dit, ema_te = copy.deepcopy(dit).eval(), copy.deepcopy(te).eval()
    params = list(dit.parameters()) + list(te.parameters())
    run = DitRun(dit, te, vae, ema_dit, ema_te, params, torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0), 0, path, slim)
    if os.path.exists(path):
        state = load(path, dev)
        grown = [load_weights(m, state[key], path, args.config)
                 for m, key in ((dit, "dit"), (te, "te"), (ema_dit, "ema_dit"), (ema_te, "ema_te"))]
        if any(grown):  # new parameters: a fresh optimiser (with its warm-up)
            log(args.run, {"stage": "dit", "grown": "convolutional head", "step": state["step"]})
        else:
            run.opt.load_state_dict(state["opt"])
        run.step, run.resumed = state["step"], state
    elif os.path.exists(slim):
        state = load(slim, dev)
        grown = [load_weights(m, state[key], slim, args.config)
                 for m, key in ((dit, "ema_dit"), (ema_dit, "ema_dit"), (te, "ema_te"), (ema_te, "ema_te"))]
        run.step = state["step"]
        log(args.run, {"stage": "dit", "resumed_from": "dit-ema.pt", "step": run.step,
                       **({"grown": "convolutional head"} if any(grown) else {})})
    return run


def dit_data(args, cfg, run: DitRun, stats, **options):
    """(batches, the encoder the data processes run or None, the tokenizer): a CPU run's data
    processes render and VAE-encode (--encode-in-workers); with --render-on device they only draw
    scene descriptions and tokenise their captions. `options` go to SceneStream (the trials')."""
    frames = tuple(int(f) for f in args.clip_frames.split(","))
    on_device = args.render_on == "device"
    encode = None
    if args.encode_in_workers and not on_device:
        encode = LatentEncoder(copy.deepcopy(run.vae).cpu().eval(), stats["shift"], stats["scale"])
    tokenize = Tokenize(cfg)
    stream = SceneStream(2000 + run.step, args.size, args.batch, args.clip_p, args.clip_batch, frames, encode,
                         scenes_only=on_device, tokenize=tokenize, **options)
    return iter(loader(stream, args.workers)), encode, tokenize


def generators(step: int, dev) -> Tuple[torch.Generator, torch.Generator]:
    """(captions dropped and t, noise ε): noise is drawn where it is used (a CPU run keeps its one
    generator, and so its stream)."""
    gen = torch.Generator().manual_seed(10_000 + step)
    return gen, (gen if dev.type == "cpu" else torch.Generator(device=dev).manual_seed(20_000 + step))


def clean_latents(inputs: torch.Tensor, encode, run: DitRun, stats, dev) -> torch.Tensor:
    """x_0 [B, C, F, H', W'], normalised: encoded here, unless the data process did it (encode)."""
    if encode is not None:
        return inputs.to(dev)  # [B, C, F, H', W']
    with torch.no_grad():
        return (run.vae.encode_mean(inputs.to(dev)) - stats["shift"]) * stats["scale"]  # [B, C, F, H', W']


def next_batch(args, data, encode, run: DitRun, stats, dev):
    """(x_0 [B, C, F, H', W'], captions, their ids [B, L] or None when not tokenised yet)."""
    ids = None
    if args.render_on == "device":  # scenes as arrays, rendered here
        plan, captions, ids, _ = next(data)
        ids = torch.as_tensor(ids)  # [B, L]
        inputs = device_pixels(plan, dev)  # [B, 3, F, H, W]
    else:
        inputs, captions = next(data)  # pixels [B, 3, F, H, W] or latents [B, C, F, H', W']
    return clean_latents(inputs, encode, run, stats, dev), captions, ids


def repeated(r: int, x0: torch.Tensor, captions: List[str], ids: Optional[torch.Tensor]):
    """Each scene r times, each copy with its own t and noise to come: a share of the rendering."""
    if r <= 1:
        return x0, captions, ids
    return (x0.repeat(r, 1, 1, 1, 1), list(captions) * r,  # [r·B, C, F, H', W']
            ids.repeat(r, 1) if ids is not None else None)  # [r·B, L]


def flow_point(x0: torch.Tensor, gen: torch.Generator, noise_gen: torch.Generator, dev):
    """t [B] logit-normal, x_t on the straight path and its velocity u = ε − x_0 [B, C, F, H', W']."""
    t = torch.sigmoid(torch.randn(x0.shape[0], generator=gen)).to(dev)  # [B]
    eps = torch.randn(x0.shape, generator=noise_gen, device=noise_gen.device).to(dev)  # [B, C, F, H', W']
    return (t, *on_path(x0, t, eps))


def set_lr(groups, lr: float) -> None:
    for g in groups:
        g["lr"] = lr


def optimise(args, run: DitRun, total: torch.Tensor, others=()) -> None:
    """One optimiser step on `total` (gradients clipped to norm 1; `others`: optimisers of training-only
    heads, stepped after), then the EMA weights."""
    for o in others:
        o.zero_grad(set_to_none=True)
    run.opt.zero_grad(set_to_none=True)
    total.backward()
    torch.nn.utils.clip_grad_norm_(run.params, 1.0)
    run.opt.step()
    for o in others:
        o.step()
    run.step += 1
    decay = min(args.ema, (1 + run.step) / (10 + run.step))
    ema_update(run.ema_dit, run.dit, decay)
    ema_update(run.ema_te, run.te, decay)


def checkpoint(run: DitRun, extra: Optional[Dict] = None) -> None:
    """dit.pt (with `extra`, the trials' heads), and the EMA weights alone (what export needs),
    small enough to fetch from a remote machine."""
    save(run.path, {"dit": run.dit.state_dict(), "te": run.te.state_dict(), "ema_dit": run.ema_dit.state_dict(),
                    "ema_te": run.ema_te.state_dict(), "opt": run.opt.state_dict(), "step": run.step, **(extra or {})})
    save(run.slim, {"ema_dit": half(run.ema_dit.state_dict()), "ema_te": half(run.ema_te.state_dict()), "step": run.step})


class DitLog:
    """Figures of each step (tensors, read only when logged, so a GPU step does not wait for them),
    logged as their means every 50 steps with the seconds a step took; "loss" comes first."""

    def __init__(self, run: str):
        self.run, self.figures, self.since = run, {}, time.time()

    def add(self, name: str, value: torch.Tensor, digits: int = 5) -> None:
        self.figures.setdefault(name, (digits, []))[1].append(value)

    def write_at(self, step: int) -> None:
        if step % 50:
            return
        losses = self.figures["loss"][1]
        record = {"stage": "dit", "step": step, "loss": round(torch.stack(losses).double().mean().item(), 5),
                  "s_per_step": round((time.time() - self.since) / len(losses), 3)}
        for name, (digits, values) in self.figures.items():
            if name != "loss":
                record[name] = round(torch.stack(values).double().mean().item(), digits)
        log(self.run, record)
        self.since, self.figures = time.time(), {}


def train_dit(args, cfg, models, stats, dev) -> None:
    """The transformer and the text encoder on the plain rectified-flow loss (the committed recipe)."""
    run = open_dit(args, models, dev)
    if run.step >= args.dit_steps:
        return
    log(args.run, {"stage": "dit", "start_step": run.step, "config": args.config, "render_on": args.render_on,
                   "parameters": sum(p.numel() for p in run.params)})
    data, encode, tokenize = dit_data(args, cfg, run, stats)
    gen, noise_gen = generators(run.step, dev)
    first, start, last_save, book = run.step, time.time(), time.time(), DitLog(args.run)
    while run.step < args.dit_steps and (time.time() - start) < args.dit_minutes * 60:
        x0, captions, ids = next_batch(args, data, encode, run, stats, dev)
        x0, captions, ids = repeated(args.repeat, x0, captions, ids)
        ids = tokens(captions, tokenize, args.drop, gen, ids).to(dev)  # [B, L]
        t, xt, u = flow_point(x0, gen, noise_gen, dev)
        set_lr(run.opt.param_groups, dit_lr(args, run.step - first, time.time() - start, args.dit_steps - first))
        v, _ = run.dit(xt, t, run.te(ids))  # [B, C, F, H', W']
        loss = ((v - u) ** 2).mean()
        optimise(args, run, loss)
        book.add("loss", loss.detach())
        book.write_at(run.step)
        if time.time() - last_save > args.save_every:
            checkpoint(run)
            last_save = time.time()
    checkpoint(run)

# ---------------------------------------------------------------- stage 4: export
def export(args, cfg, stats, dev) -> None:
    from flowedit_model.export import export_pack  # needs onnx, which a training machine may lack

    models = build_models(cfg, 0)
    if cfg.vae:
        load_vae(models.vae, os.path.join(args.run, "vae.pt"), "cpu", args.config)
    # with --vae-only the transformer and text encoder keep their initial weights
    step = 0 if args.vae_only else load_ema(
        models, args.run, args.config, "train the transformer first (--stage dit)" + (
            ", or add --vae-only to export the VAE with an untrained transformer for measuring the VAE alone "
            "(npm run eval -- --only vae)" if cfg.vae else ""))
    models.eval()
    if cfg.vae:  # pixel space: the latent is the image in [-1, 1] (shift 0, scale 1)
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

    Measured on the benchmark's held-out stills (docs/lab/built-in-model.md, "Sampling settings"): edits keep the
    background best with light guidance and context shared at every step; swaps draw the new object
    more often with strong guidance against the source prompt (so the guidance scales what the
    target prompt changes) and the source's keys inside the mask removed; an edit inside the mask
    its prompts give (autoMask θ 0.4, then the swap settings) beats an edit everywhere.
    """
    every = list(range(layers))

    def measured(ids):  # a set measured on the 8-layer transformer, kept to the layers this one has
        return [i for i in ids if i < layers] or every

    return {"steps": 20, "solver": "fireflow", "guidance": 4.0, "shareLayers": every,
            "shareSteps": 0.5, "fit": "pad",
            "tasks": {"edit": {"guidance": 2.0, "shareSteps": 1.0, "autoMask": 0.4},
                      # layer sets and sharing ranges measured by `flowedit layers --sweep --write`
                      # (docs/built-in-model.md); rerun it after training the pack further
                      "swap": {"guidance": 10.0, "guideAgainst": "source", "shareSteps": 0.5, "maskBias": -10000.0,
                               "shareLayers": measured([0, 1, 2, 3])},
                      "recolor": {"shareLayers": measured([1, 2, 3, 4]), "shareSteps": 0.2},
                      "insert": {"shareLayers": every, "shareSteps": 1.0},
                      "remove": {"shareLayers": every, "shareSteps": 0.2},
                      "auto-edit": {"shareLayers": measured([2]), "shareSteps": 0.2}}}


def parser() -> argparse.ArgumentParser:
    """The recipe's options (python/experiments/trials.py adds the trials' to them)."""
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
    p.add_argument("--clip-frames", default="5,9,17")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                   help="cosine: decay over this run's --dit-minutes or its steps up to --dit-steps, whichever ends first")
    p.add_argument("--lr-floor", type=float, default=0.1, help="cosine: final lr as a share of --lr")
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
    g = p.add_argument_group("pixel space (configs without a VAE: train_pixel.py)")
    g.add_argument("--enlarged", type=float, default=0.4,
                   help="share of stills drawn as one or two objects at up to twice the size on plain or gradient "
                        "backgrounds (flowedit_train/pixel_data.py)")
    g.add_argument("--enlarged-late", type=float, default=0.15, help="that share in the last quarter of the run")
    g.add_argument("--object-lambda", type=float, default=4.0,
                   help="λ: the flow loss weighted 1 + λ on the objects' pixels (grown by 1 px); 0 = the plain mean")
    g.add_argument("--check-every", type=float, default=90,
                   help="seconds of wall clock between in-run checks (flowedit_train/pixel_check.py); 0 = none")
    g.add_argument("--check-count", type=int, default=128, help="held-out captions the check samples")
    g.add_argument("--check-steps", type=int, default=10, help="Euler steps of the check's sampling")
    g.add_argument("--check-guidance", type=float, default=4.0, help="classifier-free guidance of the check (the pack's default)")
    g.add_argument("--keep-check-weights", action="store_true", help="keep the EMA weights of every check in <run>/checks")
    g.add_argument("--wall-minutes", type=float, default=1e9,
                   help="wall-clock limit of the transformer stage, checks included (--dit-minutes counts training alone)")
    g.add_argument("--bf16", choices=["auto", "on", "off"], default="auto", help="bfloat16 autocast in training (auto: on CUDA)")
    g.add_argument("--fused-attention", choices=["auto", "on", "off"], default="auto",
                   help="F.scaled_dot_product_attention in training (auto: on CUDA); the export always writes explicit attention")
    p.add_argument("--stage", default="all", choices=["all", "vae", "dit", "polish", "export"])
    return p


def main(argv: Optional[List[str]] = None, dit_stage=None) -> int:
    """Runs the stages --stage names; dit_stage: the transformer stage (train_dit, or a trial's)."""
    return run_stages(parser().parse_args(argv), dit_stage or train_dit)


def run_stages(args, dit_stage) -> int:
    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision("high")  # TF32 matmuls on CUDA; no effect on the CPU
    os.makedirs(args.run, exist_ok=True)
    cfg = CONFIGS[args.config]()
    dev = torch.device(args.device)
    models = build_models(cfg, 0)
    if not cfg.vae:  # pixel space: no VAE stages, the transformer stage of train_pixel.py
        return pixel_stages(args, cfg, models, dev, dit_stage)
    if args.stage in ("all", "vae"):
        train_vae(args, cfg, models, dev)
    vae_path = os.path.join(args.run, "vae.pt")
    if not os.path.exists(vae_path):
        raise SystemExit(f"{args.run} holds no vae.pt: train the VAE first (--stage vae or all), or point --run at a run "
                         "folder that has one (python/unpack.py makes one from a pack)")
    load_vae(models.vae, vae_path, dev, args.config)
    stats = latent_stats(args, cfg, models, dev)
    if args.stage in ("all", "dit"):
        dit_stage(args, cfg, models, stats, dev)
    if args.polish_minutes > 0 and args.stage in ("all", "polish"):
        polish_decoder(args, cfg, models, stats["scale"], dev)
    if args.export and args.stage in ("all", "export"):
        export(args, cfg, stats, dev)
    return 0


def pixel_stages(args, cfg, models, dev, dit_stage) -> int:
    """The stages of a pixel-space config: the transformer (train_pixel.py) and the export."""
    from train_pixel import train_pixel

    if dit_stage is not train_dit:
        raise SystemExit(f"the transformer-stage trials need a VAE config; {args.config} works in pixel space")
    if args.stage in ("vae", "polish") or args.polish_minutes > 0:
        raise SystemExit(f"{args.config} works in pixel space: it has no VAE to train or polish (--stage dit or export)")
    stats = {"shift": 0.0, "scale": 1.0}
    if args.stage in ("all", "dit"):
        train_pixel(args, cfg, models, stats, dev)
    if args.export and args.stage in ("all", "export"):
        export(args, cfg, stats, dev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
