"""Training the encoder again without moving the latent space the transformer has learned.

A decoder polish cannot give back what the encoder dropped (the points of small stars, gone in the
committed VAE's four latent channels; docs/lab/built-in-model.md, "The VAE: what the round trip loses"), and an
encoder trained freely makes a new latent space, which needs a new transformer. train.py
--polish-encoder-anchor β trains the encoder with the decoder, held near the encoder it started
from, μ₀ (frozen, kept in the checkpoint so a resumed polish anchors to the same one):

    L = L_recon + β · mean over latent cells and channels of ((μ_θ(x) − μ₀(x)) · s)²

with s the run's latent scale (latent_stats.json), so the penalty is in the units the transformer
sees (normalised latents of unit variance). The shift and scale themselves are kept.
"""

import copy
from typing import Dict, Optional

import torch


def anchor_penalty(mean: torch.Tensor, anchor_mean: torch.Tensor, scale: float) -> torch.Tensor:
    """Mean squared latent drift in normalised units; mean, anchor_mean [B, C, F, h, w]."""
    return ((mean - anchor_mean) * scale).pow(2).mean()


def frozen_anchor(encoder: torch.nn.Module, saved: Optional[Dict[str, torch.Tensor]]) -> torch.nn.Module:
    """The anchor encoder: the saved one when resuming, else a copy of the encoder as it is now."""
    anchor = copy.deepcopy(encoder)
    if saved is not None:
        anchor.load_state_dict(saved)
    anchor.eval()
    for p in anchor.parameters():
        p.requires_grad_(False)
    return anchor
