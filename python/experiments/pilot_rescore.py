"""The kept check weights of a pixel-space run (train_pixel.py --keep-check-weights) scored again, with the
strict judge's figures and a lenient reading beside them: for each caption object whose colour is there,
the IoU of its intended shape's silhouette placed on it (judge.silhouette_iou) and whether that shape
wins the classification at all (no minimum IoU).

    .venv/bin/python python/experiments/pilot_rescore.py --config flowedit-pixel-32 --size 32 RUN [--every N]
"""

import argparse
import glob
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # python/: the recipe's packages and train.py

from flowedit_model import CONFIGS, build_models
from flowedit_scenes.judge import caption_parts, classify, label_pixels, largest_component, silhouette_iou
from flowedit_train.pixel_check import InRunCheck, score

import train


def lenient(images, scenes):
    ious, wins = [], []
    for img, scene in zip(images, scenes):
        labels = label_pixels(img)
        for colour, shape in caption_parts(scene)[0]:
            comp = largest_component(labels, colour)
            if comp is None or comp.sum() < 3:
                continue
            ious.append(silhouette_iou(comp, shape))
            wins.append(classify(comp)[0] == shape)
    return float(np.mean(ious)), float(np.mean(wins))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--config", default="flowedit-pixel-32")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--every", type=int, default=6)
    p.add_argument("--count", type=int, default=128)
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg = CONFIGS[args.config]()
    models = build_models(cfg, 0).eval()
    check = InRunCheck(args.size, args.count, 10, 4.0, train.Tokenize(cfg), "cpu")
    paths = sorted(glob.glob(os.path.join(args.run, "checks", "ema-*.pt")))
    for i, path in enumerate(paths):
        if i % args.every and i != len(paths) - 1:
            continue
        state = torch.load(path, map_location="cpu", weights_only=False)
        models.transformer.load_state_dict({k: v.float() for k, v in state["ema_dit"].items()})
        models.text_encoder.load_state_dict({k: v.float() for k, v in state["ema_te"].items()})
        images = check.sample(models.transformer, models.text_encoder)
        strict = score(images, check.scenes)
        iou, win = lenient(images, check.scenes)
        print(f"samples {state['samples']:>7}: strict shape {strict['shape']:.3f}, colour {strict['colour']:.3f}, "
              f"caption {strict['caption']:.3f}; intended shape's IoU {iou:.3f}, wins the classification {win:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
