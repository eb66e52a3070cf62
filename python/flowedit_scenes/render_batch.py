"""Rasterise a batch of scenes with torch, on any device: the same pixels as render.py, many
scenes at once, so a GPU run renders its own training batches instead of waiting for CPU
processes.

render_batch(scenes, size, device) -> (pixels [B, F, H, W, 3] float32 in [0, 1],
                                       coverage [B, 1, F, H, W] float32 in [0, 1] or None)

It is two halves: plan(scenes, size) turns the scene descriptions into arrays (numpy, in the
process that draws the scenes, so the per-object Python work stays off the training process),
and draw(plan, device) rasterises them. The scenes of one batch share a frame count F. Every
step follows render.py's arithmetic operation for operation (sample points and crossings in
float64, coverage and colours in float32), so on the CPU the two give the same values bit for
bit (python/render_checks.py counts the differences); a GPU may round the 2 × 2 average of the
gradient pattern in another order, by at most one float32 step.

Objects: each object-frame n gets a box of `box` × `box` pixels starting where render.py's box
starts (x_lo, y_lo); sample points right of or below an outline's extent are outside it, so
the larger box gives render.py's coverage inside its box and 0 around it. Outlines are padded
to one vertex count with their first vertex: the padding edges have zero height and never
cross a sample row.
"""

import math
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from .render import BG_SS, OBJ_SS, object_box
from .scene import Scene, object_position
from .world import COLOURS, OUTLINES, PATTERNS, shade

Plan = Dict[str, np.ndarray]

SHAPE_NAMES = list(OUTLINES)
MAX_ELEMENTS = 1 << 25  # sample points × edges per chunk of the crossing test


def _padded_outlines() -> np.ndarray:
    """Every outline padded with its first vertex to the longest one's length: [P, M, 2]."""
    m = max(len(p) for p in OUTLINES.values())
    out = np.zeros((len(SHAPE_NAMES), m, 2))
    for i, name in enumerate(SHAPE_NAMES):
        poly = OUTLINES[name]
        out[i, : len(poly)] = poly
        out[i, len(poly) :] = poly[0]
    return out


PADDED = _padded_outlines()  # [P, M, 2]


def _inside(xs: torch.Tensor, ys: torch.Tensor, poly: torch.Tensor) -> torch.Tensor:
    """Even-odd rule on each object's grid of sample points: xs [N, C] increasing, ys [N, R]
    (relative to the object), poly [N, M, 2] -> bool [N, R, C].

    As render._inside: a point is inside when an odd number of its row's crossings x_c lie right
    of it. Each crossing is tallied at its first column at or right of x_c (searchsorted), and a
    reverse cumulative sum over the columns gives each point the crossings whose column lies
    beyond it, at a cost of [N, R, M] + [N, R, C].
    """
    n, r, c = xs.shape[0], ys.shape[1], xs.shape[1]
    x0, y0 = poly[..., 0], poly[..., 1]  # [N, M]
    x1, y1 = torch.roll(x0, -1, dims=1), torch.roll(y0, -1, dims=1)  # [N, M]
    py_ = ys[:, :, None]  # [N, R, 1]
    crosses = (y0[:, None] > py_) != (y1[:, None] > py_)  # [N, R, M]
    xc = x0[:, None] + (py_ - y0[:, None]) * (x1 - x0)[:, None] / (y1 - y0)[:, None]  # [N, R, M]
    xc = torch.where(crosses, xc, torch.zeros_like(xc))  # rows an edge misses: no count below
    first_right = torch.searchsorted(xs.contiguous(), xc.flatten(1).contiguous())  # [N, R·M] in 0..C
    slot = first_right.view(n, r, -1) + (c + 1) * torch.arange(r, device=xs.device)[None, :, None]  # [N, R, M]
    hist = torch.zeros(n, r * (c + 1), dtype=torch.int32, device=xs.device)  # [N, R·(C + 1)]
    hist.scatter_add_(1, slot.flatten(1), crosses.flatten(1).to(torch.int32))
    right_of = hist.view(n, r, c + 1).flip(-1).cumsum(-1).flip(-1)[..., 1:]  # [N, R, C]: crossings beyond c
    return (right_of % 2) == 1  # [N, R, C]


