"""Start a transformer on a new VAE's latent space from one trained on another VAE's.

    .venv/bin/python python/experiments/transfer.py --from runs/from-pack --from-config flowedit-tiny \
        --run runs/c8-transfer --config flowedit-tiny-c8

--from holds the trained run (vae.pt, latent_stats.json, dit-ema.pt or dit.pt); --run holds the new
VAE (vae.pt, latent_stats.json) and receives dit-ema.pt,
which `train.py --stage dit` (or device_train.sh as RESUME) continues with a fresh optimiser.

Everything that does not touch the latent carries over as it is: the text encoder, the timestep and
text embeddings, every block, the final layer's norm and modulation. The two ends that do touch it are
fitted on rendered scenes encoded by both VAEs: x⁽ᵃ⁾ the old normalised latents, x⁽ᵇ⁾ the new ones,
patchified to tokens p⁽ᵃ⁾ [N, Pa] and p⁽ᵇ⁾ [N, Pb] (Pb ≥ Pa).

1. Input. M [Pa, Pb] with orthonormal rows (M Mᵀ = I) nearest to p⁽ᵃ⁾ ≈ M p⁽ᵇ⁾: orthogonal
   Procrustes, M = U Vᵀ with U Σ Vᵀ = p⁽ᵃ⁾ᵀ p⁽ᵇ⁾ (Schönemann 1966). Orthonormal rows carry the noise
   over exactly, M ε⁽ᵇ⁾ ~ N(0, I), so M x_t⁽ᵇ⁾ = (1 − t) M x⁽ᵇ⁾ + t M ε⁽ᵇ⁾ is distributed as the old
   model's x_t⁽ᵃ⁾ as far as M x⁽ᵇ⁾ matches x⁽ᵃ⁾. The new patch embedding is W_in M (bias kept).
2. Output. With the blocks fixed, the final layer's modulated features h [N, dim] on x_t⁽ᵇ⁾
   (t logit-normal, captions dropped as in training); W_out, b_out by ridge regression of the
   patchified target ε − x_0 on [h, 1]: the best linear read-out of what the blocks compute.

The same script starts a transformer with finer patches on the same VAE (--config flowedit-tiny-p2
from flowedit-tiny: patches of 2 × 2 latent cells instead of 4 × 4). A token of the finer grid over
x is the token of the coarser grid over x upsampled r times (nearest), r the ratio of the patch
sides, so the old transformer run on that upsampled latent, its output averaged back over each
r × r block, is a transformer on the finer grid. With U [Pa, Pb] the 0/1 matrix that sends each old
patch cell to the new cell it repeats (same channel), the new patch embedding is W_in U (each new
cell's weight is the sum of the old cells it fills) and the new read-out Uᵀ W_out / r² (the mean of
theirs); the position embedding follows the grid as it always does. The read-out is then fitted
as in step 2.

It prints the rectified-flow loss of the new model on held-out scenes before and after each fit, beside
the loss of a transformer of --config as train.py initialises it.
"""

import argparse
import json
import math
import os
import sys
from typing import Dict, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # python/: the recipe's packages and train.py

from flowedit_model import CONFIGS, build_models
from flowedit_model.patches import patchify
from flowedit_train.data import batch
from flowedit_train.flow_path import on_path
from train import LatentEncoder, Tokenize, half, load_ema, load_vae, tokens

# What the two configurations must share: the tokens cover the same pixels, and every weight that
# carries over has the same shape and meaning.
SHARED = ("spatial_compression", "temporal_compression", "dim", "layers", "heads", "head_dim", "mlp_ratio",
          "freq_dim", "context_layers", "text_mode", "guidance", "max_tokens", "text_dim", "text_layers", "text_heads",
          "vocab")


