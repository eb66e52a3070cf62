"""Training batches of the pixel-space recipe (train_pixel.py): the scene world, with a share of
the stills drawn as enlarged scenes, and the loss weighted on the objects.

Shape is a weak signal next to colour (docs/lab/built-in-model.md): an object of the usual size
covers a few per cent of the frame, and what tells two shapes apart (points, corners) a few pixels
of it. An enlarged still gives the shapes more pixels and nothing that looks like them around:

    enlarged still: one or two objects of half-size s ~ U(minHalfSize, 2 · maxHalfSize) (world.json:
                    0.09 to 0.34) on a plain or gradient background
    share of stills enlarged: p_big (0.4) in the first three quarters of the run, p_late (0.15) after,
                    so the run ends on the usual scenes

and the flow loss counts the objects' pixels 1 + λ times:

    w = 1 + λ · maxpool_3(cover)            # [B, 1, F, H, W], the objects grown by one pixel
    L = Σ w · (v − u)² / (C · Σ w)
"""

import multiprocessing
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np
import torch
from torch.nn import functional as F

from flowedit_scenes.render import render, render_masks
from flowedit_scenes.render_batch import plan
from flowedit_scenes.scene import Scene, caption, fits, sample_scene
from flowedit_scenes.world import BACKGROUND_COLOURS, OBJECT_COLOURS, SHAPES, WORLD

from .data import TRAIN_STREAM

ENLARGED_PATTERNS = ("plain", "gradient")


def enlarged_scene(rng: np.random.Generator, zoom: float = 2.0) -> Scene:
    """A still of one or two objects at up to `zoom` times the usual half-size on a plain or gradient
    background (colours and placement as sample_scene: no shared colours, objects never touch)."""
    cfg = WORLD["objects"]
    n = int(rng.integers(1, 3))
    for _ in range(1000):
        colours = [str(c) for c in rng.choice(OBJECT_COLOURS, size=n, replace=False)]
        bg = {"colour": str(rng.choice([c for c in BACKGROUND_COLOURS if c not in colours])),
              "pattern": str(rng.choice(ENLARGED_PATTERNS)), "angle": float(rng.choice([0, 45, 90, 135])),
              "period": float(rng.uniform(0.12, 0.25)), "phase": float(rng.uniform(0, 1)), "pan": [0.0, 0.0]}
        objs = []
        for c in colours:
            s = float(rng.uniform(cfg["minHalfSize"], zoom * cfg["maxHalfSize"]))
            x0, y0 = (float(v) for v in rng.uniform(s, 1 - s, size=2))
            objs.append({"colour": c, "shape": str(rng.choice(SHAPES)), "s": s, "start": [x0, y0], "end": [x0, y0], "bend": 0.0})
        scene = {"frames": 1, "background": bg, "objects": objs}
        if fits(scene):
            return scene
    raise RuntimeError("could not place the enlarged objects")


def enlarged_share(progress: float, p_big: float, p_late: float) -> float:
    """The share of stills drawn enlarged at `progress` (0..1) of the run: p_big, then p_late in the last quarter."""
    return p_big if progress < 0.75 else p_late


def shared_share(value: float = 0.0):
    """A float the training process sets and the data processes read (the enlarged share now)."""
    return multiprocessing.Value("d", value, lock=False)


class PixelStream(torch.utils.data.IterableDataset):
    """Endless batches of stills of batch_size scenes, each enlarged with the probability `share` holds
    when its batch is drawn, or with probability clip_p a batch of clip_batch clips of the usual scenes:
    (the batch, captions, token ids [B, L]). The batch is a render plan (render_batch.plan) to draw on the
    training device, or with rendered=True (a CPU run: at small sizes the numpy renderer is faster) its
    pixels [B, 3, F, H, W] in [-1, 1] and the objects' coverage [B, 1, F, H, W]."""

    def __init__(self, seed: int, size: int, batch_size: int, clip_p: float, clip_batch: int,
                 clip_frames: Tuple[int, ...], tokenize: Callable[[str], List[int]], share, rendered: bool = False):
        super().__init__()
        self.seed, self.size, self.batch_size, self.tokenize, self.share = seed, size, batch_size, tokenize, share
        self.clip_p, self.clip_batch, self.clip_frames, self.rendered = clip_p, clip_batch, clip_frames, rendered

    def __iter__(self) -> Iterator[Tuple]:
        info = torch.utils.data.get_worker_info()
        if info is not None:
            torch.set_num_threads(1)
        rng = np.random.default_rng([TRAIN_STREAM, self.seed, info.id if info is not None else 0, 11])
        while True:
            if self.clip_p > 0 and rng.uniform() < self.clip_p:
                frames = int(rng.choice(self.clip_frames))
                scenes = [sample_scene(rng, frames=frames) for _ in range(self.clip_batch)]
            else:
                p = float(self.share.value)
                scenes = [enlarged_scene(rng) if rng.uniform() < p else sample_scene(rng) for _ in range(self.batch_size)]
            captions = [caption(sc) for sc in scenes]
            ids = np.array([self.tokenize(c) for c in captions], dtype=np.int64)  # [B, L]
            yield (self._render(scenes) if self.rendered else plan(scenes, (self.size, self.size))), captions, ids

    def _render(self, scenes: List[Scene]) -> Tuple[torch.Tensor, torch.Tensor]:
        size = (self.size, self.size)
        pixels = np.stack([render(sc, size) for sc in scenes])  # [B, F, H, W, 3]
        cover = np.stack([render_masks(sc, size).max(axis=0, initial=0.0) for sc in scenes])  # [B, F, H, W]
        return (torch.from_numpy(pixels).permute(0, 4, 1, 2, 3) * 2.0 - 1.0,  # [B, 3, F, H, W]
                torch.from_numpy(cover)[:, None])  # [B, 1, F, H, W]


def object_weights(cover: torch.Tensor, lam: float) -> torch.Tensor:
    """Per-pixel loss weights 1 + λ · (the objects' coverage [B, 1, F, H, W] grown by one pixel)."""
    b, _, f, h, w = cover.shape
    grown = F.max_pool2d(cover.reshape(b * f, 1, h, w), 3, stride=1, padding=1)  # [B·F, 1, H, W]
    return 1.0 + lam * grown.view(b, 1, f, h, w)  # [B, 1, F, H, W]


def weighted_flow_loss(v: torch.Tensor, u: torch.Tensor, w: Optional[torch.Tensor]) -> torch.Tensor:
    """Σ w · (v − u)² / (C · Σ w) over v, u [B, C, F, H, W] and w [B, 1, F, H, W] (None: the plain mean)."""
    d2 = (v.float() - u) ** 2  # [B, C, F, H, W]
    if w is None:
        return d2.mean()
    return (d2 * w).sum() / (w.sum() * d2.shape[1])
