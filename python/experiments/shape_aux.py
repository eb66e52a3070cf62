"""An auxiliary task for training only: the shape map read from the transformer's middle tokens.

The rectified-flow loss alone teaches the built-in transformer colours but next to nothing of the
shape words (docs/lab/built-in-model.md, "Does the transformer use the shape words?"): an object's
outline is a small part of a frame's loss. The scene world knows, for every training scene, which
shape covers each pixel, so the transformer can be told directly. A linear head reads the image
tokens after block `layer` and predicts, for every latent cell, which of the P shapes covers it
(or none), against the rendered shape coverage averaged over the cell:

    logits = unpatchify(W · h_layer)                      # [B, P + 1, F', H', W']
    q_k    = avgpool_s(coverage_k),  q_0 = 1 − Σ_k q_k    # [B, P + 1, F', H', W'], s = VAE compression
    L_map   = mean over cells of −Σ_k q_k log softmax(logits)_k
    L_shape = Σ_cells w · (−Σ_{k≥1} (q_k / w) log softmax(logits_{1..P})_k) / Σ_cells w,  w = Σ_{k≥1} q_k
    L_aux   = L_map + L_shape

and the transformer trains on L_flow + λ · L_aux. At large t the noise hides where and what the
object is, so the tokens can only get the map right by reading the caption's shape word for the
object in its place: the binding of words to outlines that drawing the shape needs. Objects
cover about a tenth of the cells, so under L_map alone the shape's identity is a small part of the
loss; L_shape asks for it on the object cells only, weighted by their coverage. This follows
REPA (Yu et al. 2024), which sped up DiT training by aligning a middle layer's tokens with a
pretrained encoder's features; here the target is the renderer's own ground truth instead. The
head is not part of the pack: the exported graphs are the transformer's alone.
"""

from typing import Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from flowedit_model.patches import patch_grid, unpatchify


class ShapeAux(nn.Module):
    """Reads block `layer`'s output of `dit` (a forward hook) and scores it against shape coverage."""

    def __init__(self, dit: nn.Module, layer: int, shapes: int):
        super().__init__()
        cfg = dit.cfg
        if not 0 <= layer < cfg.layers:
            raise ValueError(f"--shape-aux-layer {layer} is not a block of this transformer (0..{cfg.layers - 1})")
        pt, ph, pw = cfg.patch
        self.cfg, self.classes = cfg, shapes + 1
        self.head = nn.Linear(cfg.dim, self.classes * pt * ph * pw)
        self._tokens: Optional[torch.Tensor] = None
        dit.blocks[layer].register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        self._tokens = output[0]  # [B, S, dim]

    def cells(self, coverage: torch.Tensor) -> torch.Tensor:
        """Per-shape coverage [B, P, F, H, W] (pixels) -> q [B, P, F', H', W'] per latent cell: the
        target, made once per batch (before it is repeated, and before the transformer runs)."""
        s = self.cfg.spatial_compression
        b, p, f, hh, ww = coverage.shape
        q = F.avg_pool2d(coverage.reshape(b * p * f, 1, hh, ww), s)  # [B·P·F, 1, H', W']
        return q.view(b, p, f, hh // s, ww // s).clamp(0.0, 1.0)  # [B, P, F', H', W']

    def loss(self, latents: torch.Tensor, q: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """After a transformer call on latents [B, C, F', H', W']: L_aux against that call's
        scenes' cell coverage q [B, P, F', H', W'] (cells()), and the share of object cells
        (mostly covered) whose shape the map gets right (for the log)."""
        if self._tokens is None:
            raise RuntimeError("ShapeAux.loss needs a transformer call first")
        cfg = self.cfg
        grid = patch_grid(latents, cfg.patch)  # (Fp, Hp, Wp)
        n = grid[0] * grid[1] * grid[2]
        h = self._tokens[:, -n:]  # [B, n, dim]: the image tokens (joint text comes first)
        self._tokens = None
        logits = unpatchify(self.head(h), grid, self.classes, cfg.patch)  # [B, P + 1, F', H', W']
        w = q.sum(1).clamp(max=1.0)  # [B, F', H', W'] object coverage of each cell
        q_all = torch.cat([(1.0 - w)[:, None], q], dim=1)  # [B, P + 1, F', H', W']
        l_map = -(q_all * F.log_softmax(logits, dim=1)).sum(1).mean()
        shape_log_p = F.log_softmax(logits[:, 1:], dim=1)  # [B, P, F', H', W']
        l_shape = -(q * shape_log_p).sum(1).sum() / w.sum().clamp(min=1e-6)
        with torch.no_grad():
            inside = w > 0.5  # [B, F', H', W']
            right = (shape_log_p.argmax(1) == q.argmax(1))[inside]  # [cells]
            accuracy = right.float().mean() if right.numel() else torch.zeros((), device=w.device)
        return l_map + l_shape, accuracy
