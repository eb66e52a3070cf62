"""scenes/world.json, loaded once: palette, shape outlines, patterns, grammar."""

import json
import math
import os
from typing import Dict, List, Tuple

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORLD_PATH = os.path.join(REPO, "scenes", "world.json")

with open(WORLD_PATH, encoding="utf-8") as f:
    WORLD = json.load(f)

COLOURS: Dict[str, Tuple[int, int, int]] = {k: tuple(v) for k, v in WORLD["colours"].items()}


def shade(name: str) -> np.ndarray:
    """A background colour's second pattern colour, RGB in 0..255 (see world.json 'shade')."""
    rule = WORLD["shade"]
    c = np.array(COLOURS[name], dtype=np.float64)  # [3]
    luma = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
    if luma >= rule["lumaSplit"]:
        return c * rule["darken"]
    return c + (255.0 - c) * rule["lighten"]


def outline(shape: str) -> np.ndarray:
    """The shape's polygon in the unit box, [M, 2] (x, y), y down."""
    spec = WORLD["shapes"][shape]
    kind = spec["kind"]
    if kind == "polygon":
        return np.array(spec["vertices"], dtype=np.float64)
    if kind == "regular":
        n = spec["sides"]
        a = np.deg2rad(-90.0 + spec.get("rotation", 0)) + 2 * math.pi * np.arange(n) / n  # [n]
        return np.stack([np.cos(a), np.sin(a)], axis=1)
    if kind == "star":
        n = 2 * spec["points"]
        a = np.deg2rad(-90.0) + 2 * math.pi * np.arange(n) / n  # [n]
        r = np.where(np.arange(n) % 2 == 0, 1.0, spec["inner"])  # [n]
        return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    raise ValueError(f"unknown shape kind {kind!r}")


OUTLINES: Dict[str, np.ndarray] = {name: outline(name) for name in WORLD["shapes"]}
SHAPES: List[str] = list(WORLD["shapes"])
OBJECT_COLOURS: List[str] = list(WORLD["objectColours"])
BACKGROUND_COLOURS: List[str] = list(WORLD["backgroundColours"])
PATTERNS: List[str] = list(WORLD["patterns"])


def vocabulary() -> List[str]:
    """Every word the caption grammar can produce, in a fixed order."""
    words: List[str] = []
    for w in ["a", "an", "and", "on", "plain", "stripes", "checks", "gradient", "dots"] + list(COLOURS) + SHAPES:
        if w not in words:
            words.append(w)
    return words
