"""Write the benchmark's held-out scenes to scenes/heldout/ (deterministic).

    .venv/bin/python python/make_benchmark.py [--out scenes/heldout] [--stills 50] [--clips 16]

Scene i is drawn from numpy's generator seeded [HELDOUT_STREAM, kind, i]; training only draws
from [TRAIN_STREAM, ...] (flowedit_train/data.py), so none of these scenes was seen in training.
Each case gets one edit with a known answer (an object's shape swapped, or its colour changed),
and the files:
  <id>.png          the source render (a clip is its frames stacked top to bottom)
  <id>-edit.png     the ground-truth render of the edited scene
  <id>-mask.png     coverage of the edited object in the source (grayscale, white = object)
  <id>-edit-mask.png  coverage of the edited object in the ground truth
index.json lists every case: caption, target caption, the edit, object boxes per frame and the
structured scene descriptions, so each render can be reproduced.
"""

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

from flowedit_scenes import caption, object_position, random_edit, render, render_masks, sample_scene
from flowedit_train.data import HELDOUT_STREAM

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 128
FRAMES = 17


def strip(frames: np.ndarray) -> np.ndarray:
    """[F, H, W, ...] -> [F·H, W, ...] (frames top to bottom)."""
    return frames.reshape(-1, *frames.shape[2:])


def save_rgb(path: str, frames: np.ndarray) -> None:
    Image.fromarray(np.round(strip(frames) * 255).astype(np.uint8), "RGB").save(path, optimize=True)


def save_mask(path: str, cov: np.ndarray) -> None:
    Image.fromarray(np.round(strip(cov) * 255).astype(np.uint8), "L").save(path, optimize=True)


def centres(obj: Dict[str, Any], frames: int) -> List[List[float]]:
    """The object's centre per frame, in pixels."""
    return [[round(c * SIZE, 3) for c in object_position(obj, f, frames)] for f in range(frames)]


def make_case(kind: str, i: int, out: str) -> Dict[str, Any]:
    frames = 1 if kind == "still" else FRAMES
    rng = np.random.default_rng([HELDOUT_STREAM, 0 if kind == "still" else 1, i])
    scene = sample_scene(rng, frames=frames)
    edit_kind, j, edited, change = random_edit(rng, scene)
    case_id = f"{kind}-{i:03d}"
    save_rgb(os.path.join(out, f"{case_id}.png"), render(scene, (SIZE, SIZE)))
    save_rgb(os.path.join(out, f"{case_id}-edit.png"), render(edited, (SIZE, SIZE)))
    save_mask(os.path.join(out, f"{case_id}-mask.png"), render_masks(scene, (SIZE, SIZE))[j])
    save_mask(os.path.join(out, f"{case_id}-edit-mask.png"), render_masks(edited, (SIZE, SIZE))[j])
    obj = edited["objects"][j]
    return {
        "id": case_id,
        "kind": kind,
        "frames": frames,
        "size": [SIZE, SIZE],
        "caption": caption(scene),
        "targetCaption": caption(edited),
        "edit": {"kind": edit_kind, "object": j, **change},
        "target": {"colour": obj["colour"], "shape": obj["shape"], "centres": centres(obj, frames)},
        "objects": [{"colour": o["colour"], "shape": o["shape"], "centres": centres(o, frames)} for o in scene["objects"]],
        "background": scene["background"]["colour"],
        "scene": scene,
        "editedScene": edited,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Write the benchmark's held-out scenes.")
    p.add_argument("--out", default=os.path.join(REPO, "scenes", "heldout"))
    p.add_argument("--stills", type=int, default=50)
    p.add_argument("--clips", type=int, default=16)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    cases = [make_case("still", i, args.out) for i in range(args.stills)]
    cases += [make_case("clip", i, args.out) for i in range(args.clips)]
    index = {"format": "flowedit.benchmark", "version": 1, "size": [SIZE, SIZE], "clipFrames": FRAMES,
             "world": "scenes/world.json", "generator": "python/make_benchmark.py", "cases": cases}
    with open(os.path.join(args.out, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"{args.out}: {len(cases)} cases, {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
