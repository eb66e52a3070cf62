"""The strict judge, in Python: the same reading of a frame as src/world/classify.ts and
src/world/metrics.ts (the Node judge), so a training run can score its own samples. The two are
checked to agree (python/judge_checks.py, test/bench/judge-agreement.test.ts).

Pixel labels: every pixel takes the nearest (Euclidean RGB, 0..255) of the reference colours: the
palette's colours in world.json order, then each background colour's pattern shade.
Objects: the largest 4-connected component of an object colour's pixels (within a region if given).
Shape (strict): for each world shape, its silhouette is placed on the component by moments (the
half-size s from the areas, s = sqrt(area / A_unit); the centre from the centroids), refined over
s · {0.94, 1, 1.06} and centre shifts of {-0.5, 0, 0.5} px, and rasterised at pixel centres; the
shape with the highest intersection-over-union wins, and an object is its caption's shape only if
it wins with IoU ≥ SHAPE_IOU. Objects of a caption must cover at least MIN_OBJECT_AREA pixels at
128×128 (scaled with the frame's area).
Edits (the target's silhouette known): the component near it must also overlap that silhouette
with IoU ≥ PLACE_IOU.
Background colour: pixel votes (a background colour or its shade), pixels near objects left out.
"""

from collections import deque
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .world import BACKGROUND_COLOURS, COLOURS, OUTLINES, shade

# Chosen on the renderer's own ground truth (python/judge_checks.py, docs/lab/strict-judge.md).
SHAPE_IOU = 0.85
PLACE_IOU = 0.8
MIN_OBJECT_AREA = 40  # pixels at 128 × 128
SCALES = (0.94, 1.0, 1.06)
SHIFTS = (-0.5, 0.0, 0.5)

REF_NAMES: List[Tuple[str, bool]] = [(c, False) for c in COLOURS] + [(c, True) for c in BACKGROUND_COLOURS]
REFS = np.array([COLOURS[c] for c in COLOURS] + [shade(c) for c in BACKGROUND_COLOURS], dtype=np.float64)  # [K, 3]


def label_pixels(img: np.ndarray) -> np.ndarray:
    """img [H, W, 3] in [0, 1] -> index into REF_NAMES [H, W] (first nearest on ties). Values are
    rounded to 1/1000 of a level, as the Node judge rounds them: 8-bit images tie alike in both."""
    px = np.round(img.astype(np.float64) * 255.0 * 1000.0) / 1000.0  # [H, W, 3]
    d = ((px[:, :, None, :] - REFS[None, None]) ** 2).sum(-1)  # [H, W, K]
    return d.argmin(-1)


