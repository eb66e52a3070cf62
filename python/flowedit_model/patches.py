"""Patchify / unpatchify in the model-pack token order.

Image token (f, y, x) of the Fp × Hp × Wp patch grid is token (f·Hp + y)·Wp + x and covers
latents[:, :, f·pt:(f+1)·pt, y·ph:(y+1)·ph, x·pw:(x+1)·pw], channels-major inside the patch.
"""

from typing import Tuple

import torch

Patch = Tuple[int, int, int]


def patch_grid(latents: torch.Tensor, patch: Patch):
    """(Fp, Hp, Wp) of a latent [B, C, F', H', W'], read from its shape (traced when exporting)."""
    pt, ph, pw = patch
    return latents.shape[2] // pt, latents.shape[3] // ph, latents.shape[4] // pw


def patchify(latents: torch.Tensor, patch: Patch) -> torch.Tensor:
    """[B, C, F', H', W'] -> [B, n, C·pt·ph·pw] with n = Fp·Hp·Wp in token order."""
    pt, ph, pw = patch
    b, c = latents.shape[0], latents.shape[1]
    fp, hp, wp = patch_grid(latents, patch)
    x = latents.reshape(b, c, fp, pt, hp, ph, wp, pw)  # [B, C, Fp, pt, Hp, ph, Wp, pw]
    x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # [B, Fp, Hp, Wp, C, pt, ph, pw]
    return x.reshape(b, fp * hp * wp, c * pt * ph * pw)  # [B, n, C·pt·ph·pw]


def unpatchify(tokens: torch.Tensor, grid, channels: int, patch: Patch) -> torch.Tensor:
    """[B, n, C·pt·ph·pw] -> [B, C, F', H', W'] for the grid (Fp, Hp, Wp); inverse of patchify."""
    pt, ph, pw = patch
    fp, hp, wp = grid
    b = tokens.shape[0]
    x = tokens.reshape(b, fp, hp, wp, channels, pt, ph, pw)  # [B, Fp, Hp, Wp, C, pt, ph, pw]
    x = x.permute(0, 4, 1, 5, 2, 6, 3, 7)  # [B, C, Fp, pt, Hp, ph, Wp, pw]
    return x.reshape(b, channels, fp * pt, hp * ph, wp * pw)  # [B, C, F', H', W']
