"""Checks of the scene renderer's rasteriser, run by test/bench/render.test.ts.

    .venv/bin/python python/render_checks.py OUT_DIR [CASE_ID ...]

- oracle: the grid rasteriser (render._inside) against the plain per-point even-odd test on
  every outline at random positions and sizes: the number of sample points where they differ;
- reproduce: each named held-out case's source and edited scene (scenes/heldout/index.json)
  rendered again and written to OUT_DIR as <id>.rgb and <id>-edit.rgb (uint8 RGB, frames top
  to bottom, rounded as make_benchmark.py saves them), for the test to compare with the
  committed PNGs byte for byte;
- batch: the torch renderer (render_batch, which a GPU run renders its batches with) against
  render.py on random stills and clips: the number of pixel values and mask values that differ;
- close_up: one-object stills at 128×128 and their close-ups (scene.close_up) at 64×64: the
  largest relative difference of the object's area in pixels, the smallest and largest ratio of
  the share of the frame it covers, whether the captions agree, whether a two-object scene is
  refused, and, for a training stream drawing only close-ups, the size of its first batch and the
  pixel values where the stream that renders and the one that hands render plans to the training
  device (drawn there by render_batch) differ.
Prints one JSON line of findings.
"""

import json
import os
import sys

import numpy as np

from flowedit_scenes import caption, close_up, render, render_masks, sample_scene
from flowedit_scenes.render_batch import draw, render_batch
from flowedit_train.data import SceneStream
from flowedit_scenes.render import OBJ_SS, _inside
from flowedit_scenes.world import OUTLINES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def inside_per_point(px: np.ndarray, py: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """The even-odd rule point by point: px, py [N] -> bool [N]."""
    x0, y0 = poly[:, 0], poly[:, 1]  # [M]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)  # [M]
    out = np.zeros(px.shape[0], dtype=bool)
    for n in range(px.shape[0]):
        hits = 0
        for m in range(poly.shape[0]):
            if (y0[m] > py[n]) != (y1[m] > py[n]):
                xc = x0[m] + (py[n] - y0[m]) * (x1[m] - x0[m]) / (y1[m] - y0[m])
                hits += px[n] < xc
        out[n] = hits % 2 == 1
    return out


def oracle_mismatches(rng: np.random.Generator) -> int:
    bad = 0
    for poly in OUTLINES.values():
        for _ in range(3):
            s, cx, cy = rng.uniform(0.05, 0.3), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
            xs = (np.arange(24 * OBJ_SS) + 0.5) / (128 * OBJ_SS) + cx - 12 / 128  # [C]
            ys = (np.arange(20 * OBJ_SS) + 0.5) / (128 * OBJ_SS) + cy - 10 / 128  # [R]
            u, v = (xs - cx) / s, (ys - cy) / s
            grid = _inside(u, v, poly)  # [R, C]
            vv, uu = np.meshgrid(v, u, indexing="ij")  # [R, C]
            bad += int(np.count_nonzero(grid.ravel() != inside_per_point(uu.ravel(), vv.ravel(), poly)))
    return bad


def batch_mismatches(rng: np.random.Generator) -> dict:
    """render_batch against render/render_masks on 32 stills, 3 clips of 17 frames and 4 of 5
    frames at 128×128 and on 8 stills at 96×64."""
    pixels = masks = 0
    for frames, count, size in ((1, 32, (128, 128)), (17, 3, (128, 128)), (5, 4, (128, 128)), (1, 8, (96, 64))):
        scenes = [sample_scene(rng, frames=frames) for _ in range(count)]
        got, cover = render_batch(scenes, size, "cpu", masks=True)  # [B, F, H, W, 3], [B, 1, F, H, W]
        want = np.stack([render(sc, size) for sc in scenes])  # [B, F, H, W, 3]
        want_cover = np.stack([render_masks(sc, size).max(axis=0) for sc in scenes])[:, None]  # [B, 1, F, H, W]
        pixels += int(np.count_nonzero(got.numpy() != want))
        masks += int(np.count_nonzero(cover.numpy() != want_cover))
    return {"pixel_values": pixels, "mask_values": masks}


def close_up_findings(rng: np.random.Generator) -> dict:
    """16 one-object stills at 128×128 against their close-ups at 64×64."""
    area_diff, share_ratios, captions_agree = 0.0, [], True
    for _ in range(16):
        scene = sample_scene(rng, frames=1, count=1)
        near = close_up(scene)
        far_cover = render_masks(scene, (128, 128))[0].sum()  # object pixels at 128×128
        near_cover = render_masks(near, (64, 64))[0].sum()  # at 64×64
        area_diff = max(area_diff, abs(near_cover - far_cover) / far_cover)
        share_ratios.append((near_cover / 64 ** 2) / (far_cover / 128 ** 2))
        captions_agree = captions_agree and caption(near) == caption(scene)
    try:
        close_up(sample_scene(rng, frames=1, count=2))
        refused = False
    except ValueError:
        refused = True
    rendered, rendered_captions = next(iter(SceneStream(7, 128, 4, 0.0, 1, (1,), close_p=1.0)))  # [8, 3, 1, 64, 64]
    planned, planned_captions, _, _ = next(iter(SceneStream(7, 128, 4, 0.0, 1, (1,), close_p=1.0, scenes_only=True,
                                                         tokenize=lambda c: [0])))
    drawn = draw(planned)[0].permute(0, 4, 1, 2, 3) * 2.0 - 1.0  # [8, 3, 1, 64, 64] in [-1, 1]
    streams_differ = int((drawn != rendered).sum()) + (0 if planned_captions == rendered_captions else 1)
    return {"area_rel_diff": round(float(area_diff), 4), "share_ratio": [round(float(min(share_ratios)), 3),
            round(float(max(share_ratios)), 3)], "captions_agree": captions_agree, "two_objects_refused": refused,
            "stream_batch": list(rendered.shape), "streams_differ": streams_differ}


def as_bytes(frames: np.ndarray) -> bytes:
    """[F, H, W, 3] in [0, 1] -> uint8 RGB, frames stacked top to bottom."""
    return np.round(frames.reshape(-1, *frames.shape[2:]) * 255).astype(np.uint8).tobytes()


def main() -> int:
    out, ids = sys.argv[1], sys.argv[2:]
    with open(os.path.join(REPO, "scenes/heldout/index.json"), encoding="utf-8") as f:
        cases = {c["id"]: c for c in json.load(f)["cases"]}
    for case_id in ids:
        c = cases[case_id]
        size = tuple(c["size"])
        for suffix, scene in (("", c["scene"]), ("-edit", c["editedScene"])):
            with open(os.path.join(out, f"{case_id}{suffix}.rgb"), "wb") as f:
                f.write(as_bytes(render(scene, size)))
    print(json.dumps({"oracle_mismatches": oracle_mismatches(np.random.default_rng(0)),
                      "batch_mismatches": batch_mismatches(np.random.default_rng(1)),
                      "close_up": close_up_findings(np.random.default_rng(2)), "written": ids}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