def largest_component(labels: np.ndarray, colour: str, region: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
    """The largest 4-connected component of pixels labelled `colour` (not its shade), within
    `region` if given, as a bool mask [H, W]; the first found in raster order on ties; None if none."""
    want = REF_NAMES.index((colour, False))
    hit = labels == want  # [H, W]
    if region is not None:
        hit &= region.astype(bool)
    h, w = hit.shape
    flat = hit.ravel()
    seen = np.zeros(h * w, dtype=bool)
    best: List[int] = []
    for start in np.flatnonzero(flat):
        if seen[start]:
            continue
        comp = [int(start)]
        seen[start] = True
        todo = deque(comp)
        while todo:
            p = todo.popleft()
            x, y = p % w, p // w
            for q, ok in ((p - 1, x > 0), (p + 1, x < w - 1), (p - w, y > 0), (p + w, y < h - 1)):
                if ok and flat[q] and not seen[q]:
                    seen[q] = True
                    comp.append(q)
                    todo.append(q)
        if len(comp) > len(best):
            best = comp
    if not best:
        return None
    mask = np.zeros(h * w, dtype=bool)
    mask[best] = True
    return mask.reshape(h, w)


def _inside(xs: np.ndarray, ys: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd test of the points (xs[i], ys[i]) against poly [M, 2]: bool [N]."""
    x0, y0 = poly[:, 0][None], poly[:, 1][None]  # [1, M]
    x1, y1 = np.roll(poly[:, 0], -1)[None], np.roll(poly[:, 1], -1)[None]  # [1, M]
    px, py = xs[:, None], ys[:, None]  # [N, 1]
    crosses = (y0 > py) != (y1 > py)  # [N, M]
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = x0 + (py - y0) * (x1 - x0) / (y1 - y0)  # [N, M]
    return (np.sum(crosses & (px < xc), axis=1) % 2) == 1


def _polygon_moments(poly: np.ndarray) -> Tuple[float, float, float]:
    """(area, centroid x, centroid y) of a simple polygon [M, 2] (shoelace), summed in order as
    the Node judge sums them, so both place silhouettes on the same float."""
    a = cx = cy = 0.0
    pts = [(float(x), float(y)) for x, y in poly]
    for i, (x, y) in enumerate(pts):
        x1, y1 = pts[(i + 1) % len(pts)]
        cross = x * y1 - x1 * y
        a += cross
        cx += (x + x1) * cross
        cy += (y + y1) * cross
    a /= 2.0
    return abs(a), cx / (6.0 * a), cy / (6.0 * a)


MOMENTS: Dict[str, Tuple[float, float, float]] = {name: _polygon_moments(p) for name, p in OUTLINES.items()}


def silhouette_iou(comp: np.ndarray, shape: str) -> float:
    """IoU of a component [H, W] with `shape`'s silhouette placed on it by moments, best over the
    refinements (SCALES × SHIFTS × SHIFTS), all rasterised at once on one window."""
    ys, xs = np.nonzero(comp)
    area = xs.size
    if area == 0:
        return 0.0
    unit_area, gx, gy = MOMENTS[shape]
    s0 = float(np.sqrt(area / unit_area))
    mx, my = float(xs.mean()) + 0.5, float(ys.mean()) + 0.5  # centroid, pixel-centre coordinates
    place = np.array([(s0 * k, mx - s0 * k * gx + dx, my - s0 * k * gy + dy)
                      for k in SCALES for dy in SHIFTS for dx in SHIFTS])  # [P, 3]: s, cx, cy
    s, cx, cy = place[:, 0:1], place[:, 1:2], place[:, 2:3]  # [P, 1] each
    # a window holding the component and every placed silhouette
    h, w = comp.shape
    x_lo = max(0, min(int(xs.min()), int(np.floor((cx - s).min())) - 1))
    x_hi = min(w, max(int(xs.max()) + 1, int(np.ceil((cx + s).max())) + 1))
    y_lo = max(0, min(int(ys.min()), int(np.floor((cy - s).min())) - 1))
    y_hi = min(h, max(int(ys.max()) + 1, int(np.ceil((cy + s).max())) + 1))
    wy, wx = np.mgrid[y_lo:y_hi, x_lo:x_hi]  # [h', w']
    u = (wx.ravel()[None] + 0.5 - cx) / s  # [P, N]
    v = (wy.ravel()[None] + 0.5 - cy) / s  # [P, N]
    sil = _inside(u.ravel(), v.ravel(), OUTLINES[shape]).reshape(u.shape)  # [P, N]
    c = comp[y_lo:y_hi, x_lo:x_hi].ravel()[None]  # [1, N]
    inter = np.count_nonzero(sil & c, axis=1)  # [P]
    union = np.count_nonzero(sil | c, axis=1)  # [P]
    return float(np.max(np.where(union > 0, inter / np.maximum(union, 1), 0.0)))


def classify(comp: np.ndarray) -> Tuple[str, float]:
    """(the shape whose placed silhouette overlaps the component best, that IoU)."""
    scores = [(silhouette_iou(comp, name), name) for name in OUTLINES]
    iou, name = max(scores, key=lambda t: t[0])  # the first shape in world order on ties
    return name, iou


def is_shape(comp: np.ndarray, shape: str) -> bool:
    """The strict test: `shape` wins the classification with IoU ≥ SHAPE_IOU."""
    name, iou = classify(comp)
    return name == shape and iou >= SHAPE_IOU


def grow(mask: np.ndarray, r: int) -> np.ndarray:
    """A bool mask [H, W] grown by r pixels (square neighbourhood)."""
    h, w = mask.shape
    out = np.zeros_like(mask, dtype=bool)
    ys, xs = np.nonzero(mask)
    for y, x in zip(ys, xs):
        out[max(0, y - r):min(h, y + r + 1), max(0, x - r):min(w, x + r + 1)] = True
    return out


def background_colour(labels: np.ndarray, exclude: Optional[np.ndarray] = None) -> str:
    """The background colour with the most pixel votes (a colour or its shade), `exclude` left out."""
    votes: Dict[str, int] = {}
    keep = np.ones(labels.shape, dtype=bool) if exclude is None else ~exclude.astype(bool)
    counts = np.bincount(labels[keep].ravel(), minlength=len(REF_NAMES))
    for k, (colour, _) in enumerate(REF_NAMES):
        if colour in BACKGROUND_COLOURS and counts[k]:
            votes[colour] = votes.get(colour, 0) + int(counts[k])
    best, most = "", -1
    for colour, v in votes.items():  # first reached in reference order on ties, as the Node judge
        if v > most:
            best, most = colour, v
    return best


def check_caption(img: np.ndarray, objects: Sequence[Tuple[str, str]], background: str) -> Dict:
    """Does a frame [H, W, 3] in [0, 1] show its caption? Each (colour, shape) must be a component
    of its colour (at least the minimum area) that is strictly its shape; the background colour
    must win the vote outside the objects."""
    labels = label_pixels(img)
    h, w = labels.shape
    min_area = MIN_OBJECT_AREA * w * h / (128 * 128)
    covered = np.zeros((h, w), dtype=bool)
    right, coloured = [], []
    for colour, shape in objects:
        comp = largest_component(labels, colour)
        if comp is None or comp.sum() < min_area:
            right.append(False)
            coloured.append(False)
            continue
        covered |= comp
        coloured.append(True)
        right.append(is_shape(comp, shape))
    bg = background_colour(labels, grow(covered, 1)) == background
    return {"objects": right, "coloured": coloured, "background": bg, "full": bg and all(right)}


def check_object(img: np.ndarray, truth: np.ndarray, colour: str, shape: str, slack: int = 4) -> Dict:
    """An edited object against its ground truth (the target's silhouette at its place and size,
    bool [H, W]): the largest component of `colour` within the truth grown by `slack` px is right
    when its IoU with the truth is at least PLACE_IOU and it is strictly `shape` (is_shape);
    placed when that IoU is at least 0.5, whatever its shape."""
    labels = label_pixels(img)
    comp = largest_component(labels, colour, grow(truth, slack))
    if comp is None:
        return {"right": False, "placed": False, "iou": 0.0, "shape": None, "shapeIou": 0.0}
    t = truth.astype(bool)
    iou = float(np.count_nonzero(comp & t) / max(1, np.count_nonzero(comp | t)))
    name, fit = classify(comp)
    right = iou >= PLACE_IOU and name == shape and fit >= SHAPE_IOU
    return {"right": right, "placed": iou >= 0.5, "iou": iou, "shape": name, "shapeIou": fit}


def caption_parts(scene: Dict) -> Tuple[List[Tuple[str, str]], str]:
    """A scene's caption as the judge reads it: ((colour, shape) per object, background colour)."""
    return [(o["colour"], o["shape"]) for o in scene["objects"]], scene["background"]["colour"]
