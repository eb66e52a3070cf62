"""train.py with the transformer-stage trials the committed pack does not use (docs/lab/built-in-model.md):

    .venv/bin/python python/experiments/trials.py <train.py's options> [--object-weight λ] [--close-p p]
        [--shape-aux λ [--shape-aux-layer i]] [--caption-contrast λ [--caption-contrast-margin δ] [--caption-contrast-t t_lo]]

- --object-weight λ: the flow loss weighted 1 + λ·m, m the objects' coverage per latent cell grown by one
  cell ("Does the transformer use the shape words?");
- --close-p p: that share of the still batches drawn as one-object close-ups at half the size ("Close-ups");
- --shape-aux λ: a shape map read from a middle block's tokens (experiments/shape_aux.py, "The shape map");
- --caption-contrast λ: the true shape word must explain the object better than another
  (experiments/caption_contrast.py, "The caption contrast"), on the flow loss's x_t or, with
  --caption-contrast-t, on one of its own at large t.
Every other stage, option and file is train.py's; without these options a run trains as train.py does.
"""

import os
import sys
import time
from typing import Optional

import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # python/: the recipe's packages and train.py

import train
from experiments.caption_contrast import contrast_loss, negatives, object_cells, own_x_t
from experiments.shape_aux import ShapeAux
from flowedit_scenes.render_batch import SHAPE_NAMES, draw, draw_objects, draw_shapes, union


def object_weights(cover: torch.Tensor, latent_shape, lam: float) -> torch.Tensor:
    """Loss weights 1 + λ·m at latent resolution, m the objects' coverage [B, 1, F, H, W]
    averaged over each latent cell and grown by one cell, so a shape's outline (where a circle
    and a square differ) counts with the inside."""
    b, _, f, h, w = latent_shape
    m = F.adaptive_avg_pool2d(cover.flatten(0, 2)[:, None], (h, w))  # [B·F, 1, H', W']
    m = F.max_pool2d(m, 3, stride=1, padding=1)  # [B·F, 1, H', W'] grown by one latent cell
    return 1.0 + lam * m.view(b, 1, f, h, w)  # [B, 1, F, H', W']


def device_batch(plan, dev, masks: bool, shapes: bool = False, objects: bool = False):
    """A render plan drawn on the device: (pixels [B, 3, F, H, W] in [-1, 1], coverage [B, 1, F, H, W] or
    None, per-shape coverage [B, P, F, H, W] or None, each object slot's coverage [B, F, S, H, W] or None)."""
    per_shape = per_slot = None  # main() refuses asking for both
    if shapes:
        pixels, per_shape = draw_shapes(plan, dev)  # [B, F, H, W, 3], [B, P, F, H, W]
        cover = per_shape.sum(1, keepdim=True).clamp(max=1.0) if masks else None  # [B, 1, F, H, W]
    elif objects:
        pixels, per_slot = draw_objects(plan, dev)  # [B, F, H, W, 3], [B, F, S, H, W]
        cover = union(per_slot) if masks else None  # [B, 1, F, H, W]
    else:
        pixels, cover = draw(plan, dev, masks=masks)  # [B, F, H, W, 3], [B, 1, F, H, W]
    return pixels.permute(0, 4, 1, 2, 3) * 2.0 - 1.0, cover, per_shape, per_slot  # [B, 3, F, H, W]


def rows(x: Optional[torch.Tensor], r: int) -> Optional[torch.Tensor]:
    return x.repeat(r, *([1] * (x.dim() - 1))) if x is not None and r > 1 else x