def check_configs(cfg_a, cfg_b) -> None:
    """Refuses, with what to do, two configurations a transformer cannot be moved between."""
    differ = [f for f in SHARED if getattr(cfg_a, f) != getattr(cfg_b, f)]
    if differ:
        raise SystemExit(f"--from-config and --config differ in {', '.join(differ)}: transfer moves "
                         "a transformer between latent spaces of the same compression, and everything else about the "
                         "transformer and its text encoder must be the same")
    if cfg_a.patch != cfg_b.patch:
        (ta, ha, wa), (tb, hb, wb) = cfg_a.patch, cfg_b.patch
        if ta != tb or ha != wa or hb != wb or ha % hb or cfg_a.latent_channels != cfg_b.latent_channels:
            raise SystemExit(f"--from-config has patches {list(cfg_a.patch)}, --config {list(cfg_b.patch)}: transfer refines "
                             "square patches by a whole factor on the same latent (same frames per patch, same latent channels)")
    if cfg_a.conv_head_channels or cfg_b.conv_head_channels:
        raise SystemExit("transfer moves transformers without a convolutional head (its convolutions see the latent): "
                         "give configurations without conv_head_channels")
    if cfg_b.latent_channels < cfg_a.latent_channels:
        raise SystemExit(f"--config has {cfg_b.latent_channels} latent channels, --from-config {cfg_a.latent_channels}: "
                         "transfer moves a transformer onto a latent at least as wide as its own")


def latent_stats(run: str) -> Tuple[float, float]:
    with open(os.path.join(run, "latent_stats.json"), encoding="utf-8") as f:
        stats = json.load(f)
    return stats["shift"], stats["scale"]


def load_run(run: str, config: str, with_transformer: bool):
    """The networks of --config with a run folder's weights (the EMA transformer when asked)."""
    cfg = CONFIGS[config]()
    models = build_models(cfg, 0)
    load_vae(models.vae, os.path.join(run, "vae.pt"), "cpu", config)
    step = load_ema(models, run, config, "give --from a trained run") if with_transformer else 0
    models.eval()
    return cfg, models, step


def scenes(seed: int, count: int, size: int):
    """count rendered stills: pixels [count, 3, 1, H, W] and their captions."""
    return batch(np.random.default_rng([5, seed]), size, count, 1)


@torch.no_grad()
def encode(models, pixels: torch.Tensor, stats: Tuple[float, float]) -> torch.Tensor:
    """normalised latents [B, C, 1, H', W'] of pixels [B, 3, 1, H, W], 32 at a time."""
    latents = LatentEncoder(models.vae, *stats)
    return torch.cat([latents(p) for p in pixels.split(32)])


def ends_for_finer_patches(cfg_a, cfg_b) -> Tuple[torch.Tensor, torch.Tensor]:
    """(U [Pa, Pb], Uᵀ / r² [Pb, Pa]): U is 1 where old patch cell (c, i, y, x) repeats new cell
    (c, i, y // r, x // r), r = ha / hb; Uᵀ / r² averages the old cells back onto the new one."""
    (pt, ha, wa), (_, hb, wb) = cfg_a.patch, cfg_b.patch
    r = ha // hb
    c = cfg_a.latent_channels
    pb = c * pt * hb * wb
    one_hot = torch.eye(pb).reshape(c, pt, hb, wb, pb)  # each new cell, in patchify's order
    u = one_hot.repeat_interleave(r, dim=2).repeat_interleave(r, dim=3)  # [C, pt, ha, wa, Pb]: upsampled as the latent is
    u = u.reshape(c * pt * ha * wa, pb)  # [Pa, Pb]
    return u, u.T / r ** 2


def mapped_ends(state: Dict[str, torch.Tensor], m: torch.Tensor, read_back: torch.Tensor) -> Dict[str, torch.Tensor]:
    """A transformer's weights with its patch embedding mapped through m [Pa, Pb] and its read-out
    through read_back [Pb, Pa]; every other weight as it is."""
    state = {k: v.clone() for k, v in state.items()}
    state["patch_embed.weight"] = state["patch_embed.weight"] @ m  # [dim, Pa] @ [Pa, Pb] -> [dim, Pb]
    state["final.linear.weight"] = read_back @ state["final.linear.weight"]  # [Pb, dim]: the old read-out, mapped back
    state["final.linear.bias"] = read_back @ state["final.linear.bias"]  # [Pb]
    return state


def procrustes(pa: torch.Tensor, pb: torch.Tensor) -> torch.Tensor:
    """M [Pa, Pb] with orthonormal rows minimising ‖pa − pb Mᵀ‖ for tokens pa [N, Pa], pb [N, Pb]."""
    u, _, vh = torch.linalg.svd(pa.double().T @ pb.double(), full_matrices=False)  # [Pa, Pa], [Pa, Pb]
    return (u @ vh).float()  # [Pa, Pb]


