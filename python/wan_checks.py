"""Checks of the Wan2.1 transformer export on the tiny random model; prints the numbers as JSON.

Run from python/: `../.venv/bin/python wan_checks.py [--quick]`. Exits non-zero when a figure
is out of its bound. What it measures:
- parity: the exported graph in onnxruntime against PyTorch, worst ‖onnx − torch‖∞ / ‖torch‖∞ of
  the velocity and of every k.i / v.i, with Sc = 0 and Sc > 0, a non-zero bias, 1 and 3 latent
  frames and a non-square patch grid;
- the float32 rotary embedding and time features against the reference's complex float64 form,
  alone (1.3B head size, a 480p 81-frame grid) and through the whole tiny model;
- the port identities of docs/model-pack.md: Sc = 0 is the plain model; the layer's own K/V fed
  back as context with bias 0 leave the velocity unchanged; −1e4 on all context keys equals Sc = 0;
- that the graph holds no float64 or complex tensor;
- the velocity error of the int8/int4 weight-only graphs (blocks of 32 and 128) and of the
  float16 graph (half.py, float16 ports) against the float32 graph (bounds: 2%, 20%, 0.5%:
  random uniform weights are the hardest case for a quantiser, so these are loose; the float16
  graph is fed float16-exact inputs, so its figure is the float16 arithmetic alone);
- the tiny random pack through `export_wan_pack`: manifest fields and graph ports; and a
  transformer exported from a release-like folder (config.json, bfloat16 shards + index)
  against the same weights in PyTorch;
- strict checkpoint loading: shards + index and a single bfloat16 file load back exactly; a
  missing key, an extra key, a truncated shard and an image-to-video config.json are refused
  with one-line errors.
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import onnx
import torch

from check_common import onnx_types, rel_err, report_findings, run_ports, session
from flowedit_export.checkpoint import CheckpointError
from flowedit_export.wan.config import DIT_SIZES, ConfigError, dit_config_from_json
from flowedit_export.wan.dit import (
    ROPE_POSITIONS,
    TIME_SCALE,
    TransformerGraph,
    apply_rope,
    build_dit,
    example_inputs,
    export_transformer,
    load_dit_checkpoint,
    rope_tables,
    time_features,
    time_frequencies,
    token_rope,
)

# Bounds a float32 export must meet on the random tiny model.
PARITY_BOUND = 1e-4
ROPE_BOUND = 1e-5
TIME_BOUND = 5e-4
IDENTITY_BOUND = 1e-5


# ---------------------------------------------------------------- the reference's float64 forms

def reference_rope_freqs(head_dim: int) -> torch.Tensor:
    """The reference's rotary table: unit complex numbers e^{i·p·θ_j} in float64, [1024, d/2]."""
    def ladder(channels):
        inv = 1.0 / torch.pow(10000.0, torch.arange(0, channels, 2).to(torch.float64).div(channels))
        angles = torch.outer(torch.arange(ROPE_POSITIONS).to(torch.float64), inv)
        return torch.polar(torch.ones_like(angles), angles)

    sixth = head_dim // 6
    return torch.cat([ladder(head_dim - 4 * sixth), ladder(2 * sixth), ladder(2 * sixth)], dim=1)


