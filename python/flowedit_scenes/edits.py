"""Edits of a scene with a known right answer: swap a shape, recolour, remove, add.

Each returns a new scene (the input is not changed) and which object changed.
"""

import copy
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .scene import Scene, fits, new_object
from .world import OBJECT_COLOURS, SHAPES


def swap_shape(scene: Scene, i: int, shape: str) -> Scene:
    out = copy.deepcopy(scene)
    out["objects"][i]["shape"] = shape
    return out


def recolour(scene: Scene, i: int, colour: str) -> Scene:
    out = copy.deepcopy(scene)
    out["objects"][i]["colour"] = colour
    return out


def remove_object(scene: Scene, i: int) -> Scene:
    out = copy.deepcopy(scene)
    del out["objects"][i]
    return out


def add_object(rng: np.random.Generator, scene: Scene) -> Optional[Scene]:
    """The scene with one more object in free space, or None when none fits."""
    used = {o["colour"] for o in scene["objects"]} | {scene["background"]["colour"]}
    free = [c for c in OBJECT_COLOURS if c not in used]
    for _ in range(200):
        obj = new_object(rng, str(rng.choice(free)), str(rng.choice(SHAPES)), scene["frames"])
        out = copy.deepcopy(scene)
        out["objects"].append(obj)
        if fits(out):
            return out
    return None


def random_edit(rng: np.random.Generator, scene: Scene, kinds=("shape", "colour")) -> Tuple[str, int, Scene, Dict[str, Any]]:
    """(kind, object index, edited scene, {'from': ..., 'to': ...}) for a shape swap or a recolour."""
    kind = str(rng.choice(list(kinds)))
    i = int(rng.integers(len(scene["objects"])))
    obj = scene["objects"][i]
    if kind == "shape":
        to = str(rng.choice([s for s in SHAPES if s != obj["shape"]]))
        return kind, i, swap_shape(scene, i, to), {"from": obj["shape"], "to": to}
    used = {o["colour"] for o in scene["objects"]} | {scene["background"]["colour"]}
    to = str(rng.choice([c for c in OBJECT_COLOURS if c not in used]))
    return kind, i, recolour(scene, i, to), {"from": obj["colour"], "to": to}
