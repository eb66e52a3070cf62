"""Training only: the straight path rectified flow learns, x_t = (1 − t)·x_0 + t·ε, and the
velocity along it, u = dx_t/dt = ε − x_0 (the target of the flow loss)."""

from typing import Tuple

import torch


def on_path(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """x0, eps [B, C, F, H', W'] and t [B] -> (x_t [B, C, F, H', W'], u [B, C, F, H', W'])."""
    tt = t.view(-1, 1, 1, 1, 1)
    return (1 - tt) * x0 + tt * eps, eps - x0