def chunks(x0: torch.Tensor, captions, size: int = 32):
    """(latents [≤ size, C, F, H', W'], their captions) in order."""
    return zip(x0.split(size), [captions[k:k + size] for k in range(0, len(captions), size)])


class Noising:
    """x_t = (1 − t) x_0 + t ε with t logit-normal, as train.py draws them, from a fixed seed."""

    def __init__(self, seed: int):
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, x0: torch.Tensor):
        b = x0.shape[0]
        t = torch.sigmoid(torch.randn(b, generator=self.gen))  # [B]
        eps = torch.randn(x0.shape, generator=self.gen)  # [B, C, F, H', W']
        xt, u = on_path(x0, t, eps)  # [B, C, F, H', W'] each
        return xt, t, u  # x_t, t, target velocity


@torch.no_grad()
def flow_loss(models, x0: torch.Tensor, captions, tokenize: Tokenize, seed: int, drop: float) -> float:
    """Mean rectified-flow loss ‖v_θ(x_t, t, c) − (ε − x_0)‖² over x0 [B, C, 1, H', W']."""
    noise, gen = Noising(seed), torch.Generator().manual_seed(seed + 1)
    total, count = 0.0, 0
    for x, caps in chunks(x0, captions):
        xt, t, target = noise(x)
        v, _ = models.transformer(xt, t, models.text_encoder(tokens(caps, tokenize, drop, gen)))
        total += ((v - target) ** 2).mean().item() * x.shape[0]
        count += x.shape[0]
    return total / count


