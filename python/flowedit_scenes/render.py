"""Rasterise a scene: supersampled background patterns and anti-aliased polygon objects.

render(scene, size) -> pixels [F, H, W, 3] float32 in [0, 1]
render_masks(scene, size) -> coverage [N, F, H, W] float32 in [0, 1], one per object
"""

import math
from typing import Any, Dict, Tuple

import numpy as np

from .scene import Scene, object_position
from .world import COLOURS, OUTLINES, shade

BG_SS = 2  # background supersampling per axis
OBJ_SS = 4  # object coverage supersampling per axis


def _inside(xs: np.ndarray, ys: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon on the grid of sample points (xs[c], ys[r]), xs increasing:
    xs [C], ys [R] -> bool [R, C].

    A point is inside when a ray to its right crosses the outline an odd number of times. Each
    row's crossings x_c are found once per edge; the point (x, y) counts the crossings with
    x < x_c, i.e. those whose first grid column at or right of x_c (searchsorted) lies beyond
    it, tallied per row with a histogram and a reverse cumulative sum. This gives exactly the
    per-point test's answer at a cost of [R, M] + [R, C] instead of [R·C, M].
    """
    x0, y0 = poly[:, 0], poly[:, 1]  # [M]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)  # [M]
    py_ = ys[:, None]  # [R, 1]
    crosses = (y0[None] > py_) != (y1[None] > py_)  # [R, M]
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = x0[None] + (py_ - y0[None]) * (x1 - x0)[None] / (y1 - y0)[None]  # [R, M]
    r, m = np.nonzero(crosses)  # crossing edges
    first_right = np.searchsorted(xs, xc[r, m], side="left")  # [K]: columns c < it have xs[c] < x_c
    cols = xs.shape[0] + 1
    hist = np.bincount(r * cols + first_right, minlength=ys.shape[0] * cols).reshape(-1, cols)  # [R, C + 1]
    right_of = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]  # [R, C]: crossings with index > c
    return (right_of % 2) == 1  # [R, C]


def _pattern(bg: Dict[str, Any], u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Weight of the shade colour at points (u, v) in [0, 1]: [...] float."""
    p, period, phase = bg["pattern"], bg["period"], bg["phase"]
    a = math.radians(bg["angle"])
    if p == "plain":
        return np.zeros_like(u)
    if p == "stripes":
        w = (u * math.cos(a) + v * math.sin(a)) / period + phase
        return (np.mod(w, 1.0) >= 0.5).astype(np.float32)
    if p == "checks":
        i = np.floor(u / period + phase) + np.floor(v / period + phase)
        return np.mod(i, 2.0).astype(np.float32)
    if p == "gradient":
        d = u * math.cos(a) + v * math.sin(a)
        corners = [0.0, math.cos(a), math.sin(a), math.cos(a) + math.sin(a)]
        return np.clip((d - min(corners)) / (max(corners) - min(corners)), 0.0, 1.0).astype(np.float32)
    if p == "dots":
        gu = np.mod(u / period + phase, 1.0) - 0.5
        gv = np.mod(v / period + phase, 1.0) - 0.5
        return (gu * gu + gv * gv < 0.28 ** 2).astype(np.float32)
    raise ValueError(f"unknown pattern {p!r}")


def _background(bg: Dict[str, Any], frame: int, h: int, w: int) -> np.ndarray:
    """[H, W, 3] float in 0..255."""
    ys = (np.arange(h * BG_SS) + 0.5) / (h * BG_SS)
    xs = (np.arange(w * BG_SS) + 0.5) / (w * BG_SS)
    v, u = np.meshgrid(ys, xs, indexing="ij")  # [H·ss, W·ss]
    u = u + bg["pan"][0] * frame
    v = v + bg["pan"][1] * frame
    m = _pattern(bg, u, v).reshape(h, BG_SS, w, BG_SS).mean(axis=(1, 3))  # [H, W]
    base = np.array(COLOURS[bg["colour"]], dtype=np.float32)
    return base * (1 - m[..., None]) + shade(bg["colour"]).astype(np.float32) * m[..., None]


def object_box(cx: float, cy: float, s: float, h: int, w: int) -> Tuple[int, int, int, int]:
    """The pixels (x_lo, y_lo, x_hi, y_hi), ends exclusive, that an object of half-size s centred
    at (cx, cy) may touch, one pixel of margin around it, inside the frame."""
    return (max(0, int(math.floor((cx - s) * w)) - 1), max(0, int(math.floor((cy - s) * h)) - 1),
            min(w, int(math.ceil((cx + s) * w)) + 1), min(h, int(math.ceil((cy + s) * h)) + 1))


def _coverage(obj: Dict[str, Any], centre: Tuple[float, float], h: int, w: int) -> np.ndarray:
    """Anti-aliased coverage [H, W] of one object."""
    cov = np.zeros((h, w), dtype=np.float32)
    s, (cx, cy) = obj["s"], centre
    x_lo, y_lo, x_hi, y_hi = object_box(cx, cy, s, h, w)
    if x_hi <= x_lo or y_hi <= y_lo:
        return cov
    bw, bh = x_hi - x_lo, y_hi - y_lo
    xs = (x_lo * OBJ_SS + np.arange(bw * OBJ_SS) + 0.5) / (w * OBJ_SS)
    ys = (y_lo * OBJ_SS + np.arange(bh * OBJ_SS) + 0.5) / (h * OBJ_SS)
    inside = _inside((xs - cx) / s, (ys - cy) / s, OUTLINES[obj["shape"]])  # [bh·ss, bw·ss]
    cov[y_lo:y_hi, x_lo:x_hi] = inside.reshape(bh, OBJ_SS, bw, OBJ_SS).mean(axis=(1, 3))
    return cov


def render_masks(scene: Scene, size: Tuple[int, int]) -> np.ndarray:
    """Coverage of each object in each frame: [N, F, H, W] in [0, 1]; size = (W, H)."""
    w, h = size
    frames = scene["frames"]
    out = np.zeros((len(scene["objects"]), frames, h, w), dtype=np.float32)
    for i, obj in enumerate(scene["objects"]):
        for f in range(frames):
            out[i, f] = _coverage(obj, object_position(obj, f, frames), h, w)
    return out


def render(scene: Scene, size: Tuple[int, int]) -> np.ndarray:
    """Pixels [F, H, W, 3] float32 in [0, 1]; size = (W, H)."""
    w, h = size
    frames = scene["frames"]
    masks = render_masks(scene, size)  # [N, F, H, W]
    out = np.zeros((frames, h, w, 3), dtype=np.float32)
    for f in range(frames):
        img = _background(scene["background"], f, h, w)  # [H, W, 3]
        for i, obj in enumerate(scene["objects"]):
            c = np.array(COLOURS[obj["colour"]], dtype=np.float32)
            m = masks[i, f][..., None]  # [H, W, 1]
            img = img * (1 - m) + c * m
        out[f] = img / 255.0
    return out
