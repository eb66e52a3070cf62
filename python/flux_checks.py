"""Checks of the FLUX.1 transformer export on the tiny random model; prints the numbers as JSON.

Run from python/: `../.venv/bin/python flux_checks.py`. Exits non-zero when a figure is out of
its bound. What it measures:
- parity: the exported graph in onnxruntime against PyTorch, worst ‖onnx − torch‖∞ / ‖torch‖∞ of
  the velocity and of every k.i / v.i, for dev and schnell, with Sc = 0 and Sc > 0, a non-zero
  bias, two text lengths and non-square patch grids that differ from the traced one;
- an independent reference forward written from the reference's math (src/flux: packing, ids,
  float64 RoPE as 2×2 rotation matrices, timestep embedding, scaled-dot-product attention)
  against our float32 module, and the float32 RoPE alone at the full head size (1024×1024 and
  2048×512 images, 512 text tokens) against the float64 tables;
- the port identities of docs/model-pack.md: Sc = 0 is the plain model; each layer's own K/V fed
  back as context with bias 0 leave the velocity unchanged; −1e4 on all context keys equals Sc = 0;
- that the graph holds no float64 or complex tensor;
- the velocity error of the int8/int4 weight-only graphs and of the float16 graph (half.py,
  float16 ports, fed float16-exact inputs) against
  the float32 graph (bounds 2%, 20%, 0.5%: random uniform weights are hard on a quantiser);
- the part-by-part export (stream.py): int4 and float16 equal to the whole graph
  made the same way, float32 from a bfloat16 checkpoint file equal to the module loaded from it,
  a checkpoint lacking a key refused before any work, and nothing left by an interrupted export;
- strict loading: a release folder (flux1-dev.safetensors beside ae.safetensors), a bfloat16
  file and shards + index load exactly; a missing key, an extra key, a truncated file, a dev file
  exported as schnell and the reverse, a diffusers-layout file and shards without their index are
  refused in one line each, by the loader and by the header-only check alike.
"""

import argparse
import gc
import json
import math
import os
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F

from check_common import onnx_types, rel_err, report_findings, run_ports, session
from flowedit_export.checkpoint import CheckpointError
from flowedit_export.flux.config import flux_config
from flowedit_export.flux.dit import (
    EmbedND,
    TransformerGraph,
    apply_rope,
    build_flux,
    check_flux_keys,
    detect_variant,
    example_inputs,
    export_transformer,
    load_flux_checkpoint,
    time_features,
    time_frequencies,
    token_ids,
)

PARITY_BOUND = 1e-4
REFERENCE_BOUND = 1e-4
ROPE_BOUND = 2e-5
TIME_BOUND = 1e-6
IDENTITY_BOUND = 1e-5
STREAM_BOUND = 1e-5
SMALLER_BOUNDS = {"int8": 0.02, "int4": 0.2, "float16": 0.005}
SEED = 1  # the tiny models' weights: the whole graphs, the quantised and float16 ones, the part-by-part exports


def run(sess, args, outputs=None):
    """`sess` on `args`, each cast to its port's type (float16 graphs take float16)."""
    return run_ports(sess, args, outputs)


def freeze_heap() -> None:
    """Collect, then move what survives (torch, the exporters, the models and graphs of earlier
    checks) out of the collector's reach: the part-by-part exporter collects garbage after every
    part, and each collection would walk all of it again."""
    gc.collect()
    gc.freeze()


# ---------------------------------------------------------------- the reference's math, written apart