def plan(scenes: List[Scene], size: Tuple[int, int]) -> Plan:
    """The arrays draw() needs for scenes of one frame count, size = (W, H). Per object-frame n:
    where [N, 3] (scene, frame, object slot), centre and half-size [N, 3] float64, shape [N],
    box corner [N, 2] (render.py's x_lo, y_lo); per frame k = b·F + f: pattern [K], geometry
    [K, 6] float64 (period, phase, cos a, sin a, pan u, pan v), colours [K, 2, 3] float32 (base,
    shade); per scene: object colours [B, slots, 3] float32."""
    w, h = size
    frames = scenes[0]["frames"]
    if any(sc["frames"] != frames for sc in scenes):
        raise ValueError("render_batch needs scenes of one frame count")
    slots = max(len(sc["objects"]) for sc in scenes)
    where, geometry, shapes, corners = [], [], [], []
    colours = np.zeros((len(scenes), slots, 3), dtype=np.float32)
    for b, sc in enumerate(scenes):
        for i, obj in enumerate(sc["objects"]):
            colours[b, i] = COLOURS[obj["colour"]]
            s, shape = obj["s"], SHAPE_NAMES.index(obj["shape"])
            for f in range(frames):
                cx, cy = object_position(obj, f, frames)
                where.append((b, f, i))
                geometry.append((cx, cy, s))
                shapes.append(shape)
                corners.append(object_box(cx, cy, s, h, w))
    box = np.array(corners, dtype=np.int64).reshape(-1, 4)  # [N, 4]: x_lo, y_lo, x_hi, y_hi
    patterns, bg_geometry, bg_colours = [], [], []
    for sc in scenes:
        bg = sc["background"]
        a, pattern = math.radians(bg["angle"]), PATTERNS.index(bg["pattern"])
        pair = np.stack([np.array(COLOURS[bg["colour"]], dtype=np.float32), shade(bg["colour"]).astype(np.float32)])
        for f in range(frames):
            patterns.append(pattern)
            bg_geometry.append((bg["period"], bg["phase"], math.cos(a), math.sin(a), bg["pan"][0] * f, bg["pan"][1] * f))
            bg_colours.append(pair)
    return {"size": np.array([w, h]), "frames": np.array(frames), "where": np.array(where, dtype=np.int64).reshape(-1, 3),
            "geometry": np.array(geometry, dtype=np.float64).reshape(-1, 3), "shape": np.array(shapes, dtype=np.int64),
            "corner": box[:, :2], "box": np.array(int(np.max(box[:, 2:] - box[:, :2])) if len(box) else 1),
            "pattern": np.array(patterns, dtype=np.int64), "bg_geometry": np.array(bg_geometry, dtype=np.float64),
            "bg_colours": np.stack(bg_colours), "colours": colours}


