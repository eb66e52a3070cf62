"""Random scene descriptions and their captions.

A scene is plain JSON-able data: a background (colour, pattern and its geometry, a pan per
frame) and one to three objects (colour, shape, half-size s, a smooth path over the frames).
Everything is a fraction of the image side, so one scene renders at any resolution.
"""

import math
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .world import BACKGROUND_COLOURS, OBJECT_COLOURS, PATTERNS, SHAPES, WORLD

Scene = Dict[str, Any]


def object_position(obj: Dict[str, Any], frame: int, frames: int) -> Tuple[float, float]:
    """Centre (x, y) of an object at a frame: a straight move bent by a half sine."""
    u = frame / (frames - 1) if frames > 1 else 0.0
    (x0, y0), (x1, y1) = obj["start"], obj["end"]
    dx, dy = x1 - x0, y1 - y0
    norm = math.hypot(dx, dy) or 1.0
    bend = obj.get("bend", 0.0) * math.sin(math.pi * u)
    return x0 + u * dx - bend * dy / norm, y0 + u * dy + bend * dx / norm


def _fits(objs: List[Dict[str, Any]], frames: int) -> bool:
    gap = WORLD["objects"]["minGap"]
    for f in range(frames):
        centres = [object_position(o, f, frames) for o in objs]
        for (x, y), o in zip(centres, objs):
            s = o["s"]
            if not (s <= x <= 1 - s and s <= y <= 1 - s):
                return False
        for i in range(len(objs)):
            for j in range(i):
                (xi, yi), (xj, yj) = centres[i], centres[j]
                # boxes must keep apart by the gap on at least one axis
                sep = max(abs(xi - xj) - objs[i]["s"] - objs[j]["s"], abs(yi - yj) - objs[i]["s"] - objs[j]["s"])
                if sep < gap:
                    return False
    return True


def _background(rng: np.random.Generator, colour: str, frames: int) -> Dict[str, Any]:
    pattern = PATTERNS[rng.integers(len(PATTERNS))]
    bg: Dict[str, Any] = {
        "colour": colour,
        "pattern": pattern,
        "angle": float(rng.choice([0, 45, 90, 135])),
        "period": float(rng.uniform(0.12, 0.25)),
        "phase": float(rng.uniform(0, 1)),
        "pan": [0.0, 0.0],
    }
    clips = WORLD["clips"]
    if frames > 1 and pattern not in ("plain", "gradient") and rng.uniform() < clips["panProbability"]:
        a = rng.uniform(0, 2 * math.pi)
        speed = rng.uniform(0.3, 1.0) * clips["maxPan"]
        bg["pan"] = [float(speed * math.cos(a)), float(speed * math.sin(a))]
    return bg


def new_object(rng: np.random.Generator, colour: str, shape: str, frames: int) -> Dict[str, Any]:
    """An object with a random size, place and (for clips) path."""
    cfg = WORLD["objects"]
    s = float(rng.uniform(cfg["minHalfSize"], cfg["maxHalfSize"]))
    x0, y0 = (float(v) for v in rng.uniform(s, 1 - s, size=2))
    obj: Dict[str, Any] = {"colour": colour, "shape": shape, "s": s, "start": [x0, y0], "end": [x0, y0], "bend": 0.0}
    if frames > 1:
        speed = rng.uniform(0.25, 1.0) * WORLD["clips"]["maxSpeed"] * (frames - 1)
        a = rng.uniform(0, 2 * math.pi)
        obj["end"] = [x0 + speed * math.cos(a), y0 + speed * math.sin(a)]
        obj["bend"] = float(rng.uniform(-0.3, 0.3) * speed)
    return obj


def sample_scene(rng: np.random.Generator, frames: int = 1, count: Optional[int] = None) -> Scene:
    """A random scene of `frames` frames whose objects never touch or leave the image."""
    cfg = WORLD["objects"]
    n = int(count if count is not None else rng.integers(cfg["min"], cfg["max"] + 1))
    for _ in range(1000):
        colours = list(rng.choice(OBJECT_COLOURS, size=n, replace=False))
        bg_choices = [c for c in BACKGROUND_COLOURS if c not in colours]
        bg = _background(rng, str(rng.choice(bg_choices)), frames)
        objs = [new_object(rng, str(c), str(rng.choice(SHAPES)), frames) for c in colours]
        if _fits(objs, frames):
            return {"frames": frames, "background": bg, "objects": objs}
    raise RuntimeError("could not place the objects")


def close_up(scene: Scene, zoom: float = 2.0) -> Scene:
    """A one-object still seen `zoom` times closer, to be rendered at 1/zoom of the frame size:
    in pixels the object and the background pattern keep their size, and the object takes zoom²
    as large a share of the frame. Its centre is mapped from [s, 1 − s] onto [zoom·s, 1 − zoom·s], so
    a centre drawn uniformly where the object fitted stays uniform where it fits now."""
    if scene["frames"] != 1 or len(scene["objects"]) != 1:
        raise ValueError("close_up takes a one-object still")
    obj = dict(scene["objects"][0])
    s = obj["s"] * zoom
    if s >= 0.5:
        raise ValueError(f"an object of half-size {obj['s']} does not fit {zoom} times closer")
    x0, y0 = (s + (1 - 2 * s) * (c - obj["s"]) / max(1e-9, 1 - 2 * obj["s"]) for c in obj["start"])
    obj.update({"s": s, "start": [x0, y0], "end": [x0, y0]})
    bg = dict(scene["background"], period=scene["background"]["period"] * zoom)
    return {"frames": 1, "background": bg, "objects": [obj]}


def ordered(scene: Scene) -> List[Dict[str, Any]]:
    """Objects left to right by centre x at the first frame (the caption's order)."""
    return sorted(scene["objects"], key=lambda o: object_position(o, 0, scene["frames"])[0])


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(scene: Scene) -> str:
    g = WORLD["grammar"]
    objs = g["objectsJoin"].join(
        g["object"].format(article=article(o["colour"]), colour=o["colour"], shape=o["shape"]) for o in ordered(scene)
    )
    bg = g["background"][scene["background"]["pattern"]].format(colour=scene["background"]["colour"])
    return g["sentence"].format(objects=objs, background=bg)


def fits(scene: Scene) -> bool:
    return _fits(scene["objects"], scene["frames"])
