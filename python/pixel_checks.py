"""Checks of the pixel-space recipe (train_pixel.py), run by test/model/pixel-recipe.test.ts.

    .venv/bin/python python/pixel_checks.py OUT_PACK

Prints one JSON line of findings; exits non-zero when a check fails. OUT_PACK receives the pack a
few CPU steps of flowedit-pixel-32 export, for the test to run flowedit on.
- configs: flowedit-pixel (64×64, patch 4: 256 tokens) and flowedit-pixel-32 build; with adaLN-Zero the
  transformer's velocity is exactly 0 at initialisation; flowedit-pixel's EMA weights fit one 16 MiB file;
- fused attention (training only) computes what the explicit attention computes, also with a key bias;
- mix: enlarged stills hold one or two objects of half-size up to 0.34 on plain or gradient backgrounds,
  and the share falls from 0.4 to 0.15 in the last quarter; the object weights are 1 + λ on the objects;
- GPU path: a few steps with bfloat16 autocast, fused attention and scenes rendered in the training process
  (clips among them) train on the CPU;
- train: a few steps of flowedit-pixel-32 log the ceiling, the chance level and in-run checks with the
  samples seen and the check's own time, and export a format 2 pixel-space pack with a pooled input.
"""

import json
import os
import sys
import tempfile

import numpy as np
import torch

from flowedit_model import CONFIGS, build_models
from flowedit_model.layers import attention, fused_attention
from flowedit_train.pixel_data import enlarged_scene, enlarged_share, object_weights
import train


def config_checks() -> dict:
    found = {}
    for name in ("flowedit-pixel", "flowedit-pixel-32"):
        cfg = CONFIGS[name]()
        models = build_models(cfg, 0)
        size = cfg.default_size[0]
        x = torch.randn(2, 3, 1, size, size)  # [B, 3, F, H, W]
        ids = torch.randint(2, cfg.vocab_size, (2, cfg.max_tokens))  # [B, L]
        with torch.no_grad():
            text, pooled = models.text_encoder(ids)  # [B, L, D], [B, P]
            v, _ = models.transformer(x, torch.rand(2), text, pooled=pooled)  # [B, 3, F, H, W]
        tokens = (size // cfg.patch[1]) * (size // cfg.patch[2])
        found[name] = {"tokens": tokens, "zero_velocity": v.abs().max().item() == 0.0, "pooled_dim": cfg.pooled_dim}
        if name == "flowedit-pixel":
            with tempfile.TemporaryDirectory() as tmp:
                slim = os.path.join(tmp, "dit-ema.pt")
                train.save(slim, {"ema_dit": train.half(models.transformer.state_dict()),
                                  "ema_te": train.half(models.text_encoder.state_dict()), "step": 0})
                found[name]["slim_under_16MiB"] = os.path.getsize(slim) < 16 * 2**20
    return found


def fused_check() -> float:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 10, 32, generator=g) for _ in range(3))  # [B, h, S, d]
    bias = torch.zeros(2, 1, 1, 10)
    bias[:, ..., 7:] = -1e4  # padded keys
    plain = attention(q, k, v, 32, bias)
    with fused_attention():
        fused = attention(q, k, v, 32, bias)
    return (plain - fused).abs().max().item()


def mix_checks() -> dict:
    rng = np.random.default_rng(0)
    scenes = [enlarged_scene(rng) for _ in range(200)]
    sizes = [o["s"] for sc in scenes for o in sc["objects"]]
    cover = torch.zeros(1, 1, 1, 8, 8)
    cover[..., 3:5, 3:5] = 1.0
    w = object_weights(cover, 4.0)[0, 0, 0]  # [8, 8]
    return {"objects": sorted({len(sc["objects"]) for sc in scenes}),
            "patterns": sorted({sc["background"]["pattern"] for sc in scenes}),
            "size_range_ok": min(sizes) >= 0.09 and max(sizes) <= 0.34 and max(sizes) > 0.3,
            "share": [enlarged_share(p, 0.4, 0.15) for p in (0.0, 0.74, 0.76, 1.0)],
            "weights": [w[0, 0].item(), w[2, 2].item(), w[4, 4].item()]}


def train_check(pack: str) -> dict:
    with tempfile.TemporaryDirectory() as run:
        train.main(["--config", "flowedit-pixel-32", "--size", "32", "--run", run, "--threads", "1", "--workers", "0",
                    "--batch", "4", "--clip-p", "0", "--dit-steps", "3", "--check-every", "1e-3", "--check-count", "4",
                    "--check-steps", "1", "--save-every", "1e9", "--export", pack])
        with open(os.path.join(run, "log.jsonl"), encoding="utf-8") as f:
            log = [json.loads(line) for line in f]
    checks = [r for r in log if r["stage"] == "check"]
    end = [r for r in log if r.get("end_step")][0]
    with open(os.path.join(pack, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    return {"stages": sorted({r["stage"] for r in log}),
            "check_samples": [r["samples"] for r in checks],
            "check_time_apart": end["check_s"] > 0 and abs(end["check_s"] - sum(r["check_s"] for r in checks)) < 0.5,
            "figures": sorted(k for k in checks[-1] if k in ("shape", "colour", "background", "caption")),
            "format": manifest["formatVersion"], "vae": "vae" in manifest, "pooled_dim": manifest["text"].get("pooledDim"),
            "channels": manifest["latent"]["channels"], "files": sorted(os.listdir(pack))}


def gpu_path_check() -> dict:
    """The GPU run's training path on the CPU: bfloat16 autocast, fused attention, scenes rendered in the
    training process (render_batch), clips among the steps."""
    with tempfile.TemporaryDirectory() as run:
        train.main(["--config", "flowedit-pixel-32", "--size", "32", "--run", run, "--threads", "1", "--workers", "0",
                    "--batch", "4", "--clip-p", "0.5", "--clip-batch", "2", "--clip-frames", "5", "--dit-steps", "4",
                    "--check-every", "0", "--bf16", "on", "--fused-attention", "on", "--render-on", "device",
                    "--save-every", "1e9"])
        with open(os.path.join(run, "log.jsonl"), encoding="utf-8") as f:
            log = [json.loads(line) for line in f]
    start = [r for r in log if "start_step" in r][0]
    end = [r for r in log if r.get("end_step")][0]
    return {"bf16": start["bf16"], "fused_attention": start["fused_attention"], "steps": end["end_step"]}


def main() -> int:
    torch.set_num_threads(1)
    found = {"configs": config_checks(), "fused_max_difference": fused_check(), "mix": mix_checks(),
             "train": train_check(sys.argv[1]), "gpu_path": gpu_path_check()}
    print(json.dumps(found))
    t = found["train"]
    ok = (all(c["zero_velocity"] for c in found["configs"].values()) and found["configs"]["flowedit-pixel"]["tokens"] == 256
          and found["configs"]["flowedit-pixel"]["slim_under_16MiB"] and found["fused_max_difference"] < 1e-5
          and found["mix"]["objects"] == [1, 2] and found["mix"]["patterns"] == ["gradient", "plain"]
          and found["mix"]["size_range_ok"] and found["mix"]["share"] == [0.4, 0.4, 0.15, 0.15]
          and found["mix"]["weights"] == [1.0, 5.0, 5.0]
          and found["gpu_path"] == {"bf16": True, "fused_attention": True, "steps": 4}
          and t["check_samples"] == [4, 8, 12] and t["check_time_apart"] and t["format"] == 2 and not t["vae"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
