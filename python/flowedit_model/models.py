"""The networks of one pack, built from its config."""

from dataclasses import dataclass
from typing import Optional

import torch

from .config import PackConfig
from .dit import DiT
from .text_encoder import TextEncoder
from .vae import VAE


@dataclass
class PackModels:
    transformer: DiT
    text_encoder: Optional[TextEncoder]  # None for an unconditional model (text mode 'none')
    vae: Optional[VAE]  # None in pixel space

    def eval(self) -> "PackModels":
        for m in (self.transformer, self.text_encoder, self.vae):
            if m is not None:
                m.eval()
        return self


def build_models(cfg: PackConfig, seed: int) -> PackModels:
    """Random-weight networks for cfg, deterministic in seed, in eval mode."""
    torch.manual_seed(seed)
    transformer = DiT(cfg)
    text_encoder = TextEncoder(cfg) if cfg.has_text else None
    vae = VAE(cfg) if cfg.vae else None
    return PackModels(transformer, text_encoder, vae).eval()