def reference_rope_apply(x: torch.Tensor, grid, freqs: torch.Tensor) -> torch.Tensor:
    """x [B, S, h, d] rotated as complex float64 numbers (pairs of channels), cast back to float32."""
    f, h, w = grid
    half = x.shape[3] // 2
    parts = freqs.split([half - 2 * (half // 3), half // 3, half // 3], dim=1)
    s = f * h * w
    per_token = torch.cat(
        [
            parts[0][:f].view(f, 1, 1, -1).expand(f, h, w, -1),
            parts[1][:h].view(1, h, 1, -1).expand(f, h, w, -1),
            parts[2][:w].view(1, 1, w, -1).expand(f, h, w, -1),
        ],
        dim=-1,
    ).reshape(s, 1, -1)  # [S, 1, d/2] complex
    z = torch.view_as_complex(x.to(torch.float64).reshape(x.shape[0], s, x.shape[2], -1, 2))  # [B, S, h, d/2]
    return torch.view_as_real(z * per_token).flatten(3).float()


def reference_time_features(t: torch.Tensor, freq_dim: int) -> torch.Tensor:
    """The reference's sinusoidal embedding of the timestep 1000·t, in float64 then cast."""
    half = freq_dim // 2
    position = (t.to(torch.float64) * TIME_SCALE)
    sinusoid = torch.outer(position, torch.pow(10000.0, -torch.arange(half).to(position).div(half)))
    return torch.cat([torch.cos(sinusoid), torch.sin(sinusoid)], dim=1).float()


def reference_forward(model, latents, t, text):
    """The tiny model run with the reference's float64 RoPE and time features, no context."""
    cfg = model.cfg
    freqs = reference_rope_freqs(cfg.head_dim)
    x = model.patch_embedding(latents)
    grid = tuple(x.shape[2:])
    x = x.flatten(2).transpose(1, 2)  # [B, S, dim]
    e = model.time_embedding(reference_time_features(t, cfg.freq_dim))
    e0 = model.time_projection(e).unflatten(1, (6, cfg.dim))
    context = model.text_embedding(text)
    for block in model.blocks:
        sa = block.self_attn
        m = (block.modulation + e0).chunk(6, dim=1)
        y = block.norm1(x) * (1 + m[1]) + m[0]
        q = reference_rope_apply(sa.norm_q(sa.q(y)).unflatten(2, (cfg.heads, -1)), grid, freqs).transpose(1, 2)
        k = reference_rope_apply(sa.norm_k(sa.k(y)).unflatten(2, (cfg.heads, -1)), grid, freqs).transpose(1, 2)
        v = sa.v(y).unflatten(2, (cfg.heads, -1)).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(cfg.head_dim), dim=-1) @ v
        x = x + sa.o(a.transpose(1, 2).flatten(2)) * m[2]
        x = x + block.cross_attn(block.norm3(x), context)
        x = x + block.ffn(block.norm2(x) * (1 + m[4]) + m[3]) * m[5]
    return model.unpatchify(model.head(x, e), latents.shape)


# ---------------------------------------------------------------- checks

def check_precision(model) -> dict:
    """Float32 RoPE and time features vs the reference's float64 forms."""
    out = {}
    g = torch.Generator().manual_seed(3)
    for name, d, grid in [("1.3b", 128, (21, 30, 52)), ("tiny", model.cfg.head_dim, (3, 7, 9))]:
        x = torch.randn(1, grid[0] * grid[1] * grid[2], 1, d, generator=g)  # [1, S, 1, d]
        half = d // 2
        split = (half - 2 * (half // 3), half // 3, half // 3)
        cos, sin = token_rope(*rope_tables(d), split, grid)
        ours = apply_rope(x, cos, sin)
        ref = reference_rope_apply(x, grid, reference_rope_freqs(d))
        out[f"rope_{name}_grid{'x'.join(map(str, grid))}_rel"] = rel_err(ours.numpy(), ref.numpy())
    t = torch.cat([torch.linspace(0, 1, 1001), torch.rand(1000, generator=g)])  # [T]
    for freq_dim in sorted({256, model.cfg.freq_dim}):
        ours = time_features(t, time_frequencies(freq_dim))
        ref = reference_time_features(t, freq_dim)
        out[f"time_features_{freq_dim}_abs"] = float((ours - ref).abs().max())
    cfg = model.cfg
    with torch.no_grad():
        worst = 0.0
        for frames, grid in [(1, (4, 6)), (3, (5, 3))]:
            latents, tt, text = example_inputs(cfg, 2, frames, grid, [], seed=11)
            ours = model(latents, tt, text, model.empty_context(2, frames * grid[0] * grid[1]))[0]
            worst = max(worst, rel_err(ours.numpy(), reference_forward(model, latents, tt, text).numpy()))
        out["velocity_vs_float64_reference_rel"] = worst
    return out


def check_parity(model, path: str) -> dict:
    import onnxruntime as ort

    cfg = model.cfg
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    graph = TransformerGraph(model)
    out_names = ["velocity"] + [f"{kv}.{i}" for i in range(cfg.layers) for kv in ("k", "v")]
    worst = {n: 0.0 for n in out_names}
    cases = {}
    for frames in (1, 3):
        for grid in ((3, 5), (4, 2)):
            for context, bias in (([0] * cfg.layers, 0.0), ([0] * cfg.layers, 1.0), ([4 + 3 * i for i in range(cfg.layers)], 1.0)):
                args = example_inputs(cfg, 2, frames, grid, context, seed=len(cases) + 20, bias_scale=bias)
                with torch.no_grad():
                    ref = [r.numpy() for r in graph(*args)]
                got = sess.run(out_names, {n: a.numpy() for n, a in zip(names, args)})
                errs = {n: rel_err(g, r) for n, g, r in zip(out_names, got, ref)}
                for n in out_names:
                    worst[n] = max(worst[n], errs[n])
                key = f"frames {frames}, grid {grid[0]}x{grid[1]}, Sc {context}, bias x{bias:g}"
                cases[key] = {"velocity_rel": errs["velocity"], "worst_rel": max(errs.values())}
    return {"worst_rel": worst, "cases": cases, "worst_overall": max(worst.values())}


def check_identities(model, path: str) -> dict:
    """The three port identities, in onnxruntime (what flowedit runs)."""
    import onnxruntime as ort

    cfg = model.cfg
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    frames, grid, b = 3, (3, 5), 2
    s = frames * grid[0] * grid[1]
    latents, t, text = example_inputs(cfg, b, frames, grid, [], seed=40)
    base = {"latents": latents.numpy(), "t": t.numpy(), "text": text.numpy()}

    def run(ctx):
        feed = dict(base)
        for i, (k, v, bias) in enumerate(ctx):
            feed[f"ctx_k.{i}"], feed[f"ctx_v.{i}"], feed[f"ctx_bias.{i}"] = k, v, bias
        return sess.run(None, {n: feed[n] for n in names})

    empty = [(np.zeros((b, cfg.heads, 0, cfg.head_dim), np.float32),) * 2 + (np.zeros((b, s), np.float32),) for _ in range(cfg.layers)]
    plain = run(empty)
    with torch.no_grad():
        torch_plain = model(latents, t, text, model.empty_context(b, s))[0].numpy()
    own = [(plain[1 + 2 * i], plain[2 + 2 * i], np.zeros((b, 2 * s), np.float32)) for i in range(cfg.layers)]
    g = np.random.default_rng(41)
    other = [
        (g.standard_normal((b, cfg.heads, 7, cfg.head_dim)).astype(np.float32) * 3,
         g.standard_normal((b, cfg.heads, 7, cfg.head_dim)).astype(np.float32) * 3,
         np.concatenate([np.zeros((b, s)), np.full((b, 7), -1e4)], axis=1).astype(np.float32))
        for _ in range(cfg.layers)
    ]
    return {
        "sc0_equals_plain_model_rel": rel_err(plain[0], torch_plain),
        "own_kv_as_context_rel": rel_err(run(own)[0], plain[0]),
        "minus_1e4_bias_equals_sc0_rel": rel_err(run(other)[0], plain[0]),
    }


def check_smaller(cfg, path: str, folder: str) -> dict:
    """Velocity error of the int8/int4 (weight-only MatMulNBits) and float16 graphs against the
    float32 graph, and their sizes."""
    import onnxruntime as ort

    from flowedit_export.half import check_half, export_half
    from flowedit_export.quantize import quantize_weights

    args = example_inputs(cfg, 2, 3, (3, 5), [4 + 3 * i for i in range(cfg.layers)], seed=60)

    def velocity(p):
        sess = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
        return sess.run(["velocity"], {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args)})[0]

    ref = velocity(path)
    out = {"float32_bytes": os.path.getsize(path)}
    for bits, block, activations in ((8, 32, "int8"), (8, 128, "int8"), (8, 128, "float32"), (4, 32, "int8"), (4, 128, "int8"), (4, 32, "float32")):
        q = os.path.join(folder, f"int{bits}-{block}-{activations}.onnx")
        quantize_weights(path, q, bits, block, activations=activations)
        out[f"int{bits}_block{block}_{activations}_activations"] = {"velocity_rel": rel_err(velocity(q), ref), "bytes": os.path.getsize(q)}
    model = build_dit(cfg, seed=1)
    f16 = os.path.join(folder, "float16.onnx")
    export_half(lambda p: export_transformer(model, cfg, p), f16)
    exact = [a.half().float() for a in args]
    sess = session(f16)
    out["float16"] = {"velocity_rel": rel_err(run_ports(sess, exact, ["velocity"])[0], run_ports(session(path), exact, ["velocity"])[0]),
                      "velocity_rel_with_port_rounding": rel_err(run_ports(sess, args, ["velocity"])[0], ref),
                      "bytes": os.path.getsize(f16), "port_problems": len(check_half(onnx.load(f16)))}
    return out


def check_loading(cfg, folder: str) -> dict:
    """Shards + index and a single bfloat16 file load back; broken folders give one-line errors."""
    from safetensors.torch import save_file

    model = build_dit(cfg, seed=7)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    keys = sorted(state)
    out = {}

    sharded = os.path.join(folder, "sharded")
    os.makedirs(sharded)
    halves = [keys[: len(keys) // 2], keys[len(keys) // 2 :]]
    weight_map = {}
    for n, part in enumerate(halves, 1):
        shard = f"diffusion_pytorch_model-{n:05d}-of-00002.safetensors"
        save_file({k: state[k] for k in part}, os.path.join(sharded, shard))
        weight_map.update({k: shard for k in part})
    with open(os.path.join(sharded, "diffusion_pytorch_model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    fresh = build_dit(cfg)
    load_dit_checkpoint(fresh, sharded)
    out["sharded_loads_exactly"] = all(torch.equal(fresh.state_dict()[k], state[k]) for k in keys)

    single = os.path.join(folder, "single")
    os.makedirs(single)
    save_file({k: v.to(torch.bfloat16) for k, v in state.items()}, os.path.join(single, "diffusion_pytorch_model.safetensors"))
    fresh = build_dit(cfg)
    load_dit_checkpoint(fresh, single)
    out["bf16_single_loads_as_float32"] = all(
        fresh.state_dict()[k].dtype == torch.float32 and torch.equal(fresh.state_dict()[k], state[k].to(torch.bfloat16).float()) for k in keys
    )

    def error_of(name, mutate):
        broken = os.path.join(folder, name)
        os.makedirs(broken)
        mutate(broken)
        try:
            load_dit_checkpoint(build_dit(cfg), broken)
        except CheckpointError as e:
            return str(e).replace(folder, "<tmp>")
        return None

    def missing_key(d):
        s = dict(state)
        del s["blocks.1.self_attn.norm_k.weight"]
        save_file(s, os.path.join(d, "diffusion_pytorch_model.safetensors"))

    def extra_key(d):
        save_file({**state, "img_emb.proj.0.weight": torch.zeros(3)}, os.path.join(d, "diffusion_pytorch_model.safetensors"))

    def truncated(d):
        for name in os.listdir(sharded):
            with open(os.path.join(sharded, name), "rb") as f:
                data = f.read()
            with open(os.path.join(d, name), "wb") as f:
                f.write(data[: len(data) * 2 // 3] if name.startswith("diffusion_pytorch_model-00002-") else data)

    def no_index(d):
        for name in os.listdir(sharded):
            if name.endswith(".safetensors"):
                with open(os.path.join(sharded, name), "rb") as src, open(os.path.join(d, name), "wb") as dst:
                    dst.write(src.read())

    errors = {
        "missing_key": error_of("missing", missing_key),
        "unexpected_key": error_of("extra", extra_key),
        "truncated_shard": error_of("truncated", truncated),
        "shards_without_index": error_of("noindex", no_index),
    }
    i2v = os.path.join(folder, "i2v.json")
    with open(i2v, "w") as f:
        json.dump({"_class_name": "WanModel", "model_type": "i2v", "dim": 5120, "ffn_dim": 13824, "freq_dim": 256, "in_dim": 36,
                   "num_heads": 40, "num_layers": 40, "out_dim": 16, "text_len": 512, "eps": 1e-6}, f)
    try:
        dit_config_from_json(i2v)
        errors["i2v_config"] = None
    except ConfigError as e:
        errors["i2v_config"] = str(e).replace(folder, "<tmp>")
    out["errors"] = errors
    out["all_refused"] = all(v is not None and "\n" not in v for v in errors.values())
    return out


def check_pack(folder: str) -> dict:
    """`export_wan_pack` on the tiny random model: the manifest's format-2 fields and each graph's
    port names. The text part is included when wan/t5.py is present."""
    import importlib.util

    import onnxruntime as ort

    from flowedit_export.wan.pack import WanExport, export_wan_pack

    has_t5 = importlib.util.find_spec("flowedit_export.wan.t5") is not None
    parts = ("transformer", "vae", "text") if has_t5 else ("transformer", "vae")
    out = os.path.join(folder, "pack")
    t0 = time.perf_counter()
    manifest = export_wan_pack(WanExport(out=out, random="tiny", only=parts))
    seconds = time.perf_counter() - t0
    cfg = DIT_SIZES["tiny"]
    problems = []
    expect = {
        "formatVersion": (manifest["formatVersion"], 2),
        "latent.channels": (manifest["latent"]["channels"], 16),
        "latent.scale length": (len(manifest["latent"]["scale"]), 16),
        "latent.shift length": (len(manifest["latent"]["shift"]), 16),
        "contextLayers": (manifest["transformer"]["contextLayers"], list(range(cfg.layers))),
        "text.maxTokens": (manifest["text"]["maxTokens"], cfg.text_len),
        "text.dim": (manifest["text"]["dim"], cfg.text_dim),
        "schedule": (manifest["schedule"], {"shift": {"kind": "static", "value": 5.0}}),
    }
    for name, (got, want) in expect.items():
        if got != want:
            problems.append(f"{name}: {got!r}, expected {want!r}")
    graphs = {
        "transformer.onnx": ["latents", "t", "text"] + [f"ctx_{p}.{i}" for i in range(cfg.layers) for p in ("k", "v", "bias")],
        "vae_encoder.onnx": ["pixels"],
        "vae_decoder.onnx": ["latents"],
    }
    if has_t5:
        graphs["text_encoder.onnx"] = ["input_ids", "attention_mask"]
    for name, inputs in graphs.items():
        got = [i.name for i in ort.InferenceSession(os.path.join(out, name), providers=["CPUExecutionProvider"]).get_inputs()]
        if got != inputs:
            problems.append(f"{name}: inputs {got}, expected {inputs}")
    # From a release-like folder: config.json and bfloat16 shards of a small T2V transformer.
    from safetensors.torch import save_file

    from flowedit_export.wan.dit import TransformerGraph as Graph

    release = os.path.join(folder, "release")
    os.makedirs(release)
    raw = {"_class_name": "WanModel", "_diffusers_version": "0.30.0", "model_type": "t2v", "dim": 64, "ffn_dim": 128, "freq_dim": 32,
           "in_dim": 16, "num_heads": 2, "num_layers": 2, "out_dim": 16, "text_len": 16, "eps": 1e-6}
    with open(os.path.join(release, "config.json"), "w") as f:
        json.dump(raw, f)
    rcfg = dit_config_from_json(release)
    model = build_dit(rcfg, seed=5)
    state = {k: v.to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    keys = sorted(state)
    weight_map = {}
    for n, part in enumerate((keys[::2], keys[1::2]), 1):
        shard = f"diffusion_pytorch_model-{n:05d}-of-00002.safetensors"
        save_file({k: state[k] for k in part}, os.path.join(release, shard))
        weight_map.update({k: shard for k in part})
    with open(os.path.join(release, "diffusion_pytorch_model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": weight_map}, f)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    from_release = os.path.join(folder, "pack-release")
    manifest = export_wan_pack(WanExport(out=from_release, checkpoint=release, only=("transformer",)))
    args = example_inputs(rcfg, 1, 3, (2, 3), [5] * rcfg.layers, seed=70)
    sess = ort.InferenceSession(os.path.join(from_release, "transformer.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(["velocity"], {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args)})[0]
    with torch.no_grad():
        want = Graph(model)(*args)[0].numpy()
    release_rel = rel_err(got, want)
    if release_rel > PARITY_BOUND:
        problems.append(f"transformer exported from a release folder: velocity error {release_rel:.2e}")
    if manifest["id"] != "wan2.1-t2v-custom" or manifest["text"]["dim"] != 4096:
        problems.append(f"release manifest: id {manifest['id']}, text.dim {manifest['text']['dim']}")

    # A release folder whose files hold other models: every one named before any export starts.
    from flowedit_export.wan.pack import ExportError
    from flowedit_export.wan.vae import build_vae

    wrong = os.path.join(folder, "wrong")
    os.makedirs(os.path.join(wrong, "google", "umt5-xxl"))
    with open(os.path.join(wrong, "config.json"), "w") as f:
        json.dump(raw, f)
    save_file({k: v for k, v in state.items() if k != "head.head.bias"}, os.path.join(wrong, "diffusion_pytorch_model.safetensors"))
    torch.save(build_vae("tiny").state_dict(), os.path.join(wrong, "Wan2.1_VAE.pth"))  # not the release's width
    torch.save({"token_embedding.weight": torch.zeros(10, 4)}, os.path.join(wrong, "models_t5_umt5-xxl-enc-bf16.pth"))
    tokenizer_fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "tokenizers", "umt5-test", "tokenizer.json")
    shutil.copy(tokenizer_fixture, os.path.join(wrong, "google", "umt5-xxl", "tokenizer.json"))
    t0 = time.perf_counter()
    try:
        export_wan_pack(WanExport(out=os.path.join(folder, "pack-wrong"), checkpoint=wrong))
        problems.append("a release folder of other models' files was exported")
        wrong_models = []
    except ExportError as e:
        wrong_models = e.problems
    refused_seconds = round(time.perf_counter() - t0, 2)
    if os.path.exists(os.path.join(folder, "pack-wrong")):
        problems.append("a refused export left its pack folder")

    # Too little memory for a part: refused in the plan, naming the part and the way round it.
    import flowedit_export.wan.pack as pack_module

    real_available = pack_module.available_memory
    pack_module.available_memory = lambda: 16 * 2**30
    try:
        pack_module.plan_export(WanExport(out=os.path.join(folder, "pack-memory"), random="1.3b"))
        memory_refusal = None
    except ExportError as e:
        memory_refusal = str(e)
    finally:
        pack_module.available_memory = real_available

    left = [n for n in os.listdir(folder) if n.endswith(".partial")]
    if left:
        problems.append(f"temporary folders left: {left}")
    return {"parts": list(parts), "seconds": round(seconds, 2), "files": sorted(os.listdir(out)),
            "release_folder_bf16_shards_velocity_rel": release_rel, "wrong_models": wrong_models,
            "wrong_models_refused_seconds": refused_seconds, "memory_refusal": memory_refusal, "problems": problems}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="write the tiny transformer.onnx here instead of a temporary folder")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    cfg = DIT_SIZES["tiny"]
    model = build_dit(cfg, seed=1)
    report = {"config": cfg.name, "layers": cfg.layers, "heads": cfg.heads, "head_dim": cfg.head_dim}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(args.keep or tmp, "transformer.onnx")
        t0 = time.perf_counter()
        export_transformer(model, cfg, path)
        report["export_seconds"] = round(time.perf_counter() - t0, 3)
        forbidden = onnx_types(path) & {onnx.TensorProto.DOUBLE, onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}
        report["graph_has_float64_or_complex"] = bool(forbidden)
        report["parity"] = check_parity(model, path)
        report["identities"] = check_identities(model, path)
        report["precision"] = check_precision(model)
        report["smaller_graphs"] = check_smaller(cfg, path, tmp)
        report["loading"] = check_loading(cfg, tmp)
        report["pack"] = check_pack(tmp)
    failures = []
    if report["graph_has_float64_or_complex"]:
        failures.append("the graph holds float64 or complex tensors")
    if report["parity"]["worst_overall"] > PARITY_BOUND:
        failures.append(f"parity {report['parity']['worst_overall']:.2e} > {PARITY_BOUND}")
    for k, v in report["identities"].items():
        if v > IDENTITY_BOUND:
            failures.append(f"{k} {v:.2e} > {IDENTITY_BOUND}")
    for k, v in report["precision"].items():
        bound = TIME_BOUND if k.startswith("time") else ROPE_BOUND if k.startswith("rope") else PARITY_BOUND
        if v > bound:
            failures.append(f"{k} {v:.2e} > {bound}")
    for k, v in report["smaller_graphs"].items():
        bound = {"int8": 0.02, "int4": 0.2, "float16": 0.005}.get(k.split("_")[0])
        if bound is not None and v["velocity_rel"] > bound:
            failures.append(f"{k} velocity error {v['velocity_rel']:.2e} > {bound}")
        if isinstance(v, dict) and v.get("port_problems"):
            failures.append(f"{k}: {v['port_problems']} ports are not float16")
    loading = report["loading"]
    if not (loading["sharded_loads_exactly"] and loading["bf16_single_loads_as_float32"] and loading["all_refused"]):
        failures.append("checkpoint loading")
    failures += report["pack"]["problems"]
    return report_findings(report, failures)


if __name__ == "__main__":
    sys.exit(main())