@torch.no_grad()
def read_out_fit(models, cfg, x0: torch.Tensor, captions, tokenize: Tokenize, seed: int, drop: float,
                 ridge: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Ridge regression of the patchified target on the final layer's modulated features:
    (W_out [P, dim], b_out [P])."""
    noise, gen = Noising(seed), torch.Generator().manual_seed(seed + 1)
    features: Dict[str, torch.Tensor] = {}
    hook = models.transformer.final.linear.register_forward_hook(lambda m, i, o: features.__setitem__("h", i[0]))
    dim = cfg.dim
    gram = torch.zeros(dim + 1, dim + 1, dtype=torch.float64)  # Σ [h, 1]ᵀ [h, 1]
    cross = None  # Σ [h, 1]ᵀ y   [dim + 1, P]
    try:
        for x, caps in chunks(x0, captions):
            xt, t, target = noise(x)
            models.transformer(xt, t, models.text_encoder(tokens(caps, tokenize, drop, gen)))
            h = features["h"].reshape(-1, dim).double()  # [B·n, dim]
            h1 = torch.cat([h, torch.ones(h.shape[0], 1, dtype=torch.float64)], dim=1)  # [B·n, dim + 1]
            y = patchify(target, cfg.patch).reshape(h.shape[0], -1).double()  # [B·n, P]
            gram += h1.T @ h1
            cross = h1.T @ y if cross is None else cross + h1.T @ y
    finally:
        hook.remove()
    reg = ridge * torch.diagonal(gram)[:dim].mean() * torch.eye(dim + 1, dtype=torch.float64)
    reg[dim, dim] = 0.0  # the bias is not shrunk
    w = torch.linalg.solve(gram + reg, cross)  # [dim + 1, P]
    return w[:dim].T.float().contiguous(), w[dim].float().contiguous()


def transfer(old, new, old_stats, new_stats, fit_scenes: int, check_scenes: int, size: int, drop: float,
             ridge: float, report) -> Dict[str, torch.Tensor]:
    """Fits the new transformer's ends (module docstring) and returns its weights and its text encoder's."""
    (cfg_a, models_a), (cfg_b, models_b) = old, new
    check_configs(cfg_a, cfg_b)
    tokenize = Tokenize(cfg_b)
    pixels, captions = scenes(0, fit_scenes, size)
    xa, xb = encode(models_a, pixels, old_stats), encode(models_b, pixels, new_stats)  # [S, Ca, 1, H', W'], [S, Cb, ...]
    if cfg_a.patch != cfg_b.patch:
        if not torch.equal(xa, xb):
            raise SystemExit("--from and --run encode scenes differently: refining patches needs the same VAE "
                             "(copy --from's vae.pt and latent_stats.json into --run)")
        m, read_back = ends_for_finer_patches(cfg_a, cfg_b)  # [Pa, Pb], [Pb, Pa]
        fit = {}
    else:
        pa = patchify(xa, cfg_a.patch).reshape(-1, cfg_a.latent_channels * math.prod(cfg_a.patch))  # [N, Pa]
        pb = patchify(xb, cfg_b.patch).reshape(-1, cfg_b.latent_channels * math.prod(cfg_b.patch))  # [N, Pb]
        m = procrustes(pa, pb)  # [Pa, Pb]
        read_back = m.T  # [Pb, Pa]
        fit = {"procrustes_relative_residual": round(((pa - pb @ m.T).pow(2).mean() / pa.pow(2).mean()).item(), 4)}
    check_pixels, check_captions = scenes(1, check_scenes, size)
    xb_check = encode(models_b, check_pixels, new_stats)  # held-out scenes in the new space

    dit = models_b.transformer
    fresh = flow_loss(models_b, xb_check, check_captions, tokenize, 7, drop)
    state = mapped_ends(models_a.transformer.state_dict(), m, read_back)
    dit.load_state_dict(state)
    models_b.text_encoder.load_state_dict(models_a.text_encoder.state_dict())
    mapped = flow_loss(models_b, xb_check, check_captions, tokenize, 7, drop)
    w_out, b_out = read_out_fit(models_b, cfg_b, xb, captions, tokenize, 3, drop, ridge)
    state["final.linear.weight"], state["final.linear.bias"] = w_out, b_out
    dit.load_state_dict(state)
    fitted = flow_loss(models_b, xb_check, check_captions, tokenize, 7, drop)
    report({**fit, "loss_initialised": round(fresh, 4), "loss_input_mapped": round(mapped, 4),
            "loss_read_out_fitted": round(fitted, 4), "fit_scenes": fit_scenes, "check_scenes": check_scenes})
    return {"ema_dit": dit.state_dict(), "ema_te": models_b.text_encoder.state_dict()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="source", required=True, help="trained run folder (vae.pt, latent_stats.json, dit-ema.pt)")
    p.add_argument("--from-config", required=True, choices=sorted(CONFIGS))
    p.add_argument("--run", required=True, help="run folder with the new VAE (vae.pt, latent_stats.json); gets dit-ema.pt")
    p.add_argument("--config", required=True, choices=sorted(CONFIGS))
    p.add_argument("--fit-scenes", type=int, default=512, help="rendered stills the two ends are fitted on")
    p.add_argument("--check-scenes", type=int, default=256, help="other stills the losses are measured on")
    p.add_argument("--ridge", type=float, default=1e-3, help="ridge penalty, relative to the features' mean square")
    p.add_argument("--drop", type=float, default=0.1, help="caption dropout, as in training")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    check_configs(CONFIGS[args.from_config](), CONFIGS[args.config]())
    out = os.path.join(args.run, "dit-ema.pt")
    for folder, what in ((args.source, "--from needs a trained run (python/unpack.py makes one from a pack)"),
                         (args.run, "--run needs the new VAE (a run folder holding its vae.pt and latent_stats.json)")):
        for f in ("vae.pt", "latent_stats.json"):
            if not os.path.exists(os.path.join(folder, f)):
                raise SystemExit(f"{folder} holds no {f}: {what}")
    if os.path.exists(out) or os.path.exists(os.path.join(args.run, "dit.pt")):
        raise SystemExit(f"{args.run} already holds a transformer: give a run folder with only the new VAE")
    cfg_a, models_a, step = load_run(args.source, args.from_config, True)
    cfg_b, models_b, _ = load_run(args.run, args.config, False)
    report = lambda record: print(json.dumps(record), flush=True)
    weights = transfer((cfg_a, models_a), (cfg_b, models_b), latent_stats(args.source), latent_stats(args.run),
                       args.fit_scenes, args.check_scenes, args.size, args.drop, args.ridge, report)
    tmp = out + ".tmp"
    torch.save({"ema_dit": half(weights["ema_dit"]), "ema_te": half(weights["ema_te"]), "step": 0,
                "transferred_from": {"run": os.path.abspath(args.source), "config": args.from_config, "step": step}}, tmp)
    os.replace(tmp, out)
    report({"written": out})
    return 0


if __name__ == "__main__":
    sys.exit(main())
