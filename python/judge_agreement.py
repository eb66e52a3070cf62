"""Cases on which the Python judge (flowedit_scenes/judge.py) and the Node judge must agree.

    .venv/bin/python python/judge_agreement.py --out DIR [--count 24]

Writes to DIR, for `count` scenes at 128×128 and 64×64: the render, the render with noise
(sigma 24/255, a model's grain), and the render with one object redrawn as a lumpy blob, each
as a PNG, with its target object's silhouette (PNG), and what the Python judge says of each
(check_caption, check_object, and the classification of every caption object's component).
Prints, as its last line, a JSON summary: {"cases": [...]} (test/bench/judge-agreement.test.ts).
"""

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flowedit_scenes import remove_object, render, render_masks, sample_scene  # noqa: E402
from flowedit_scenes.judge import (caption_parts, check_caption, check_object, classify,  # noqa: E402
                                   label_pixels, largest_component)
from judge_checks import blob_coverage, paint  # noqa: E402

STREAM = 8  # this check's scenes


def save_png(path: str, img: np.ndarray) -> np.ndarray:
    """Writes [H, W, 3] in [0, 1] as 8-bit RGB and returns what the file holds, in [0, 1]."""
    b = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    Image.fromarray(b, "RGB").save(path)
    return b.astype(np.float64) / 255.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=24)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cases = []
    for size in (128, 64):
        rng = np.random.default_rng([STREAM, size])
        for k in range(args.count):
            scene = sample_scene(rng, frames=1)
            objects, background = caption_parts(scene)
            i = int(rng.integers(len(objects)))
            truth = render_masks(scene, (size, size))[i, 0] >= 0.5  # [H, W]
            mask_file = f"{size}-{k}-truth.png"
            Image.fromarray((truth * 255).astype(np.uint8), "L").save(os.path.join(args.out, mask_file))
            clean = render(scene, (size, size))[0]  # [H, W, 3]
            variants = {
                "render": clean,
                "noise": clean + rng.normal(0, 24 / 255, clean.shape),
                "blob": paint(render(remove_object(scene, i), (size, size))[0],
                              blob_coverage("wobble", scene["objects"][i], size, rng), objects[i][0]),
            }
            for name, img in variants.items():
                file = f"{size}-{k}-{name}.png"
                held = save_png(os.path.join(args.out, file), img)
                labels = label_pixels(held)
                shapes = []
                for colour, _ in objects:
                    comp = largest_component(labels, colour)
                    shapes.append(None if comp is None else dict(zip(("shape", "iou"), classify(comp)), area=int(comp.sum())))
                cases.append({
                    "file": file, "truth": mask_file, "objects": objects, "background": background,
                    "target": list(objects[i]),
                    "caption": check_caption(held, objects, background),
                    "object": check_object(held, truth, *objects[i]),
                    "shapes": shapes,
                })
    print(json.dumps({"cases": cases}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