def ref_timestep_embedding(t: torch.Tensor, dim: int = 256) -> torch.Tensor:
    """The reference's sinusoidal embedding of 1000·t, frequencies by exp in float32."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(0, half, dtype=torch.float32) / half)
    args = (1000.0 * t)[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def ref_rope_axis(pos: torch.Tensor, dim: int, theta: float) -> torch.Tensor:
    """Rotation matrices [[cos, −sin], [sin, cos]] of one id axis in float64, cast to float32: [..., dim/2, 2, 2]."""
    scale = torch.arange(0, dim, 2, dtype=torch.float64) / dim
    omega = 1.0 / (theta**scale)
    angles = pos.to(torch.float64)[..., None] * omega  # [..., dim/2]
    m = torch.stack([torch.cos(angles), -torch.sin(angles), torch.sin(angles), torch.cos(angles)], dim=-1)
    return m.reshape(*angles.shape, 2, 2).float()


def ref_pe(ids: torch.Tensor, axes_dim, theta) -> torch.Tensor:
    """ids [B, S, 3] -> [B, 1, S, d/2, 2, 2]."""
    return torch.cat([ref_rope_axis(ids[..., i], axes_dim[i], theta) for i in range(ids.shape[-1])], dim=-3)[:, None]


def ref_apply_rope(x: torch.Tensor, pe: torch.Tensor) -> torch.Tensor:
    """x [B, H, S, D] rotated by the matrices: out = M[..., 0]·x_even + M[..., 1]·x_odd."""
    x_ = x.float().reshape(*x.shape[:-1], -1, 1, 2)
    return (pe[..., 0] * x_[..., 0] + pe[..., 1] * x_[..., 1]).reshape(*x.shape)


def ref_ids(batch: int, length: int, hp: int, wp: int) -> torch.Tensor:
    img = torch.zeros(hp, wp, 3, dtype=torch.float64)
    img[..., 1] += torch.arange(hp, dtype=torch.float64)[:, None]
    img[..., 2] += torch.arange(wp, dtype=torch.float64)[None, :]
    img = img.reshape(1, hp * wp, 3).expand(batch, -1, -1)
    return torch.cat([torch.zeros(batch, length, 3, dtype=torch.float64), img], dim=1)


def ref_pack(latents: torch.Tensor) -> torch.Tensor:
    """b c (h 2) (w 2) -> b (h w) (c 2 2), one token at a time."""
    b, c, _, h, w = latents.shape
    tokens = []
    for y in range(h // 2):
        for x in range(w // 2):
            tokens.append(latents[:, :, 0, 2 * y : 2 * y + 2, 2 * x : 2 * x + 2].reshape(b, c * 4))
    return torch.stack(tokens, dim=1)


def ref_unpack(tokens: torch.Tensor, shape) -> torch.Tensor:
    b, c, f, h, w = shape
    out = torch.zeros(shape)
    for y in range(h // 2):
        for x in range(w // 2):
            out[:, :, 0, 2 * y : 2 * y + 2, 2 * x : 2 * x + 2] = tokens[:, y * (w // 2) + x].reshape(b, c, 2, 2)
    return out


def ref_rms(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(torch.mean(x**2, dim=-1, keepdim=True) + 1e-6) * scale


def ref_heads(qkv: torch.Tensor, heads: int):
    """B L (K H D) -> K B H L D."""
    b, length, _ = qkv.shape
    return qkv.reshape(b, length, 3, heads, -1).permute(2, 0, 3, 1, 4)


def ref_attention(q, k, v, pe):
    q, k = ref_apply_rope(q, pe), ref_apply_rope(k, pe)
    x = F.scaled_dot_product_attention(q, k, v)  # [B, H, L, D]
    return x.transpose(1, 2).flatten(2)


def ref_mod(lin, vec, count):
    return F.linear(F.silu(vec), lin.weight, lin.bias)[:, None, :].chunk(count, dim=-1)


def ref_ln(x):
    return F.layer_norm(x, (x.shape[-1],), eps=1e-6)


def reference_forward(model, latents, t, text, pooled, guidance):
    """The reference's forward (src/flux/model.py), with our module's weights and no context."""
    cfg = model.cfg
    h = cfg.num_heads
    b, _, _, hh, ww = latents.shape
    img = F.linear(ref_pack(latents), model.img_in.weight, model.img_in.bias)

    def mlp_embed(m, x):
        return F.linear(F.silu(F.linear(x, m.in_layer.weight, m.in_layer.bias)), m.out_layer.weight, m.out_layer.bias)

    vec = mlp_embed(model.time_in, ref_timestep_embedding(t))
    if cfg.guidance_embed:
        vec = vec + mlp_embed(model.guidance_in, ref_timestep_embedding(guidance))
    vec = vec + mlp_embed(model.vector_in, pooled)
    txt = F.linear(text, model.txt_in.weight, model.txt_in.bias)
    pe = ref_pe(ref_ids(b, text.shape[1], hh // 2, ww // 2), cfg.axes_dim, cfg.theta)
    for blk in model.double_blocks:
        im = ref_mod(blk.img_mod.lin, vec, 6)
        tm = ref_mod(blk.txt_mod.lin, vec, 6)
        iq, ik, iv = ref_heads(blk.img_attn.qkv((1 + im[1]) * ref_ln(img) + im[0]), h)
        tq, tk, tv = ref_heads(blk.txt_attn.qkv((1 + tm[1]) * ref_ln(txt) + tm[0]), h)
        iq, ik = ref_rms(iq, blk.img_attn.norm.query_norm.scale), ref_rms(ik, blk.img_attn.norm.key_norm.scale)
        tq, tk = ref_rms(tq, blk.txt_attn.norm.query_norm.scale), ref_rms(tk, blk.txt_attn.norm.key_norm.scale)
        attn = ref_attention(torch.cat((tq, iq), 2), torch.cat((tk, ik), 2), torch.cat((tv, iv), 2), pe)
        ta, ia = attn[:, : txt.shape[1]], attn[:, txt.shape[1] :]
        img = img + im[2] * blk.img_attn.proj(ia)
        img = img + im[5] * blk.img_mlp((1 + im[4]) * ref_ln(img) + im[3])
        txt = txt + tm[2] * blk.txt_attn.proj(ta)
        txt = txt + tm[5] * blk.txt_mlp((1 + tm[4]) * ref_ln(txt) + tm[3])
    x = torch.cat((txt, img), 1)
    for blk in model.single_blocks:
        shift, scale, gate = ref_mod(blk.modulation.lin, vec, 3)
        qkv, hidden = torch.split(blk.linear1((1 + scale) * ref_ln(x) + shift), [3 * cfg.hidden_size, cfg.mlp_hidden], dim=-1)
        q, k, v = ref_heads(qkv, h)
        q, k = ref_rms(q, blk.norm.query_norm.scale), ref_rms(k, blk.norm.key_norm.scale)
        out = blk.linear2(torch.cat((ref_attention(q, k, v, pe), F.gelu(hidden, approximate="tanh")), 2))
        x = x + gate * out
    img = x[:, txt.shape[1] :]
    fl = model.final_layer
    shift, scale = F.linear(F.silu(vec), fl.adaLN_modulation[1].weight, fl.adaLN_modulation[1].bias).chunk(2, dim=1)
    img = F.linear((1 + scale[:, None, :]) * ref_ln(img) + shift[:, None, :], fl.linear.weight, fl.linear.bias)
    return ref_unpack(img, latents.shape)


# ---------------------------------------------------------------- checks

def check_precision(models) -> dict:
    """Float32 RoPE and time features against the reference's forms, and the whole module against
    the reference forward."""
    out = {}
    g = torch.Generator().manual_seed(3)
    full = flux_config("full")
    embed = EmbedND(full.axes_dim, full.theta)
    for name, (length, hp, wp) in {"1024x1024": (512, 64, 64), "2048x512": (512, 128, 32)}.items():
        s = length + hp * wp
        x = torch.randn(1, 2, s, full.head_dim, generator=g)  # [1, h, S, d]
        cos, sin = embed(token_ids(length, hp, wp))
        ours = apply_rope(x, cos, sin)
        ref = ref_apply_rope(x, ref_pe(ref_ids(1, length, hp, wp), full.axes_dim, full.theta))
        out[f"rope_full_{name}_L{length}_rel"] = rel_err(ours.numpy(), ref.numpy())
    t = torch.cat([torch.linspace(0, 1, 1001), torch.rand(1000, generator=g), 1 + 9 * torch.rand(100, generator=g)])
    out["time_features_abs"] = float((time_features(t, time_frequencies()) - ref_timestep_embedding(t)).abs().max())
    for variant, model in models.items():
        cfg = model.cfg
        worst = 0.0
        with torch.no_grad():
            for grid, length in (((3, 5), 4), ((4, 2), 7)):
                args = example_inputs(cfg, 2, grid, length, [], seed=11)
                guidance = args[4] if cfg.guidance_embed else None
                ours = model(*args[:4], guidance, model.empty_context(2, length + grid[0] * grid[1]))[0]
                worst = max(worst, rel_err(ours.numpy(), reference_forward(model, *args[:4], guidance).numpy()))
        out[f"velocity_{variant}_vs_reference_rel"] = worst
    return out


def check_parity(model, path: str) -> dict:
    cfg = model.cfg
    sess = session(path)
    graph = TransformerGraph(model)
    out_names = ["velocity"] + [f"{kv}.{i}" for i in range(cfg.layers) for kv in ("k", "v")]
    worst = {n: 0.0 for n in out_names}
    cases = {}
    for grid in ((3, 5), (4, 2)):
        for length in (4, 9):
            for context, bias in (([0] * cfg.layers, 0.0), ([0] * cfg.layers, 1.0), ([4 + 3 * i for i in range(cfg.layers)], 1.0)):
                args = example_inputs(cfg, 2, grid, length, context, seed=len(cases) + 20, bias_scale=bias)
                with torch.no_grad():
                    ref = [r.numpy() for r in graph(*args)]
                got = run(sess, args, out_names)
                errs = {n: rel_err(g, r) for n, g, r in zip(out_names, got, ref)}
                for n in out_names:
                    worst[n] = max(worst[n], errs[n])
                cases[f"grid {grid[0]}x{grid[1]}, L {length}, Sc {context}, bias x{bias:g}"] = max(errs.values())
    return {"worst_rel": worst, "cases": cases, "worst_overall": max(worst.values())}


def check_identities(model, path: str) -> dict:
    """The three port identities, in onnxruntime (what flowedit runs)."""
    cfg = model.cfg
    sess = session(path)
    grid, length, b = (3, 5), 6, 2
    s = length + grid[0] * grid[1]
    cond = example_inputs(cfg, b, grid, length, [], seed=40)  # latents, t, text, pooled[, guidance]
    h, d = cfg.num_heads, cfg.head_dim

    def with_ctx(ctx):
        return [a.numpy() for a in cond] + [z for triple in ctx for z in triple]

    empty = [(np.zeros((b, h, 0, d), np.float32),) * 2 + (np.zeros((b, s), np.float32),) for _ in range(cfg.layers)]
    plain = run(sess, with_ctx(empty))
    with torch.no_grad():
        guidance = cond[4] if cfg.guidance_embed else None
        torch_plain = model(*cond[:4], guidance, model.empty_context(b, s))[0].numpy()
    own = [(plain[1 + 2 * i], plain[2 + 2 * i], np.zeros((b, 2 * s), np.float32)) for i in range(cfg.layers)]
    g = np.random.default_rng(41)
    other = [
        (g.standard_normal((b, h, 7, d)).astype(np.float32) * 3,
         g.standard_normal((b, h, 7, d)).astype(np.float32) * 3,
         np.concatenate([np.zeros((b, s)), np.full((b, 7), -1e4)], axis=1).astype(np.float32))
        for _ in range(cfg.layers)
    ]
    return {
        "sc0_equals_plain_model_rel": rel_err(plain[0], torch_plain),
        "own_kv_as_context_rel": rel_err(run(sess, with_ctx(own))[0], plain[0]),
        "minus_1e4_bias_equals_sc0_rel": rel_err(run(sess, with_ctx(other))[0], plain[0]),
    }


def check_smaller(cfg, path: str, folder: str) -> dict:
    """Velocity error of the int8/int4 (weight-only MatMulNBits) and float16 graphs against the
    float32 graph, and their sizes. The graphs stay in `folder` (int4-32.onnx, float16.onnx):
    check_stream compares the part-by-part export with them."""
    from flowedit_export.half import check_half, half_graph
    from flowedit_export.quantize import quantize_weights

    args = example_inputs(cfg, 2, (3, 5), 6, [4 + 3 * i for i in range(cfg.layers)], seed=60)
    ref = run(session(path), args, ["velocity"])[0]
    out = {"float32_bytes": os.path.getsize(path)}
    for bits, block in ((8, 32), (8, 128), (4, 32), (4, 128)):
        q = os.path.join(folder, f"int{bits}-{block}.onnx")
        count = quantize_weights(path, q, bits, block)
        out[f"int{bits}_block{block}"] = {"velocity_rel": rel_err(run(session(q), args, ["velocity"])[0], ref), "bytes": os.path.getsize(q), "matmuls": count}
    f16 = os.path.join(folder, "float16.onnx")
    half_graph(path, f16)  # what --dtype float16 writes (export_half: the float32 graph, converted)
    exact = [a.half().float() for a in args]
    out["float16"] = {"velocity_rel": rel_err(run(session(f16), exact, ["velocity"])[0], run(session(path), exact, ["velocity"])[0]),
                      "velocity_rel_with_port_rounding": rel_err(run(session(f16), args, ["velocity"])[0], ref),
                      "bytes": os.path.getsize(f16), "port_problems": len(check_half(onnx.load(f16)))}
    return out


def check_stream(folder: str, whole_int4: str, whole_float16: str, seed: int) -> dict:
    """Part-by-part export against the whole graph: int4 random (dev) against the whole graph
    quantised the same way, float16 against the whole graph converted (check_smaller's
    graphs of the model of `seed`: `whole_int4` in blocks of 32, `whole_float16`); float32
    (schnell) from a bfloat16 checkpoint file against PyTorch."""
    from safetensors.torch import save_file

    from flowedit_export.flux.stream import stream_export

    out = {}
    cfg = flux_config("tiny", "dev")
    streamed = os.path.join(folder, "stream-int4.onnx")
    freeze_heap()
    report = stream_export(cfg, streamed, seed=seed, bits=4, block_size=32)
    args = example_inputs(cfg, 2, (4, 3), 5, [3 + i for i in range(cfg.layers)], seed=81)
    a, b = run(session(streamed), args), run(session(whole_int4), args)
    out["int4_random_dev_vs_whole_rel"] = max(rel_err(x, y) for x, y in zip(a, b))
    out["int4_parts"] = len(report["parts"])
    out["int4_bytes"] = {"stream": report["bytes"], "whole": os.path.getsize(whole_int4)}

    freeze_heap()
    stream_export(cfg, streamed, seed=seed, bits=None, float16=True)
    a, b = run(session(streamed), args), run(session(whole_float16), args)
    out["float16_random_dev_vs_whole_rel"] = max(rel_err(x, y) for x, y in zip(a, b))

    cfg = flux_config("tiny", "schnell")
    model = build_flux(cfg, seed=9)
    ckpt = os.path.join(folder, "stream-ckpt")
    os.makedirs(ckpt)
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}, os.path.join(ckpt, "flux1-schnell.safetensors"))
    load_flux_checkpoint(model, ckpt)
    streamed = os.path.join(folder, "stream-float32.onnx")
    freeze_heap()
    stream_export(cfg, streamed, checkpoint=ckpt, bits=None)
    args = example_inputs(cfg, 1, (2, 5), 3, [2] * cfg.layers, seed=82)
    with torch.no_grad():
        want = [r.numpy() for r in TransformerGraph(model)(*args)]
    out["float32_checkpoint_schnell_vs_torch_rel"] = max(rel_err(x, y) for x, y in zip(run(session(streamed), args), want))

    # Refused before any work (a key missing from the checkpoint), and interrupted after two
    # parts: neither leaves a file behind.
    broken = os.path.join(folder, "stream-broken.safetensors")
    save_file({k: v.contiguous() for k, v in model.state_dict().items() if k != "final_layer.linear.bias"}, broken)
    target = os.path.join(folder, "stream-left", "transformer.onnx")
    try:
        stream_export(cfg, target, checkpoint=broken, bits=4)
        out["refused"] = None
    except CheckpointError as e:
        out["refused"] = str(e).replace(folder, "<tmp>")

    def interrupt(message):
        if message.startswith("double.1"):
            raise KeyboardInterrupt("stopped by the user")

    try:
        freeze_heap()
        stream_export(cfg, target, seed=1, bits=4, progress=interrupt)
    except KeyboardInterrupt:
        pass
    out["leftovers"] = sorted(os.listdir(os.path.dirname(target))) if os.path.isdir(os.path.dirname(target)) else []
    return out


def check_loading(folder: str) -> dict:
    """Release-like folders load exactly; broken ones are refused in one line, by the loader and
    by the header-only check."""
    from safetensors.torch import save_file

    cfg = flux_config("tiny", "dev")
    state = {k: v.contiguous() for k, v in build_flux(cfg, seed=7).state_dict().items()}
    keys = sorted(state)
    out = {}

    def loads(path, expected, variant="dev"):
        fresh = build_flux(flux_config("tiny", variant))
        load_flux_checkpoint(fresh, path)
        got = fresh.state_dict()
        return all(got[k].dtype == torch.float32 and torch.equal(got[k], expected[k]) for k in expected)

    release = os.path.join(folder, "release")
    os.makedirs(release)
    save_file({k: v.to(torch.bfloat16) for k, v in state.items()}, os.path.join(release, "flux1-dev.safetensors"))
    save_file({"encoder.conv_in.weight": torch.zeros(4, 3, 3, 3)}, os.path.join(release, "ae.safetensors"))
    out["release_folder_bf16_loads_as_float32"] = loads(release, {k: v.to(torch.bfloat16).float() for k, v in state.items()})
    out["variants_detected"] = [detect_variant(release)]

    sharded = os.path.join(folder, "sharded")
    os.makedirs(sharded)
    weight_map = {}
    for n, part in enumerate((keys[::2], keys[1::2]), 1):
        shard = f"diffusion_pytorch_model-{n:05d}-of-00002.safetensors"
        save_file({k: state[k] for k in part}, os.path.join(sharded, shard))
        weight_map.update({k: shard for k in part})
    with open(os.path.join(sharded, "diffusion_pytorch_model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    out["sharded_loads_exactly"] = loads(sharded, state)

    schnell_state = {k: v.contiguous() for k, v in build_flux(flux_config("tiny", "schnell"), seed=7).state_dict().items()}
    schnell_file = os.path.join(folder, "flux1-schnell.safetensors")
    save_file(schnell_state, schnell_file)
    out["variants_detected"].append(detect_variant(schnell_file))

    def broken(name, tensors, keep=None):
        path = os.path.join(folder, name)
        save_file(tensors, path)
        if keep is not None:
            with open(path, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(data[:keep(len(data))])
        return path

    cases = {
        "missing_key": (broken("missing.safetensors", {k: v for k, v in state.items() if k != "single_blocks.1.norm.key_norm.scale"}), "dev"),
        "unexpected_key": (broken("extra.safetensors", {**state, "double_blocks.0.img_attn.norm.extra": torch.zeros(3)}), "dev"),
        "shape_mismatch": (broken("shape.safetensors", {**state, "txt_in.weight": torch.zeros(64, 48)}), "dev"),
        "truncated_file": (broken("truncated.safetensors", state, keep=lambda n: n * 2 // 3), "dev"),
        "dev_file_as_schnell": (os.path.join(release, "flux1-dev.safetensors"), "schnell"),
        "schnell_file_as_dev": (schnell_file, "dev"),
        "diffusers_layout": (broken("diffusers.safetensors", {"transformer_blocks.0.attn.to_q.weight": torch.zeros(4, 4)}), "dev"),
    }
    noindex = os.path.join(folder, "noindex")
    os.makedirs(noindex)
    for name in os.listdir(sharded):
        if name.endswith(".safetensors"):
            os.link(os.path.join(sharded, name), os.path.join(noindex, name))
    cases["shards_without_index"] = (noindex, "dev")

    errors, header = {}, {}
    for name, (path, variant) in cases.items():
        fcfg = flux_config("tiny", variant)
        t0 = time.perf_counter()
        problems = check_flux_keys(path, fcfg)
        header[name] = {"problems": len(problems), "seconds": round(time.perf_counter() - t0, 3)}
        try:
            load_flux_checkpoint(build_flux(fcfg), path)
            errors[name] = None
        except CheckpointError as e:
            errors[name] = str(e).replace(folder, "<tmp>")
    out["errors"] = errors
    out["header_check"] = header
    out["all_refused"] = all(v is not None and "\n" not in v for v in errors.values()) and all(h["problems"] == 1 for h in header.values())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="write the tiny transformer graphs here instead of a temporary folder")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = {v: build_flux(flux_config("tiny", v), seed=SEED) for v in ("dev", "schnell")}
    cfg = models["dev"].cfg
    report = {"config": cfg.name, "layers": cfg.layers, "heads": cfg.num_heads, "head_dim": cfg.head_dim, "parity": {}, "identities": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or tmp
        os.makedirs(folder, exist_ok=True)
        forbidden = set()
        paths = {}
        for variant, model in models.items():
            path = paths[variant] = os.path.join(folder, f"transformer-{variant}.onnx")
            t0 = time.perf_counter()
            export_transformer(model, model.cfg, path)
            report[f"export_{variant}_seconds"] = round(time.perf_counter() - t0, 3)
            forbidden |= onnx_types(path) & {onnx.TensorProto.DOUBLE, onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}
            report["parity"][variant] = check_parity(model, path)
            report["identities"][variant] = check_identities(model, path)
        report["graph_has_float64_or_complex"] = bool(forbidden)
        report["ports"] = {v: [i.name for i in session(p).get_inputs()][:6] for v, p in paths.items()}
        report["precision"] = check_precision(models)
        report["smaller_graphs"] = check_smaller(cfg, paths["dev"], tmp)
        report["stream"] = check_stream(tmp, os.path.join(tmp, "int4-32.onnx"), os.path.join(tmp, "float16.onnx"), seed=SEED)
        report["loading"] = check_loading(tmp)
    failures = []
    if report["graph_has_float64_or_complex"]:
        failures.append("the graph holds float64 or complex tensors")
    expected_ports = {"dev": ["latents", "t", "text", "pooled", "guidance", "ctx_k.0"], "schnell": ["latents", "t", "text", "pooled", "ctx_k.0", "ctx_v.0"]}
    if report["ports"] != expected_ports:
        failures.append(f"ports {report['ports']}, expected {expected_ports}")
    for variant, parity in report["parity"].items():
        if parity["worst_overall"] > PARITY_BOUND:
            failures.append(f"{variant} parity {parity['worst_overall']:.2e} > {PARITY_BOUND}")
    for variant, identities in report["identities"].items():
        for k, v in identities.items():
            if v > IDENTITY_BOUND:
                failures.append(f"{variant} {k} {v:.2e} > {IDENTITY_BOUND}")
    for k, v in report["precision"].items():
        bound = TIME_BOUND if k.startswith("time") else ROPE_BOUND if k.startswith("rope") else REFERENCE_BOUND
        if v > bound:
            failures.append(f"{k} {v:.2e} > {bound}")
    for k, v in report["smaller_graphs"].items():
        bound = SMALLER_BOUNDS.get(k.split("_")[0])
        if bound is not None and not 0 < v["velocity_rel"] <= bound:
            failures.append(f"{k} velocity error {v['velocity_rel']:.2e}, expected in (0, {bound}]")
        if isinstance(v, dict) and v.get("port_problems"):
            failures.append(f"{k}: {v['port_problems']} ports are not float16")
    stream = report["stream"]
    for k in ("int4_random_dev_vs_whole_rel", "float16_random_dev_vs_whole_rel", "float32_checkpoint_schnell_vs_torch_rel"):
        if stream[k] > STREAM_BOUND:
            failures.append(f"stream {k} {stream[k]:.2e} > {STREAM_BOUND}")
    if stream["leftovers"]:
        failures.append(f"stream export left {stream['leftovers']}")
    if not stream["refused"] or "missing keys: final_layer.linear.bias" not in stream["refused"]:
        failures.append(f"stream export from a checkpoint lacking a key: {stream['refused']}")
    loading = report["loading"]
    if not (loading["release_folder_bf16_loads_as_float32"] and loading["sharded_loads_exactly"] and loading["all_refused"]):
        failures.append("checkpoint loading")
    if loading["variants_detected"] != ["dev", "schnell"]:
        failures.append(f"variants detected {loading['variants_detected']}, expected dev, schnell")
    return report_findings(report, failures)


if __name__ == "__main__":
    sys.exit(main())
