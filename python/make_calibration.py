"""Write a calibration set for `flowedit layers` (deterministic in --seed).

    .venv/bin/python python/make_calibration.py --seed 0 [--per-task 6] [--out scenes/calibration/seed-0]

Stills of the scene world drawn from numpy's generator seeded [CALIBRATION_STREAM, seed, task, i]:
training draws from stream 1, the benchmark from 2 and the samples from 4, so no calibration scene
is a training or benchmark scene. Each task gets --per-task cases with a known right answer:
  swap       an object's shape swapped (the mask covers the object before and after)
  recolor    an object recoloured (mask: the object)
  insert     an object added in free space (mask: the new object)
  remove     an object removed (mask: the object; the target caption leaves it out)
  text-edit  a shape swap or a recolour, edited by prompt alone (the mask only marks where the
             edit may change pixels, for measuring the background)
Files per case: <id>.png (source), <id>-edit.png (ground truth), <id>-mask.png (white = edit
region: the coverage of the changed object in the source and in the ground truth, joined),
<id>-object.png (coverage of the object `check` names).
calibration.json lists the cases in the format docs/calibration.md describes; `check` names the
object the ground truth has (or, for remove, no longer has) inside the mask.
"""

import argparse
import json
import os
import sys
from typing import Any, Dict, Optional, Sequence

import numpy as np

from flowedit_scenes import add_object, caption, recolour, remove_object, render, render_masks, sample_scene, swap_shape
from flowedit_scenes.world import OBJECT_COLOURS, SHAPES
from make_benchmark import SIZE, save_mask, save_rgb

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALIBRATION_STREAM = 5
TASKS = ("swap", "recolor", "insert", "remove", "text-edit")


def edited_scene(rng: np.random.Generator, task: str, scene: Dict[str, Any]):
    """(edited scene, index of the changed object in the source or None, in the edit or None, kind)."""
    i = int(rng.integers(len(scene["objects"])))
    obj = scene["objects"][i]
    used = {o["colour"] for o in scene["objects"]} | {scene["background"]["colour"]}
    kind = task if task != "text-edit" else str(rng.choice(["swap", "recolor"]))
    if kind == "swap":
        return swap_shape(scene, i, str(rng.choice([s for s in SHAPES if s != obj["shape"]]))), i, i
    if kind == "recolor":
        return recolour(scene, i, str(rng.choice([c for c in OBJECT_COLOURS if c not in used]))), i, i
    if kind == "remove":
        return remove_object(scene, i), i, None
    added = add_object(rng, scene)
    return added, None, (len(added["objects"]) - 1 if added is not None else None)


def make_case(seed: int, task: str, i: int, out: str) -> Dict[str, Any]:
    rng = np.random.default_rng([CALIBRATION_STREAM, seed, TASKS.index(task), i])
    for _ in range(100):
        # remove needs an object to remain, insert needs room for one more
        scene = sample_scene(rng, 1, count=int(rng.integers(2, 4)) if task == "remove" else int(rng.integers(1, 3)))
        edited, src_j, dst_j = edited_scene(rng, task, scene)
        if edited is not None:
            break
    else:
        raise RuntimeError(f"no {task} edit fits scene {i}")
    cover = np.zeros((1, SIZE, SIZE), dtype=np.float32)  # [F, H, W]
    if src_j is not None:
        cover = np.maximum(cover, render_masks(scene, (SIZE, SIZE))[src_j])
    if dst_j is not None:
        cover = np.maximum(cover, render_masks(edited, (SIZE, SIZE))[dst_j])
    case_id = f"{task}-{i:03d}"
    save_rgb(os.path.join(out, f"{case_id}.png"), render(scene, (SIZE, SIZE)))
    save_rgb(os.path.join(out, f"{case_id}-edit.png"), render(edited, (SIZE, SIZE)))
    save_mask(os.path.join(out, f"{case_id}-mask.png"), cover)
    # the object `check` names: in the ground truth, or for remove in the source
    obj_cover = render_masks(edited, (SIZE, SIZE))[dst_j] if dst_j is not None else render_masks(scene, (SIZE, SIZE))[src_j]
    save_mask(os.path.join(out, f"{case_id}-object.png"), obj_cover)
    obj = edited["objects"][dst_j] if dst_j is not None else scene["objects"][src_j]
    return {
        "id": case_id,
        "task": task,
        "image": f"{case_id}.png",
        "sourcePrompt": caption(scene),
        "targetPrompt": caption(edited),
        "mask": f"{case_id}-mask.png",
        "expected": f"{case_id}-edit.png",
        "check": {"colour": obj["colour"], "shape": obj["shape"], "present": dst_j is not None, "mask": f"{case_id}-object.png"},
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Write a calibration set for flowedit layers.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-task", type=int, default=6)
    p.add_argument("--out", default=None, help="default: scenes/calibration/seed-<seed>")
    args = p.parse_args(argv)
    out = args.out or os.path.join(REPO, "scenes", "calibration", f"seed-{args.seed}")
    os.makedirs(out, exist_ok=True)
    cases = [make_case(args.seed, task, i, out) for task in TASKS for i in range(args.per_task)]
    index = {"format": "flowedit.calibration", "version": 1, "world": "../../world.json",
             "generator": f"python/make_calibration.py --seed {args.seed} --per-task {args.per_task}", "cases": cases}
    with open(os.path.join(out, "calibration.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"{out}: {len(cases)} cases, {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
