"""The transformer stage of a pixel-space config (flowedit-pixel, flowedit-pixel-32): train.py runs it
for a config without a VAE (docs/built-in-model.md, "The pixel-space recipe").

    .venv/bin/python python/train.py --config flowedit-pixel-32 --size 32 --run runs/pixel-32 --export models/pixel-32

The rectified-flow loss of train.py on the pixels themselves (x_0 in [-1, 1]), with
  - the enlarged-object mix and the object-weighted loss (flowedit_train/pixel_data.py);
  - the pooled caption in the conditioning and adaLN-Zero (the config's pooled_dim and zero_init);
  - on CUDA: bfloat16 autocast and fused attention (F.scaled_dot_product_attention), training only;
  - with --render-on device, scenes drawn as render plans by the data processes and rendered on the training
    device (render_batch); with --render-on workers the data processes render them with numpy (faster on a CPU
    at these sizes);
  - the in-run check every --check-every seconds (flowedit_train/pixel_check.py), logged to log.jsonl with
    the samples seen; its time is logged and not counted in --dit-minutes.
"""

import os
import time
from contextlib import nullcontext

import torch

import train
from flowedit_model.layers import fused_attention
from flowedit_scenes.render_batch import draw
from flowedit_train.data import loader
from flowedit_train.pixel_check import InRunCheck
from flowedit_train.pixel_data import PixelStream, enlarged_share, object_weights, shared_share, weighted_flow_loss


def pixels_on(plan, dev):
    """A render plan drawn on the device: x_0 [B, 3, F, H, W] in [-1, 1] and the objects' coverage [B, 1, F, H, W]."""
    img, cover = draw(plan, dev, masks=True)  # [B, F, H, W, 3], [B, 1, F, H, W]
    return img.permute(0, 4, 1, 2, 3) * 2.0 - 1.0, cover


def resolve(option: str, dev) -> bool:
    """--bf16 / --fused-attention: 'auto' is on for CUDA only."""
    return option == "on" or (option == "auto" and dev.type == "cuda")


def train_pixel(args, cfg, models, stats, dev) -> None:
    """The transformer and text encoder of a pixel-space config (models.vae is None)."""
    if args.size % cfg.image_multiple:
        raise SystemExit(f"--size {args.size} is not a multiple of {args.config}'s patch ({cfg.image_multiple}): "
                         f"give --size {cfg.default_size[0]}, the size it is made for")
    run = train.open_dit(args, models, dev)
    if run.step >= args.dit_steps:
        return
    bf16, fused = resolve(args.bf16, dev), resolve(args.fused_attention, dev)
    tokenize = train.Tokenize(cfg)
    check = InRunCheck(args.size, args.check_count, args.check_steps, args.check_guidance, tokenize, dev)
    state = run.resumed or {}
    samples = int(state.get("samples", 0))
    train.log(args.run, {"stage": "dit", "start_step": run.step, "config": args.config, "size": args.size,
                         "parameters": sum(p.numel() for p in run.params), "bf16": bf16, "fused_attention": fused,
                         "enlarged": args.enlarged, "enlarged_late": args.enlarged_late, "object_lambda": args.object_lambda,
                         "batch": args.batch, "clip_p": args.clip_p})
    if args.check_every > 0:
        train.log(args.run, {"stage": "ceiling", "size": args.size, "captions": args.check_count, **check.ceiling()})
        train.log(args.run, {"stage": "chance", "size": args.size, "captions": args.check_count, **check.chance()})
    share = shared_share(enlarged_share(0.0, args.enlarged, args.enlarged_late))
    frames = tuple(int(f) for f in args.clip_frames.split(","))
    on_device = args.render_on == "device"
    stream = PixelStream(2000 + run.step, args.size, args.batch, args.clip_p, args.clip_batch, frames, tokenize, share,
                         rendered=not on_device)
    data = iter(loader(stream, args.workers))
    gen, noise_gen = train.generators(run.step, dev)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    budget = args.dit_minutes * 60
    first, book = run.step, train.DitLog(args.run)
    trained, checking = 0.0, 0.0  # seconds of training and of checks
    start = last_check = last_save = time.time()
    checked_at = None  # the step of the last check
    with fused_attention(fused):
        while run.step < args.dit_steps and trained < budget and time.time() - start < args.wall_minutes * 60:
            progress = max(trained / budget, (run.step - first) / max(1, args.dit_steps - first))
            share.value = enlarged_share(progress, args.enlarged, args.enlarged_late)
            scenes, captions, ids = next(data)
            x0, cover = pixels_on(scenes, dev) if on_device else (scenes[0].to(dev), scenes[1].to(dev))  # [B, 3, F, H, W], [B, 1, F, H, W]
            w = object_weights(cover, args.object_lambda) if args.object_lambda > 0 else None  # [B, 1, F, H, W]
            ids = train.tokens(captions, tokenize, args.drop, gen, torch.as_tensor(ids)).to(dev)  # [B, L]
            t, xt, u = train.flow_point(x0, gen, noise_gen, dev)
            train.set_lr(run.opt.param_groups, train.dit_lr(args, run.step - first, trained, args.dit_steps - first))
            with amp:
                text, pooled = run.te(ids)  # [B, L, D], [B, P]
                v, _ = run.dit(xt, t, text, pooled=pooled)  # [B, 3, F, H, W]
            loss = weighted_flow_loss(v, u, w)
            train.optimise(args, run, loss)
            samples += x0.shape[0]
            book.add("loss", loss.detach())
            book.write_at(run.step)
            now = time.time()
            trained = now - start - checking
            if now - last_save > args.save_every:
                train.checkpoint(run, {"samples": samples})
                last_save = time.time()
            if args.check_every > 0 and now - last_check >= args.check_every:
                checking += in_run_check(args, run, check, bf16, samples, trained)
                last_check, checked_at = time.time(), run.step
        if args.check_every > 0 and checked_at != run.step:  # the curve ends where training ends
            checking += in_run_check(args, run, check, bf16, samples, trained)
    train.checkpoint(run, {"samples": samples})
    train.log(args.run, {"stage": "dit", "end_step": run.step, "samples": samples, "train_s": round(trained, 1),
                         "check_s": round(checking, 1)})


def in_run_check(args, run, check: InRunCheck, bf16: bool, samples: int, trained: float) -> float:
    """Scores the EMA weights on the check's captions, logs the figures; returns the seconds it took."""
    t0 = time.time()
    figures = check.run(run.ema_dit, run.ema_te, bf16)
    took = time.time() - t0
    train.log(args.run, {"stage": "check", "step": run.step, "samples": samples, "train_s": round(trained, 1),
                         "check_s": round(took, 1), **{k: round(v, 4) for k, v in figures.items()}})
    if args.keep_check_weights:  # the EMA weights of each check point, to score them again later
        folder = os.path.join(args.run, "checks")
        os.makedirs(folder, exist_ok=True)
        train.save(os.path.join(folder, f"ema-{samples:010d}.pt"),
                   {"ema_dit": train.half(run.ema_dit.state_dict()), "ema_te": train.half(run.ema_te.state_dict()),
                    "step": run.step, "samples": samples})
    return took