def _object_coverage(p: Plan, dev: torch.device) -> torch.Tensor:
    """Coverage of a plan's object-frames: [N, H, W] float32."""
    w, h = (int(v) for v in p["size"])
    box = int(p["box"])
    corner = torch.as_tensor(p["corner"]).to(dev)  # [N, 2]
    x_lo, y_lo = corner[:, :1], corner[:, 1:]  # [N, 1] each
    g = torch.as_tensor(p["geometry"]).to(dev)  # [N, 3] float64
    cx, cy, s = g[:, :1], g[:, 1:2], g[:, 2:]  # [N, 1] each
    steps = torch.arange(box * OBJ_SS, device=dev)  # [box·ss]
    xs = ((x_lo * OBJ_SS + steps).to(torch.float64) + 0.5) / (w * OBJ_SS)  # [N, box·ss]
    ys = ((y_lo * OBJ_SS + steps).to(torch.float64) + 0.5) / (h * OBJ_SS)  # [N, box·ss]
    poly = torch.from_numpy(PADDED).to(dev)[torch.as_tensor(p["shape"]).to(dev)]  # [N, M, 2]
    per = (box * OBJ_SS) * (box * OBJ_SS + poly.shape[1])
    chunk = max(1, MAX_ELEMENTS // per)
    boxes = []
    for i in range(0, poly.shape[0], chunk):
        j = slice(i, i + chunk)
        inside = _inside((xs[j] - cx[j]) / s[j], (ys[j] - cy[j]) / s[j], poly[j])  # [n, box·ss, box·ss]
        n = inside.shape[0]
        boxes.append(inside.reshape(n, box, OBJ_SS, box, OBJ_SS).to(torch.float32).mean(dim=(2, 4)))  # [n, box, box]
    cov_box = torch.cat(boxes).flatten(1)  # [N, box²]
    # place each box in its frame: pixel (y, x) reads box cell (y − y_lo, x − x_lo) when inside the box
    rows = torch.arange(h, device=dev)[None, :, None] - y_lo[:, :, None]  # [N, H, 1]
    cols = torch.arange(w, device=dev)[None, None, :] - x_lo[:, :, None]  # [N, 1, W]
    valid = (rows >= 0) & (rows < box) & (cols >= 0) & (cols < box)  # [N, H, W]
    index = (rows.clamp(0, box - 1) * box + cols.clamp(0, box - 1)).flatten(1)  # [N, H·W]
    cov = torch.gather(cov_box, 1, index).view(-1, h, w)  # [N, H, W]
    return cov * valid


def _pattern(name: str, u: torch.Tensor, v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Weight of the shade colour at points (u, v) [K, H·ss, W·ss] float64 for frames of one
    pattern with geometry g [K, 6] (period, phase, cos a, sin a, ...) -> float32."""
    period, phase, ca, sa = (g[:, k, None, None] for k in range(4))  # [K, 1, 1] each
    if name == "plain":
        return torch.zeros_like(u, dtype=torch.float32)
    if name == "stripes":
        w = (u * ca + v * sa) / period + phase
        return (torch.remainder(w, 1.0) >= 0.5).to(torch.float32)
    if name == "checks":
        i = torch.floor(u / period + phase) + torch.floor(v / period + phase)
        return torch.remainder(i, 2.0).to(torch.float32)
    if name == "gradient":
        d = u * ca + v * sa
        lo = torch.minimum(torch.minimum(torch.zeros_like(ca), ca), torch.minimum(sa, ca + sa))  # [K, 1, 1]
        hi = torch.maximum(torch.maximum(torch.zeros_like(ca), ca), torch.maximum(sa, ca + sa))  # [K, 1, 1]
        return torch.clamp((d - lo) / (hi - lo), 0.0, 1.0).to(torch.float32)
    if name == "dots":
        gu = torch.remainder(u / period + phase, 1.0) - 0.5
        gv = torch.remainder(v / period + phase, 1.0) - 0.5
        return (gu * gu + gv * gv < 0.28 ** 2).to(torch.float32)
    raise ValueError(f"unknown pattern {name!r}")


def _backgrounds(p: Plan, dev: torch.device) -> torch.Tensor:
    """A plan's backgrounds, one per scene frame: [K, H, W, 3] float32 in 0..255."""
    w, h = (int(v) for v in p["size"])
    ys = (torch.arange(h * BG_SS, device=dev, dtype=torch.float64) + 0.5) / (h * BG_SS)  # [H·ss]
    xs = (torch.arange(w * BG_SS, device=dev, dtype=torch.float64) + 0.5) / (w * BG_SS)  # [W·ss]
    v0, u0 = torch.meshgrid(ys, xs, indexing="ij")  # [H·ss, W·ss]
    pattern = torch.as_tensor(p["pattern"]).to(dev)  # [K]
    geometry = torch.as_tensor(p["bg_geometry"]).to(dev)  # [K, 6]
    m = torch.empty(pattern.shape[0], h, w, device=dev)  # [K, H, W]
    for k, name in enumerate(PATTERNS):
        sel = (pattern == k).nonzero()[:, 0]  # [K']
        if sel.numel() == 0:
            continue
        g = geometry[sel]  # [K', 6]
        u = u0[None] + g[:, 4, None, None]  # [K', H·ss, W·ss]
        v = v0[None] + g[:, 5, None, None]  # [K', H·ss, W·ss]
        m[sel] = _pattern(name, u, v, g).view(-1, h, BG_SS, w, BG_SS).mean(dim=(2, 4))  # [K', H, W]
    colours = torch.as_tensor(p["bg_colours"]).to(dev)  # [K, 2, 3]
    m = m[..., None]  # [K, H, W, 1]
    return colours[:, None, None, 0] * (1 - m) + colours[:, None, None, 1] * m  # [K, H, W, 3]


def _draw(p: Plan, dev: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pixels [B, F, H, W, 3] in [0, 1] of a plan and each object slot's coverage [B, F, slots, H, W]."""
    w, h = (int(v) for v in p["size"])
    frames = int(p["frames"])
    c = torch.as_tensor(p["colours"]).to(dev)  # [B, slots, 3]
    scenes, slots = c.shape[0], c.shape[1]
    cover = torch.zeros(scenes, frames, slots, h, w, device=dev)  # [B, F, slots, H, W]
    if p["where"].shape[0]:
        b_, f_, i_ = torch.as_tensor(p["where"]).to(dev).unbind(1)  # [N] each
        cover[b_, f_, i_] = _object_coverage(p, dev)  # [N, H, W] into their slots
    img = _backgrounds(p, dev).view(scenes, frames, h, w, 3)  # [B, F, H, W, 3]
    for i in range(slots):  # render.py's order: each object over what is below it
        m = cover[:, :, i, :, :, None]  # [B, F, H, W, 1]
        img = img * (1 - m) + c[:, i, None, None, None, :] * m  # [B, F, H, W, 3]
    return img / 255.0, cover


def draw(p: Plan, device="cpu", masks: bool = False) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Pixels [B, F, H, W, 3] in [0, 1] of a plan, and with masks=True the union of its objects'
    coverage [B, 1, F, H, W]."""
    img, cover = _draw(p, torch.device(device))
    return img, (union(cover) if masks else None)  # [B, 1, F, H, W]


def union(slot_cover: torch.Tensor) -> torch.Tensor:
    """The objects' coverage together: each slot's [B, F, S, H, W] -> [B, 1, F, H, W]."""
    return slot_cover.amax(dim=2)[:, None]


def draw_objects(p: Plan, device="cpu") -> Tuple[torch.Tensor, torch.Tensor]:
    """Pixels [B, F, H, W, 3] in [0, 1] of a plan and each object slot's coverage [B, F, S, H, W]
    (slot i: the scene's object i)."""
    return _draw(p, torch.device(device))


def draw_shapes(p: Plan, device="cpu") -> Tuple[torch.Tensor, torch.Tensor]:
    """Pixels [B, F, H, W, 3] in [0, 1] of a plan and the coverage of each shape of the world,
    [B, P, F, H, W] with P = len(SHAPE_NAMES): channel k is where objects of shape k lie (objects
    never touch, so at most one covers a pixel)."""
    dev = torch.device(device)
    img, cover = _draw(p, dev)  # [B, F, H, W, 3], [B, F, slots, H, W]
    shape_of = torch.full(cover.shape[:1] + cover.shape[2:3], -1, dtype=torch.int64, device=dev)  # [B, slots]
    if p["where"].shape[0]:
        b_, _, i_ = torch.as_tensor(p["where"]).to(dev).unbind(1)  # [N] each
        shape_of[b_, i_] = torch.as_tensor(p["shape"]).to(dev)
    one_hot = (shape_of[..., None] == torch.arange(len(SHAPE_NAMES), device=dev)).to(cover.dtype)  # [B, slots, P]
    return img, torch.einsum("bfshw,bsp->bpfhw", cover, one_hot)  # [B, P, F, H, W]


def render_batch(scenes: List[Scene], size: Tuple[int, int], device="cpu",
                 masks: bool = False) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Pixels [B, F, H, W, 3] in [0, 1] of scenes with one frame count, and with masks=True the
    union of their objects' coverage [B, 1, F, H, W]; size = (W, H)."""
    return draw(plan(scenes, size), device, masks)
