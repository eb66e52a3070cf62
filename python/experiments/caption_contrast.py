"""Training only: the caption's shape word must explain the object better than another shape word.

The rectified-flow loss alone teaches the built-in transformer colours but next to nothing of the
shape words: on one-object scenes, changing the caption's shape word moves the loss a twentieth as
much as changing its colour word (docs/lab/built-in-model.md, "Does the transformer use the shape
words?"), because where two shapes differ is a small part of a frame. This asks for that
difference directly, on the very quantity the caption probe measures.

For each still scene a of a batch, one object i and one other shape are drawn, giving the negative
caption c̃ (the caption of a with object i's shape word changed). On the same x_t, t and ε as the
flow loss, with u = ε − x_0 and m the object's coverage averaged over each latent cell and grown
by one cell:

    ℓ(c)  = Σ m · ‖v_θ(x_t, t, c) − u‖²_C / (C · Σ m)        # the loss on the object's cells
    gap   = ℓ(c̃) − ℓ(c)                                       # > 0 when the true shape word explains more
    L_con = mean over scenes whose caption was kept of max(0, δ − gap)

and the transformer trains on L_flow + λ · L_con. With --caption-contrast-t t_lo > 0 the contrast
leaves the flow loss's x_t alone and draws its own (own_x_t): t' ~ U[t_lo, 1] and fresh ε', where
the outline is hidden, with both captions run on it (two passes more per scene instead of one). The hinge stops pushing once the true caption
explains the object's cells better by the margin δ, so the negative caption is not driven
anywhere it need not go. At large t, x_t hides the outline, so the gap can only come from the
shape word. This is a ranking loss on a diffusion model's conditional likelihoods (the quantity a
diffusion classifier compares, Li et al. 2023), with hard negatives that differ from the truth in
one word; the negative caption needs no rendering. train.py refuses it together with --shape-aux,
whose map reads the tokens of a single transformer pass.
"""

from typing import List, Tuple

import numpy as np
import torch
from torch.nn import functional as F

from flowedit_scenes import caption
from flowedit_scenes.edits import swap_shape
from flowedit_scenes.scene import Scene
from flowedit_scenes.world import SHAPES
from flowedit_train.flow_path import on_path


def negatives(scenes: List[Scene], rng: np.random.Generator, tokenize) -> Tuple[np.ndarray, np.ndarray]:
    """Per scene one object slot i and its caption with object i's shape word changed:
    (token ids [B, L] int64, slots [B] int64)."""
    ids, slots = [], []
    for scene in scenes:
        i = int(rng.integers(len(scene["objects"])))
        other = str(rng.choice([s for s in SHAPES if s != scene["objects"][i]["shape"]]))
        ids.append(tokenize(caption(swap_shape(scene, i, other))))
        slots.append(i)
    return np.array(ids, dtype=np.int64), np.array(slots, dtype=np.int64)


def own_x_t(x0: torch.Tensor, t_lo: float, gen: torch.Generator,
            noise_gen: torch.Generator) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The contrast's own point on the path, at large t: x0 [n, C, F, H', W'] ->
    (t' [n] ~ U[t_lo, 1], x_t' = (1 − t')·x0 + t'·ε' [n, C, F, H', W'], u' = ε' − x0 [n, C, F, H', W'])."""
    t = (t_lo + (1 - t_lo) * torch.rand(x0.shape[0], generator=gen)).to(x0.device)  # [n]
    eps = torch.randn(x0.shape, generator=noise_gen, device=noise_gen.device).to(x0.device)  # [n, C, F, H', W']
    return (t, *on_path(x0, t, eps))


def object_cells(slot_cover: torch.Tensor, slots: torch.Tensor, compression: int) -> torch.Tensor:
    """Each scene's chosen object as latent-cell weights: slot coverage [B, F, S, H, W] (pixels)
    and slots [B] -> m [B, 1, F, H', W'], averaged over each cell and grown by one cell."""
    b, f, _, hh, ww = slot_cover.shape
    cover = slot_cover[torch.arange(b, device=slot_cover.device), :, slots.to(slot_cover.device)]  # [B, F, H, W]
    m = F.avg_pool2d(cover.reshape(b * f, 1, hh, ww), compression)  # [B·F, 1, H', W']
    m = F.max_pool2d(m, 3, stride=1, padding=1)  # [B·F, 1, H', W'] grown by one cell
    return m.view(b, f, 1, hh // compression, ww // compression).transpose(1, 2)  # [B, 1, F, H', W']


def object_loss(v: torch.Tensor, u: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """ℓ per scene: v, u [B, C, F, H', W'], m [B, 1, F, H', W'] -> [B]."""
    se = ((v - u) ** 2).sum(1, keepdim=True)  # [B, 1, F, H', W']
    return (m * se).flatten(1).sum(1) / (v.shape[1] * m.flatten(1).sum(1).clamp(min=1e-6))  # [B]


def contrast_loss(v_true: torch.Tensor, v_neg: torch.Tensor, u: torch.Tensor, m: torch.Tensor,
                  keep: torch.Tensor, margin: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """(L_con, the mean gap over kept scenes, for the log): velocities under the true and the
    negative caption v_true, v_neg [B, C, F, H', W'] on the same x_t, target u, cells m
    [B, 1, F, H', W'], keep [B] bool (the true caption was not dropped)."""
    gap = object_loss(v_neg, u, m) - object_loss(v_true, u, m)  # [B]
    k = keep.to(gap.dtype)  # [B]
    n = k.sum().clamp(min=1.0)
    return (F.relu(margin - gap) * k).sum() / n, ((gap * k).sum() / n).detach()
