"""Write example scenes for the README to samples/scenes/ (deterministic).

    .venv/bin/python python/make_samples.py

Stills are PNGs; clips are H.264 MP4s (17 frames, 8 fps, encoded with the system's ffmpeg).
Each example has a mask of one object (white = object; a PNG for stills, an MP4 for clips),
its caption, and a target prompt that changes that object. scenes.json lists them.
Scenes come from numpy's generator seeded [SAMPLES_STREAM, i], a stream neither training nor
the benchmark uses.
"""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from flowedit_scenes import caption, random_edit, render, render_masks, sample_scene

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "samples", "scenes")
SAMPLES_STREAM = 4
SIZE = 128
FPS = 8


def write_mp4(path: str, frames: np.ndarray) -> None:
    """frames [F, H, W, 3] uint8 -> H.264 yuv420p MP4 at FPS."""
    f, h, w, _ = frames.shape
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(FPS),
           "-i", "-", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-bitexact", path]
    subprocess.run(cmd, input=frames.tobytes(), check=True)


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    listing = []
    for i, frames in enumerate([1, 1, 1, 1, 17, 17]):
        rng = np.random.default_rng([SAMPLES_STREAM, i])
        scene = sample_scene(rng, frames=frames, count=2 if i % 2 == 0 else 3)
        kind, j, edited, change = random_edit(rng, scene)
        pixels = np.round(render(scene, (SIZE, SIZE)) * 255).astype(np.uint8)  # [F, H, W, 3]
        mask = np.round(render_masks(scene, (SIZE, SIZE))[j] * 255).astype(np.uint8)  # [F, H, W]
        name = f"{'still' if frames == 1 else 'clip'}-{i + 1}"
        if frames == 1:
            Image.fromarray(pixels[0], "RGB").save(os.path.join(OUT, f"{name}.png"), optimize=True)
            Image.fromarray(mask[0], "L").save(os.path.join(OUT, f"{name}-mask.png"), optimize=True)
            files = {"image": f"{name}.png", "mask": f"{name}-mask.png"}
        else:
            write_mp4(os.path.join(OUT, f"{name}.mp4"), pixels)
            write_mp4(os.path.join(OUT, f"{name}-mask.mp4"), np.repeat(mask[..., None], 3, axis=3))
            files = {"video": f"{name}.mp4", "mask": f"{name}-mask.mp4", "fps": FPS, "frames": frames}
        obj = scene["objects"][j]
        listing.append({"name": name, **files, "caption": caption(scene), "targetPrompt": caption(edited),
                        "masked": f"the {obj['colour']} {obj['shape']}", "edit": {"kind": kind, **change}})
    with open(os.path.join(OUT, "scenes.json"), "w", encoding="utf-8") as f:
        json.dump(listing, f, indent=1)
        f.write("\n")
    for item in listing:
        print(f"{item['name']}: {item['caption']}  ->  {item['targetPrompt']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
