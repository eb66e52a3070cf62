"""Write the random-weight test packs to test/fixtures/packs/{tiny,tiny-pixel,tiny-uncond,tiny-v2}/.

    .venv/bin/python python/make_fixture.py [--out test/fixtures/packs] [--only tiny-v2]

tiny-v2 is a format 2 pack (text attention_mask, text_mask and pooled ports, per-channel latent
normalisation): exported with torch 2.x (the TorchScript exporter).

The weights are deterministic in SEED, so rerunning reproduces the same numbers on the
same torch build (the ONNX bytes may differ across torch versions).
"""

import argparse
import os
import sys
from typing import Optional, Sequence

import torch

from flowedit_model import CONFIGS, build_models
from flowedit_model.export import export_pack

SEED = 0
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "test", "fixtures", "packs")

# The latent-space test packs' settings (tiny and tiny-v2).
TINY_DEFAULTS = {"steps": 8, "solver": "fireflow", "guidance": 2.0, "shareLayers": [1, 2], "shareSteps": 0.5, "fit": "pad"}

FIXTURES = {
    "tiny": dict(
        name="Tiny random DiT (latent space, joint text)",
        description=(
            "Random-weight test fixture: a 3-layer DiT over a 4-channel latent of a small "
            "convolutional VAE (spatial compression 4), text tokens joined to the image tokens, "
            "classifier-free guidance. Its outputs are deterministic but meaningless."
        ),
        defaults=TINY_DEFAULTS,
    ),
    "tiny-pixel": dict(
        name="Tiny random DiT (pixel space, cross-attention text)",
        description=(
            "Random-weight test fixture: a 2-layer DiT working directly on pixels (patch 8), "
            "text through cross-attention, distilled guidance input. Its outputs are "
            "deterministic but meaningless."
        ),
        defaults={
            "steps": 8,
            "solver": "midpoint",
            "guidance": 2.0,
            "shareLayers": [1],
            "shareSteps": 0.5,
        },
    ),
    "tiny-uncond": dict(
        name="Tiny random DiT (pixel space, unconditional)",
        description=(
            "Unconditional random-weight test fixture: a 2-layer DiT working directly on pixels "
            "(patch 4) with no text encoder, no tokenizer and no text input, so no guidance "
            "either. Its outputs are deterministic but meaningless."
        ),
        defaults={
            "steps": 8,
            "solver": "midpoint",
            "shareLayers": [0, 1],
            "shareSteps": 0.5,
        },
    ),
    "tiny-v2": dict(
        name="Tiny random DiT (format 2: text masks, pooled text, per-channel latents)",
        description=(
            "Random-weight format 2 test fixture: tiny's 3-layer DiT over a 4-channel latent with joint "
            "text, whose text encoder takes an attention mask and also outputs a pooled vector, whose "
            "transformer masks padded text keys with text_mask and adds the pooled vector to its "
            "conditioning, with per-channel latent scale and shift, an [EOS]-ending tokenizer, long "
            "prompts truncated, unknown words refused and a negative prompt. Its outputs are "
            "deterministic but meaningless."
        ),
        defaults={**TINY_DEFAULTS, "shareText": False},
    ),
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Write the random-weight test packs.")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder that receives one folder per pack")
    parser.add_argument("--only", choices=sorted(FIXTURES), action="append",
                        help="write only this pack (repeatable; default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    for pack_id, meta in FIXTURES.items():
        if args.only and pack_id not in args.only:
            continue
        cfg = CONFIGS[pack_id]()
        models = build_models(cfg, SEED)
        out_dir = os.path.join(args.out, pack_id)
        export_pack(
            models, cfg, out_dir, pack_id, meta["name"], meta["defaults"],
            description=meta["description"], license="Apache-2.0",
        )
        size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
        print(f"{out_dir}: {size / 1024:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
