"""VAE training that looks at the objects: crops centred on them and a loss weighted to them.

The VAE round trip loses what the benchmark judges: on the 50 held-out stills the committed
decoder gives back 33.4 dB, yet 11 of the 50 edited objects no longer classify as their shape
(small stars come back with rounded points and read as circles, small diamonds as crosses;
docs/lab/built-in-model.md, "The VAE: what the round trip loses"). Random 64×64 crops of a 128×128 scene mostly
hold background, and the pixels where two shapes differ (points, corners) are a few dozen of
them, so the plain L1 + L2 barely asks for them. Two changes, used with train.py
--polish-object-weight λ > 0 (the decoder polish) and --vae-object-weight λ > 0 (the VAE stage):

    crop_i  = c×c window centred (within the frame) on a pixel of sample i's objects, with
              probability p; otherwise anywhere
    w       = 1 + λ · maxpool_5(cover)                      # [B, 1, c, c], objects grown by 2 px
    L       = Σ w · (|x̂ − x| + (x̂ − x)²) / (3 · Σ w)      # the weighted mean over pixels and channels

In the polish the encoder stays frozen, so every latent the transformer learned from is unchanged;
in the VAE stage encoder and decoder train together (a new latent space: a transformer trains on it
afterwards).
"""

from typing import Optional, Tuple

import torch
from torch.nn import functional as F


def object_crops(pixels: torch.Tensor, cover: torch.Tensor, c: int, p_object: float,
                 gen: torch.Generator) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per sample a c×c crop of pixels [B, 3, 1, H, W] and cover [B, 1, 1, H, W]: with probability
    p_object centred on one of the sample's object pixels (coverage ≥ 0.5), else anywhere."""
    h, w = pixels.shape[-2:]
    crops, covers = [], []
    for i in range(pixels.shape[0]):
        on = (cover[i, 0, 0] >= 0.5).nonzero()  # [N, 2] (y, x)
        if len(on) and float(torch.rand((), generator=gen)) < p_object:
            cy, cx = (int(v) for v in on[int(torch.randint(len(on), (), generator=gen))])
            y0, x0 = min(max(cy - c // 2, 0), h - c), min(max(cx - c // 2, 0), w - c)
        else:
            y0, x0 = (int(v) for v in torch.randint(0, h - c + 1, (2,), generator=gen))
        crops.append(pixels[i, ..., y0 : y0 + c, x0 : x0 + c])  # [3, 1, c, c]
        covers.append(cover[i, ..., y0 : y0 + c, x0 : x0 + c])  # [1, 1, c, c]
    return torch.stack(crops), torch.stack(covers)  # [B, 3, 1, c, c], [B, 1, 1, c, c]


def weighted_recon_loss(rec: torch.Tensor, x: torch.Tensor, cover: torch.Tensor, lam: float) -> torch.Tensor:
    """L1 + L2 per pixel weighted by 1 + λ·(objects grown by 2 px), normalised by the weights.
    rec, x [B, 3, F, H, W]; cover [B, 1, F, H, W]."""
    b, _, f, h, w = cover.shape
    grown = F.max_pool2d(cover.reshape(b * f, 1, h, w), 5, stride=1, padding=2)  # [B·F, 1, H, W]
    wt = 1.0 + lam * grown.view(b, 1, f, h, w)  # [B, 1, F, H, W]
    d = rec - x  # [B, 3, F, H, W]
    return ((d.abs() + d * d) * wt).sum() / (wt.sum() * d.shape[1])


def training_crops(pixels: torch.Tensor, cover: Optional[torch.Tensor], c: int, p_object: float,
                   gen: torch.Generator) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The c×c crops a VAE training step takes from pixels [B, 3, 1, H, W]: with the objects' coverage
    cover [B, 1, 1, H, W] (object focus on), object_crops and their coverage; without it, one window
    anywhere for the whole batch and None."""
    if cover is not None:
        return object_crops(pixels, cover, c, p_object, gen)  # [B, 3, 1, c, c], [B, 1, 1, c, c]
    y0, x0 = (int(v) for v in torch.randint(0, pixels.shape[-1] - c + 1, (2,), generator=gen))
    return pixels[..., y0 : y0 + c, x0 : x0 + c], None  # [B, 3, 1, c, c]


def recon_loss(rec: torch.Tensor, x: torch.Tensor, cover: Optional[torch.Tensor], lam: float) -> torch.Tensor:
    """The VAE's reconstruction loss: L1 + L2, weighted to the objects when their coverage is given."""
    if cover is None:
        return F.l1_loss(rec, x) + F.mse_loss(rec, x)
    return weighted_recon_loss(rec, x, cover, lam)
