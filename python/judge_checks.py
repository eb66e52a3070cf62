"""The strict judge's threshold, measured on the renderer's own ground truth.

    .venv/bin/python python/judge_checks.py --scenes 300 --sizes 128 64 32 --out bench/results/judge-calibration.json

For random scenes of the training world (their own seed stream, never the benchmark's), at each
size:
- true shapes: every object of the render, judged as generation is (the strict shape test and
  the lenient rule it replaces; the table's thresholds are SHAPE_IOU's) and as an edit is
  (check_object against its own silhouette; the thresholds are PLACE_IOU's, SHAPE_IOU held);
- blobs: each object redrawn, in its colour and at its place and size, as something that is not
  its shape, then judged as that shape:
    disc     a disc of the object's area (not counted for circles),
    rounded  the object's own silhouette blurred (Gaussian, sigma 0.3 s) and cut at one half: its
             corners and points rounded off (not counted for circles),
    wobble   a lumpy closed curve r(theta) = r0 (1 + a2 cos(2 theta + p2) + a3 cos(3 theta + p3)),
             a2, a3 ~ U(0.12, 0.25), of the object's area,
    ellipse  an ellipse of the object's area with axes 1.5 : 1;
- the share that passes at each candidate threshold, per shape.
The lenient rule is the judge before this one: the shape whose outline stretched over the
component's bounding box overlaps it best, with no minimum.
Writes a JSON summary and prints a table.
"""

import argparse
import json
import math
import os
import sys
from typing import Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flowedit_scenes import remove_object, render, render_masks, sample_scene  # noqa: E402
from flowedit_scenes.judge import (PLACE_IOU, SHAPE_IOU, check_object, classify, label_pixels,  # noqa: E402
                                   largest_component, grow, MIN_OBJECT_AREA)
from flowedit_scenes.world import COLOURS, OUTLINES, SHAPES  # noqa: E402

STREAM = 7  # this check's scenes: not the training stream (1) nor the benchmark's (2)
SS = 4  # supersampling of the blobs' coverage, as the renderer's objects
THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
BLOBS = ("disc", "rounded", "wobble", "ellipse")


def lenient_shape(comp: np.ndarray) -> str:
    """The judge before the strict one: outlines stretched over the component's box, best IoU."""
    ys, xs = np.nonzero(comp)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    gy, gx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
    c = comp[y0:y1 + 1, x0:x1 + 1]
    best, name = -1.0, ""
    for shape, poly in OUTLINES.items():
        mn, mx = poly.min(axis=0), poly.max(axis=0)
        u = mn[0] + (gx + 0.5 - x0) / (x1 + 1 - x0) * (mx[0] - mn[0])
        v = mn[1] + (gy + 0.5 - y0) / (y1 + 1 - y0) * (mx[1] - mn[1])
        from flowedit_scenes.judge import _inside
        a = _inside(u.ravel(), v.ravel(), poly).reshape(c.shape)
        iou = np.count_nonzero(a & c) / max(1, np.count_nonzero(a | c))
        if iou > best:
            best, name = iou, shape
    return name