def contrast_passes(args, run, x0, xt, t, u, ids, negative, gen, noise_gen, dev):
    """The first repeat's scenes once more under their negative captions, on the flow loss's x_t or on one of
    their own at large t (run under the true captions as well): (v [B, ...], v_true [n, ...], v_neg [n, ...], u' [n, ...])."""
    n, b = negative[0].shape[0], x0.shape[0]
    own = args.caption_contrast_t > 0
    t_con, xt_con, u_con = (own_x_t(x0[:n], args.caption_contrast_t, gen, noise_gen) if own
                            else (t[:n], xt[:n], u[:n]))  # [n], [n, C, F, H', W'] x2
    passes = ([(xt, t, ids)] + ([(xt_con, t_con, ids[:n])] if own else [])
              + [(xt_con, t_con, torch.as_tensor(negative[0]).to(dev))])  # (x_t, t, token ids) each
    xs, ts, cs = (torch.cat(part) for part in zip(*passes))  # [B + (2)n, ...]
    v_all, _ = run.dit(xs, ts, run.te(cs))  # [B + (2)n, C, F, H', W']
    v = v_all[:b]
    return v, (v_all[b:b + n] if own else v[:n]), v_all[-n:], u_con


def train_dit_trials(args, cfg, models, stats, dev) -> None:
    """train.train_dit with the trials' terms (the same helpers, in the same order)."""
    run = train.open_dit(args, models, dev)
    if run.step >= args.dit_steps:
        return
    aux = aux_opt = None
    if args.shape_aux > 0:  # training only: block --shape-aux-layer's tokens predict the shape map
        aux = ShapeAux(run.dit, args.shape_aux_layer, len(SHAPE_NAMES)).to(dev)
        aux_opt = torch.optim.AdamW(aux.parameters(), lr=args.lr, weight_decay=0.0)
        if run.resumed is not None and "aux" in run.resumed:
            aux.load_state_dict(run.resumed["aux"])
            aux_opt.load_state_dict(run.resumed["aux_opt"])
    train.log(args.run, {"stage": "dit", "start_step": run.step, "config": args.config, "render_on": args.render_on,
                         "parameters": sum(p.numel() for p in run.params),
                         **({"shape_aux": args.shape_aux, "shape_aux_layer": args.shape_aux_layer} if aux else {})})
    on_device = args.render_on == "device"
    weighted = args.object_weight > 0
    data, encode, tokenize = train.dit_data(args, cfg, run, stats, masks=weighted and not on_device, close_p=args.close_p,
                                            negatives=negatives if args.caption_contrast > 0 else None)
    gen, noise_gen = train.generators(run.step, dev)
    extra = (lambda: {"aux": aux.state_dict(), "aux_opt": aux_opt.state_dict(), "aux_layer": args.shape_aux_layer}) if aux else dict
    first, start, last_save, book = run.step, time.time(), time.time(), train.DitLog(args.run)
    while run.step < args.dit_steps and (time.time() - start) < args.dit_minutes * 60:
        ids = shapes = negative = per_slot = None
        if on_device:  # scenes as arrays, rendered here
            plan, captions, ids, negative = next(data)
            ids = torch.as_tensor(ids)  # [B, L]
            inputs, covered, shapes, per_slot = device_batch(plan, dev, weighted, aux is not None, objects=negative is not None)
            cover = [covered]
            shapes = aux.cells(shapes) if aux is not None else None  # [B, P, F, H', W']
        else:
            inputs, captions, *cover = next(data)
        x0 = train.clean_latents(inputs, encode, run, stats, dev)  # [B, C, F, H', W']
        w = object_weights(cover[0].to(dev), x0.shape, args.object_weight) if weighted else None  # [B, 1, F, H', W']
        n_scenes = x0.shape[0]
        x0, captions, ids = train.repeated(args.repeat, x0, captions, ids)
        w, shapes = rows(w, args.repeat), rows(shapes, args.repeat)
        ids = train.tokens(captions, tokenize, args.drop, gen, ids).to(dev)  # [B, L]
        t, xt, u = train.flow_point(x0, gen, noise_gen, dev)
        train.set_lr(run.opt.param_groups + (aux_opt.param_groups if aux else []),
                     train.dit_lr(args, run.step - first, time.time() - start, args.dit_steps - first))
        if negative is None:
            v, _ = run.dit(xt, t, run.te(ids))  # [B, C, F, H', W']
        else:
            v, v_pos, v_neg, u_con = contrast_passes(args, run, x0, xt, t, u, ids, negative, gen, noise_gen, dev)
        se = (v - u) ** 2  # [B, C, F, H', W']
        loss = se.mean() if w is None else (w * se).mean() / w.mean()
        total = loss
        if negative is not None:
            m = object_cells(per_slot, torch.as_tensor(negative[1]), cfg.spatial_compression)  # [n, 1, F, H', W']
            keep = (ids[:n_scenes] != tokenize.empty.to(dev)[None]).any(1)  # [n]: caption not dropped
            con_loss, con_gap = contrast_loss(v_pos, v_neg, u_con, m, keep, args.caption_contrast_margin)
            total = total + args.caption_contrast * con_loss
            book.add("contrast", con_loss.detach())
            book.add("contrast_gap", con_gap)
        if aux is not None:
            aux_loss, aux_acc = aux.loss(xt, shapes)
            total = total + args.shape_aux * aux_loss
            book.add("aux", aux_loss.detach())
            book.add("aux_shape_acc", aux_acc, 4)
        train.optimise(args, run, total, (aux_opt,) if aux else ())
        book.add("loss", loss.detach())
        if weighted:  # the plain mean too, comparable with unweighted runs
            book.add("mse", se.mean().detach())
        book.write_at(run.step)
        if time.time() - last_save > args.save_every:
            train.checkpoint(run, extra())
            last_save = time.time()
    train.checkpoint(run, extra())


