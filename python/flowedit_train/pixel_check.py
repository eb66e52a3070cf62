"""The in-run check of the pixel-space recipe: does the model draw its captions?

Every --check-every seconds of wall clock (train_pixel.py) the EMA weights sample the stills of a
fixed set of held-out captions and the strict judge (flowedit_scenes.judge.check_caption) scores
them: per-object shape right, per-object colour present, background colour and whole caption.

    scenes:   sample_scene(default_rng([CHECK_STREAM, i])), i < count (no training seed is of this stream)
    sampling: x_1 = ε (the same noise at every check), t_k = 1 − k/K, Euler
              x_{t_{k+1}} = x_{t_k} + (t_{k+1} − t_k) · ṽ,  ṽ = v(x, t, ∅) + g · (v(x, t, c) − v(x, t, ∅))
              with g the pack's guidance (classifier-free, empty prompt for ∅), stills at the run's size
    ceiling:  the same judge on the renderer's own stills of the same scenes (what a perfect model scores)
    chance:   the same judge on the starting noise (what a model that draws nothing scores)
"""

from contextlib import nullcontext
from typing import Dict, List, Sequence

import numpy as np
import torch

from flowedit_scenes.render_batch import plan, draw
from flowedit_scenes.scene import caption, sample_scene

from flowedit_scenes.judge import caption_parts, check_caption

CHECK_STREAM = 5


def check_scenes(count: int) -> List[Dict]:
    """The check's held-out scenes, drawn from their own seed stream."""
    return [sample_scene(np.random.default_rng([CHECK_STREAM, i])) for i in range(count)]


def score(images: np.ndarray, scenes: Sequence[Dict]) -> Dict[str, float]:
    """Stills [N, H, W, 3] in [0, 1] judged against their scenes' captions: the share of objects
    whose shape is right (shape) and whose colour is there (colour), of backgrounds right and of
    whole captions right."""
    objects, coloured, backgrounds, full = [], [], [], []
    for img, scene in zip(images, scenes):
        parts, bg = caption_parts(scene)
        verdict = check_caption(img, parts, bg)
        objects += verdict["objects"]
        coloured += verdict["coloured"]
        backgrounds.append(verdict["background"])
        full.append(verdict["full"])
    return {"shape": float(np.mean(objects)), "colour": float(np.mean(coloured)),
            "background": float(np.mean(backgrounds)), "caption": float(np.mean(full))}


class InRunCheck:
    """The held-out captions, their token ids and fixed noise, for sampling and scoring a run's EMA weights."""

    def __init__(self, size: int, count: int, steps: int, guidance: float, tokenize, dev, chunk: int = 64):
        self.size, self.steps, self.guidance, self.dev, self.chunk = size, steps, guidance, dev, chunk
        self.scenes = check_scenes(count)
        self.ids = torch.tensor([tokenize(caption(sc)) for sc in self.scenes], dtype=torch.int64)  # [N, L]
        self.empty = tokenize.empty  # [L]
        gen = torch.Generator().manual_seed(CHECK_STREAM)
        self.noise = torch.randn(count, 3, 1, size, size, generator=gen)  # [N, 3, 1, H, W]

    def ceiling(self) -> Dict[str, float]:
        """The judge on the renderer's own stills of the check's scenes at the run's size."""
        pixels, _ = draw(plan(self.scenes, (self.size, self.size)), "cpu")  # [N, 1, H, W, 3]
        return score(pixels[:, 0].numpy(), self.scenes)

    def chance(self) -> Dict[str, float]:
        """The judge on the check's starting noise itself (clamped to [0, 1]): what a model that draws
        nothing scores by chance."""
        return score(((self.noise[:, :, 0].clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy(), self.scenes)

    @torch.no_grad()
    def sample(self, dit, te, bf16: bool = False) -> np.ndarray:
        """Stills [N, H, W, 3] in [0, 1] sampled from (dit, te) for the check's captions."""
        out = []
        amp = torch.autocast(torch.device(self.dev).type, dtype=torch.bfloat16) if bf16 else nullcontext()
        for i in range(0, self.ids.shape[0], self.chunk):
            ids = self.ids[i : i + self.chunk].to(self.dev)  # [n, L]
            n = ids.shape[0]
            both = torch.cat([ids, self.empty[None].expand(n, -1).to(self.dev)])  # [2n, L]: caption, then ∅
            with amp:
                text, pooled = te(both)  # [2n, L, D], [2n, P]
            x = self.noise[i : i + n].to(self.dev)  # [n, 3, 1, H, W]
            for k in range(self.steps):
                t0, t1 = 1.0 - k / self.steps, 1.0 - (k + 1) / self.steps
                t = torch.full((2 * n,), t0, device=self.dev)  # [2n]
                with amp:
                    v, _ = dit(torch.cat([x, x]), t, text, pooled=pooled)  # [2n, 3, 1, H, W]
                v_c, v_u = v.float().chunk(2)  # [n, 3, 1, H, W] each
                x = x + (t1 - t0) * (v_u + self.guidance * (v_c - v_u))  # [n, 3, 1, H, W]
            out.append(((x[:, :, 0].clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu())  # [n, H, W, 3]
        return torch.cat(out).numpy()

    def run(self, dit, te, bf16: bool = False) -> Dict[str, float]:
        return score(self.sample(dit, te, bf16), self.scenes)
