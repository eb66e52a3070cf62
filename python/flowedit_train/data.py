"""Training batches rendered on the fly from the scene world.

Seeds: training draws scenes from numpy generators seeded [TRAIN_STREAM, worker, k]; the
benchmark's held-out scenes use [HELDOUT_STREAM, i] (python/make_benchmark.py), so no
held-out scene is ever drawn in training.
"""

from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np
import torch

from flowedit_scenes import caption, close_up, render, render_masks, sample_scene
from flowedit_scenes.render_batch import plan

TRAIN_STREAM = 1
HELDOUT_STREAM = 2


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """[F, H, W, 3] in [0, 1] -> [3, F, H, W] in [-1, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2) * 2.0 - 1.0


def batch(rng: np.random.Generator, size: int, count: int, frames: int) -> Tuple[torch.Tensor, List[str]]:
    """count scenes of `frames` frames: (pixels [B, 3, F, H, W] in [-1, 1], captions)."""
    pixels, captions, _ = batch_with_masks(rng, size, count, frames, masks=False)
    return pixels, captions


def draw_scene(rng: np.random.Generator, frames: int, close: bool):
    """One training scene; a close-up (close_up, one object, to render at half the size) when close."""
    return close_up(sample_scene(rng, frames=1, count=1)) if close else sample_scene(rng, frames=frames)


def batch_with_masks(rng: np.random.Generator, size: int, count: int, frames: int,
                     masks: bool = True, close: bool = False) -> Tuple[torch.Tensor, List[str], Optional[torch.Tensor]]:
    """As batch, plus (with masks) the union of the objects' coverage [B, 1, F, H, W] in [0, 1].
    close: one-object close-ups (scene.close_up), for a size half the stream's."""
    pixels, captions, covers = [], [], []
    for _ in range(count):
        scene = draw_scene(rng, frames, close)
        pixels.append(to_tensor(render(scene, (size, size))))  # [3, F, H, W]
        captions.append(caption(scene))
        if masks:
            covers.append(torch.from_numpy(render_masks(scene, (size, size)).max(axis=0))[None])  # [1, F, H, W]
    return torch.stack(pixels), captions, (torch.stack(covers) if masks else None)


class SceneStream(torch.utils.data.IterableDataset):
    """Endless batches: stills of `batch_size`, or with probability clip_p a clip batch of
    clip_batch clips with a frame count drawn from clip_frames.

    With an `encode` function (pixels -> latents) the stream yields latents instead of
    pixels, so a CPU run encodes in the data process, beside the training process. With
    masks=True each batch also carries the objects' coverage [B, 1, F, H, W] (pixel size).

    With scenes_only=True the stream renders nothing, for a run that renders its batches on its own
    device: it yields each batch's render plan (render_batch.plan, the scenes as arrays), the
    captions and their token ids [B, L] from `tokenize` (caption -> ids): the same scenes, in the
    same order, as the rendering stream draws with the same seed, and a fourth item: None, or with
    a `negatives` function (scenes, generator, tokenize) -> anything, for a batch of full-size
    stills, what it gives from a generator of its own, so the scenes stay those of a run without it
    (the caption contrast trial, python/experiments/caption_contrast.py).

    With close_p > 0 (a trial, python/experiments/trials.py), that share of the still batches are close-ups instead: 2 × batch_size
    one-object stills seen twice as close (scene.close_up) and rendered at half the size, so an
    object keeps its size in pixels (and so in latent cells and tokens) while it takes four times
    the share of the frame, and of the loss."""

    def __init__(self, seed: int, size: int, batch_size: int, clip_p: float, clip_batch: int,
                 clip_frames: Tuple[int, ...], encode: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                 masks: bool = False, scenes_only: bool = False,
                 tokenize: Optional[Callable[[str], List[int]]] = None, close_p: float = 0.0,
                 negatives: Optional[Callable] = None):
        super().__init__()
        self.seed, self.size, self.batch_size = seed, size, batch_size
        self.clip_p, self.clip_batch, self.clip_frames, self.close_p = clip_p, clip_batch, clip_frames, close_p
        self.encode, self.masks, self.scenes_only, self.tokenize = encode, masks, scenes_only, tokenize
        if negatives is not None and not scenes_only:
            raise ValueError("negatives need scenes_only (they go with the render plans)")
        self.negatives = negatives

    def __iter__(self) -> Iterator[Tuple]:
        if torch.utils.data.get_worker_info() is not None:
            torch.set_num_threads(1)
        if self.scenes_only:
            neg_rng = np.random.default_rng([TRAIN_STREAM, self.seed, self._worker(), 7])
            for count, frames, size, rng, close in self._draws():
                scenes = [draw_scene(rng, frames, close) for _ in range(count)]
                captions = [caption(sc) for sc in scenes]
                ids = np.array([self.tokenize(c) for c in captions], dtype=np.int64)  # [B, L]
                still = self.negatives is not None and frames == 1 and not close
                yield plan(scenes, (size, size)), captions, ids, (self.negatives(scenes, neg_rng, self.tokenize) if still else None)
            return
        for pixels, captions, cover in self._batches():
            if self.encode is not None:
                with torch.no_grad():
                    pixels = self.encode(pixels)
            yield (pixels, captions, cover) if self.masks else (pixels, captions)

    def _draws(self) -> Iterator[Tuple[int, int, int, np.random.Generator, bool]]:
        """(scene count, frame count, frame size, the generator to draw them from, close-ups or not) for each batch."""
        rng = np.random.default_rng([TRAIN_STREAM, self.seed, self._worker()])
        while True:
            if self.clip_p > 0 and rng.uniform() < self.clip_p:
                yield self.clip_batch, int(rng.choice(self.clip_frames)), self.size, rng, False
            elif self.close_p > 0 and rng.uniform() < self.close_p:
                yield 2 * self.batch_size, 1, self.size // 2, rng, True
            else:
                yield self.batch_size, 1, self.size, rng, False

    @staticmethod
    def _worker() -> int:
        info = torch.utils.data.get_worker_info()
        return info.id if info is not None else 0

    def _batches(self) -> Iterator[Tuple[torch.Tensor, List[str], Optional[torch.Tensor]]]:
        for count, frames, size, rng, close in self._draws():
            yield batch_with_masks(rng, size, count, frames, self.masks, close)


def loader(stream: SceneStream, workers: int):
    if workers == 0:  # render in this process (torch 1.13 rejects any prefetch_factor here)
        return torch.utils.data.DataLoader(stream, batch_size=None, num_workers=0)
    return torch.utils.data.DataLoader(
        stream, batch_size=None, num_workers=workers, persistent_workers=True, prefetch_factor=4,
    )