def edit_score(chk: Dict, shape: str) -> float:
    """The edit check's overlap with the true silhouette when the strict shape test passes, else 0,
    so the table's thresholds apply to PLACE_IOU with SHAPE_IOU held."""
    return chk["iou"] if chk["shape"] == shape and chk["shapeIou"] >= SHAPE_IOU else 0.0


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of [H, W]."""
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    out = np.apply_along_axis(lambda m: np.convolve(np.pad(m, r, mode="edge"), k, mode="valid"), 0, img)
    return np.apply_along_axis(lambda m: np.convolve(np.pad(m, r, mode="edge"), k, mode="valid"), 1, out)


def blob_coverage(kind: str, obj: Dict, size: int, rng: np.random.Generator) -> np.ndarray:
    """Anti-aliased coverage [H, W] of a blob standing in for `obj` (a still's object)."""
    n = size * SS
    g = (np.arange(n) + 0.5) / n  # fine grid, fractions of the side
    v, u = np.meshgrid(g, g, indexing="ij")  # [n, n]
    cx, cy = obj["start"]
    s = obj["s"]
    x, y = (u - cx) / s, (v - cy) / s  # object units
    from flowedit_scenes.judge import MOMENTS
    area = MOMENTS[obj["shape"]][0]  # the object's area in object units
    if kind == "disc":
        fine = x * x + y * y <= area / math.pi
    elif kind == "ellipse":
        b = math.sqrt(area / (math.pi * 1.5))
        fine = (x / (1.5 * b)) ** 2 + (y / b) ** 2 <= 1
    elif kind == "wobble":
        a2, a3 = rng.uniform(0.12, 0.25, size=2)
        p2, p3 = rng.uniform(0, 2 * math.pi, size=2)
        r0 = math.sqrt(area / (math.pi * (1 + (a2 * a2 + a3 * a3) / 2)))
        th = np.arctan2(y, x)
        fine = np.hypot(x, y) <= r0 * (1 + a2 * np.cos(2 * th + p2) + a3 * np.cos(3 * th + p3))
    elif kind == "rounded":
        sil = render_masks({"frames": 1, "background": None, "objects": [obj]}, (n, n))[0, 0]  # [n, n]
        fine = blur(sil, 0.3 * s * n) >= 0.5
    else:
        raise ValueError(kind)
    return fine.reshape(size, SS, size, SS).mean(axis=(1, 3)).astype(np.float32)


def paint(base: np.ndarray, cov: np.ndarray, colour: str) -> np.ndarray:
    c = np.array(COLOURS[colour], dtype=np.float32) / 255.0
    return base * (1 - cov[..., None]) + c * cov[..., None]


def quantise(img: np.ndarray) -> np.ndarray:
    """As a PNG keeps it: 8 bits."""
    return np.round(np.clip(img, 0, 1) * 255) / 255


def run(size: int, scenes: int) -> Dict:
    rng = np.random.default_rng([STREAM, size])
    true_gen: Dict[str, List[float]] = {k: [] for k in SHAPES}  # best-fit IoU when the true shape wins, else 0
    true_lenient: Dict[str, List[bool]] = {k: [] for k in SHAPES}
    true_edit: Dict[str, List[float]] = {k: [] for k in SHAPES}
    blob_gen: Dict[str, Dict[str, List[float]]] = {b: {k: [] for k in SHAPES} for b in BLOBS}
    blob_lenient: Dict[str, Dict[str, List[bool]]] = {b: {k: [] for k in SHAPES} for b in BLOBS}
    blob_edit: Dict[str, Dict[str, List[float]]] = {b: {k: [] for k in SHAPES} for b in BLOBS}
    small = 0
    min_area = MIN_OBJECT_AREA * size * size / (128 * 128)
    for _ in range(scenes):
        scene = sample_scene(rng, frames=1)
        img = quantise(render(scene, (size, size))[0])  # [H, W, 3]
        masks = render_masks(scene, (size, size))[:, 0] >= 0.5  # [N, H, W]
        labels = label_pixels(img)
        for i, obj in enumerate(scene["objects"]):
            comp = largest_component(labels, obj["colour"])
            if comp is None or comp.sum() < min_area:
                small += 1
                true_gen[obj["shape"]].append(0.0)
                true_lenient[obj["shape"]].append(False)
            else:
                name, iou = classify(comp)
                true_gen[obj["shape"]].append(iou if name == obj["shape"] else 0.0)
                true_lenient[obj["shape"]].append(lenient_shape(comp) == obj["shape"])
            true_edit[obj["shape"]].append(edit_score(check_object(img, masks[i], obj["colour"], obj["shape"]), obj["shape"]))
            base = render(remove_object(scene, i), (size, size))[0]
            for kind in BLOBS:
                if obj["shape"] == "circle" and kind in ("disc", "rounded"):
                    continue
                out = quantise(paint(base, blob_coverage(kind, obj, size, rng), obj["colour"]))
                lab = label_pixels(out)
                bc = largest_component(lab, obj["colour"])
                if bc is None or bc.sum() < min_area:
                    blob_gen[kind][obj["shape"]].append(0.0)
                    blob_lenient[kind][obj["shape"]].append(False)
                else:
                    name, iou = classify(bc)
                    blob_gen[kind][obj["shape"]].append(iou if name == obj["shape"] else 0.0)
                    blob_lenient[kind][obj["shape"]].append(lenient_shape(bc) == obj["shape"])
                blob_edit[kind][obj["shape"]].append(edit_score(check_object(out, masks[i], obj["colour"], obj["shape"]), obj["shape"]))

    def rates(d: Dict[str, List[float]], chosen: float) -> Dict:
        every = [v for vs in d.values() for v in vs]
        return {
            "n": len(every),
            "pass": {str(t): float(np.mean([v >= t for v in every])) if every else None for t in THRESHOLDS},
            "perShape": {k: {"n": len(vs), "pass": float(np.mean([v >= chosen for v in vs])) if vs else None}
                         for k, vs in d.items()},
        }

    def lenient(d: Dict[str, List[bool]]) -> float:
        every = [v for vs in d.values() for v in vs]
        return float(np.mean(every)) if every else float("nan")

    return {
        "size": size,
        "scenes": scenes,
        "belowMinArea": small,
        "true": {"generation": rates(true_gen, SHAPE_IOU), "edit": rates(true_edit, PLACE_IOU), "lenient": lenient(true_lenient)},
        "blobs": {k: {"generation": rates(blob_gen[k], SHAPE_IOU), "edit": rates(blob_edit[k], PLACE_IOU), "lenient": lenient(blob_lenient[k])}
                  for k in BLOBS},
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenes", type=int, default=300)
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 64, 32])
    p.add_argument("--out", default=None)
    args = p.parse_args()
    results = [run(size, args.scenes) for size in args.sizes]
    for r in results:
        print(f"\n{r['size']}×{r['size']}: {r['scenes']} scenes, {r['true']['generation']['n']} objects "
              f"({r['belowMinArea']} below the minimum area)")
        head = "  " + "what".ljust(26) + "".join(f"{t:>7}" for t in THRESHOLDS) + "  lenient"
        print(head)
        rows = [("true shape, generation", r["true"]["generation"], r["true"]["lenient"]),
                ("true shape, edit", r["true"]["edit"], None)]
        for k in BLOBS:
            rows.append((f"{k}, generation", r["blobs"][k]["generation"], r["blobs"][k]["lenient"]))
            rows.append((f"{k}, edit", r["blobs"][k]["edit"], None))
        for name, rt, len_ in rows:
            print("  " + name.ljust(26) + "".join(f"{100 * rt['pass'][str(t)]:6.1f}%" for t in THRESHOLDS)
                  + (f"  {100 * len_:6.1f}%" if len_ is not None else ""))
        print(f"  per shape at the chosen thresholds (true generation at {SHAPE_IOU} / true edit at {PLACE_IOU}):",
              ", ".join(f"{k} {100 * r['true']['generation']['perShape'][k]['pass']:.1f}/{100 * r['true']['edit']['perShape'][k]['pass']:.1f}"
                        for k in SHAPES))
        for k in BLOBS:
            ps = r["blobs"][k]["generation"]["perShape"]
            print(f"  {k} passing as its shape, per shape (generation):",
                  ", ".join(f"{s} {100 * ps[s]['pass']:.1f}" for s in SHAPES if ps[s]["pass"] is not None))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"shapeIou": SHAPE_IOU, "placeIou": PLACE_IOU, "results": results}, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
