"""How far a retrained VAE moved the latent space a transformer learned, and what that costs it.

    .venv/bin/python python/experiments/latent_drift.py --from runs/from-pack --vae runs/anchored

--from holds the trained run (vae.pt, latent_stats.json, dit-ema.pt); --vae a folder whose vae.pt
replaces its VAE (train.py --polish-encoder-anchor, flowedit_train/latent_anchor.py). Both encode the
same held-out stills with --from's latent shift and scale, and it prints:

- drift: RMS of x⁽ᵇ⁾ − x⁽ᵃ⁾ over all latent cells, and over the cells the objects cover (in
  normalised units, where ε has unit variance);
- the rectified-flow loss of --from's transformer on x⁽ᵃ⁾ and on x⁽ᵇ⁾, with the same t, ε and captions;
- each VAE's round trip PSNR on these stills.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # python/: the recipe's packages and train.py

from flowedit_train.data import batch_with_masks
from train import Tokenize, psnr
from experiments.transfer import encode, flow_loss, latent_stats, load_run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="source", required=True, help="trained run folder (vae.pt, latent_stats.json, dit-ema.pt)")
    p.add_argument("--vae", required=True, help="folder whose vae.pt is the retrained VAE")
    p.add_argument("--config", default="flowedit-tiny")
    p.add_argument("--scenes", type=int, default=256)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    for f in ("vae.pt", "latent_stats.json", "dit-ema.pt"):
        if not os.path.exists(os.path.join(args.source, f)):
            raise SystemExit(f"{args.source} holds no {f}: --from needs a trained run (python/unpack.py makes one from a pack)")
    if not os.path.exists(os.path.join(args.vae, "vae.pt")):
        raise SystemExit(f"{args.vae} holds no vae.pt")
    cfg, models, step = load_run(args.source, args.config, True)
    _, other, _ = load_run(args.vae, args.config, False)  # its VAE alone
    stats = latent_stats(args.source)
    pixels, captions, cover = batch_with_masks(np.random.default_rng([5, 1]), args.size, args.scenes, 1)  # [N, 3, 1, H, W], N, [N, 1, 1, H, W]
    xa, xb = encode(models, pixels, stats), encode(other, pixels, stats)  # [N, C, 1, H', W'] each
    s = cfg.spatial_compression
    objects = F.avg_pool2d(cover[:, :, 0], s)[:, :, None] > 0  # [N, 1, 1, H', W']: cells any object touches
    d2 = (xb - xa).pow(2).mean(dim=1, keepdim=True)  # [N, 1, 1, H', W']
    tokenize = Tokenize(cfg)
    with torch.no_grad():
        rt = [psnr(m.vae.decode(x / stats[1] + stats[0]), pixels) for m, x in ((models, xa), (other, xb))]
    print(json.dumps({
        "transformer_step": step,
        "drift_rms": round(d2.mean().sqrt().item(), 4),
        "drift_rms_object_cells": round(d2[objects].mean().sqrt().item(), 4),
        "flow_loss_old_latents": round(flow_loss(models, xa, captions, tokenize, 11, 0.1), 4),
        "flow_loss_new_latents": round(flow_loss(models, xb, captions, tokenize, 11, 0.1), 4),
        "round_trip_psnr_old": round(rt[0], 2), "round_trip_psnr_new": round(rt[1], 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
