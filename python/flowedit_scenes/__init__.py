"""The built-in model's scene world: random scenes, their captions, edits and renders."""

from .world import WORLD, shade
from .scene import Scene, sample_scene, caption, close_up, object_position
from .render import render, render_masks
from .edits import swap_shape, recolour, remove_object, add_object, random_edit

__all__ = [
    "WORLD", "shade", "Scene", "sample_scene", "caption", "close_up", "object_position",
    "render", "render_masks", "swap_shape", "recolour", "remove_object", "add_object", "random_edit",
]