def parser():
    p = train.parser()
    p.description = __doc__
    p.add_argument("--close-p", type=float, default=0.0,
                   help="share of the still batches drawn as close-ups: 2 × --batch one-object stills seen twice "
                        "as close and rendered at half --size (flowedit_scenes.close_up)")
    p.add_argument("--object-weight", type=float, default=0.0,
                   help="λ: weigh the loss by 1 + λ·(object coverage, grown by one latent cell); 0 = plain mean")
    p.add_argument("--shape-aux", type=float, default=0.0,
                   help="λ: add λ × the cross-entropy of a shape map predicted from block --shape-aux-layer's tokens "
                        "(experiments/shape_aux.py; needs --render-on device); 0 = none")
    p.add_argument("--shape-aux-layer", type=int, default=3, help="the block whose output tokens predict the shape map")
    p.add_argument("--caption-contrast", type=float, default=0.0,
                   help="λ: add λ × a hinge asking that the caption's shape word explain an object's latent cells "
                        "better than another shape word does (experiments/caption_contrast.py; needs --render-on "
                        "device); 0 = none")
    p.add_argument("--caption-contrast-margin", type=float, default=0.1,
                   help="δ: the gap in the object's loss at which the hinge stops pushing")
    p.add_argument("--caption-contrast-t", type=float, default=0.0,
                   help="t_lo: run the contrast on an x_t of its own at t ~ U[t_lo, 1], where the outline must come "
                        "from the shape word (two passes more per scene); 0 = on the flow loss's x_t and t (one more)")
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.shape_aux > 0 and args.render_on != "device":
        p.error("--shape-aux needs the per-shape coverage only --render-on device draws: add --render-on device "
                "(it renders on --device, the CPU included)")
    if args.caption_contrast > 0 and args.render_on != "device":
        p.error("--caption-contrast needs each object's coverage, which only --render-on device draws: add "
                "--render-on device (it renders on --device, the CPU included)")
    if not 0 <= args.caption_contrast_t < 1:
        p.error(f"--caption-contrast-t must be in [0, 1) (t_lo of U[t_lo, 1]), got {args.caption_contrast_t}")
    if args.caption_contrast > 0 and args.shape_aux > 0:
        p.error("--caption-contrast and --shape-aux cannot be combined: the shape map reads the transformer's tokens of "
                "one pass, and the contrast runs a second; choose one")
    return train.run_stages(args, train_dit_trials)


if __name__ == "__main__":
    sys.exit(main())
