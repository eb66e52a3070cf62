"""Checks of FLUX.1's autoencoder and of the FLUX.1 pack exporter; prints one JSON line.

Run from python/: `../.venv/bin/python flux_pack_checks.py [--no-pack]`. Exits non-zero when a
figure is out of its bound. What it measures:
- ae.reference: flowedit_export/flux/ae.py against an independent forward pass written from the
  release's math (flux_ae_reference.py) on the same weights, tiny and release size (random);
- ae.onnx: the exported encoder and decoder graphs in onnxruntime against the PyTorch module
  (batch 2, 3 frames, a non-square size), and the graphs used as flowedit uses them (its own
  scale and shift around them) against the release's encode and decode;
- ae.loading: a saved ae.safetensors loads back exactly; the diffusers layout, a transformer
  file, another width, a missing key, an extra key and a truncated file are refused in one line;
- pack: the tiny random pack through export_flux_pack (files, manifest, graph ports, the pack's
  autoencoder graphs against the PyTorch autoencoder of the same seed); bad inputs each refused
  in one line by the plan, before any graph is written, leaving nothing at --out.
Errors are ‖a − b‖∞ / ‖b‖∞.
"""

import argparse
import gc
import json
import os
import sys
import tempfile
from typing import Dict, List, Optional

import numpy as np
import torch

import flux_ae_reference as ref
from check_common import rel_err, report_findings, session
from flowedit_export.checkpoint import CheckpointError
from flowedit_export.flux.ae import (
    AE_SIZES,
    SCALE,
    SHIFT,
    AeDecoderGraph,
    AeEncoderGraph,
    AutoEncoder,
    build_ae,
    check_ae_file,
    export_ae,
    load_ae_checkpoint,
)

PARITY_BOUND = 1e-5  # float32 graph against float32 PyTorch
REFERENCE_BOUND = 1e-5  # the module against the release's math, same weights
RELEASE_PARAMETERS = 83_819_683  # parameters of ae.safetensors (FLUX.1 [dev] and [schnell])


def _cfg_args(ae: AutoEncoder):
    return ae.cfg.ch_mult, ae.cfg.num_res_blocks, ae.cfg.groups


def freeze_heap() -> None:
    """Collect, then move what survives (torch, the exporters, the models and graphs of earlier
    checks) out of the collector's reach: the exporter collects garbage after every part, and
    each collection would walk all of it again."""
    gc.collect()
    gc.freeze()


@torch.no_grad()
def against_reference(ae: AutoEncoder, g: torch.Generator, n: int, h: int, w: int) -> Dict[str, float]:
    s = ae.state_dict()
    x = torch.rand(n, 3, h, w, generator=g) * 2 - 1  # [N, 3, H, W]
    z = torch.randn(n, ae.cfg.z_channels, h // 8, w // 8, generator=g)  # [N, z, h, w]
    moments = ref.encode_moments(s, x, *_cfg_args(ae))
    return {
        "encode_mean": rel_err(ae.encode_mean(x), moments[:, : ae.cfg.z_channels]),
        "decode": rel_err(ae.decode(z), ref.decode(s, z, *_cfg_args(ae))),
    }


@torch.no_grad()
def onnx_checks(ae: AutoEncoder, g: torch.Generator, folder: str) -> Dict[str, object]:
    paths = export_ae(ae, folder)
    enc, dec = session(paths["encoder"]), session(paths["decoder"])
    b, f, h, w = 2, 3, 40, 24
    pixels = torch.rand(b, 3, f, h, w, generator=g) * 2 - 1  # [B, 3, F, H, W]
    latents = torch.randn(b, ae.cfg.z_channels, f, h // 8, w // 8, generator=g)  # [B, z, F, h, w]
    mean = enc.run(["mean"], {"pixels": pixels.numpy()})[0]
    out = dec.run(["pixels"], {"latents": latents.numpy()})[0]
    result: Dict[str, object] = {
        "mean_shape": list(mean.shape),
        "pixels_shape": list(out.shape),
        "encoder": rel_err(mean, AeEncoderGraph(ae)(pixels)),
        "decoder": rel_err(out, AeDecoderGraph(ae)(latents)),
    }
    # Frame k of the graph is the module on frame k alone.
    result["encoder_per_frame"] = max(rel_err(mean[:, :, k], ae.encode_mean(pixels[:, :, k])) for k in range(f))
    # As flowedit uses the graphs: z = (mean − shift)·scale after encoding, z / scale + shift before decoding.
    s = ae.state_dict()
    frame = pixels[:, :, 1]
    want = ref.release_encode(s, frame, *_cfg_args(ae), SCALE, SHIFT)
    result["release_encode"] = rel_err((mean[:, :, 1] - SHIFT) * SCALE, want)
    z = latents[:, :, 2]
    got = dec.run(["pixels"], {"latents": (z / SCALE + SHIFT).unsqueeze(2).numpy()})[0][:, :, 0]
    result["release_decode"] = rel_err(got, ref.release_decode(s, z, *_cfg_args(ae), SCALE, SHIFT))
    return result


def _refused(ae: AutoEncoder, path: str) -> str:
    try:
        load_ae_checkpoint(ae, path)
    except CheckpointError as e:
        return str(e)
    return f"LOADED {path}"


@torch.no_grad()
def loading_checks(ae: AutoEncoder, full: AutoEncoder, g: torch.Generator, folder: str) -> Dict[str, object]:
    """`ae` (tiny) saved and loaded back; broken files refused by a fresh tiny module, the tiny
    file by `full` (release size: a refused file leaves it as it was)."""
    from safetensors.torch import save_file

    state = {k: v.clone().contiguous() for k, v in ae.state_dict().items()}
    own = os.path.join(folder, "ae.safetensors")
    save_file(state, own)
    other = build_ae("tiny")
    load_ae_checkpoint(other, own)
    x = torch.rand(1, 3, 16, 24, generator=g) * 2 - 1
    result: Dict[str, object] = {"roundtrip_max_abs": float((other.encode_mean(x) - ae.encode_mean(x)).abs().max())}
    result["header_problems"] = check_ae_file(own, AE_SIZES["tiny"])

    def write(name: str, tensors) -> str:
        path = os.path.join(folder, name)
        save_file(tensors, path)
        return path

    errors = {
        "diffusers_layout": _refused(build_ae("tiny"), write("diffusers.safetensors", {
            "encoder.conv_in.weight": torch.zeros(16, 3, 3, 3), "encoder.down_blocks.0.resnets.0.conv1.weight": torch.zeros(16, 16, 3, 3)})),
        "transformer_file": _refused(build_ae("tiny"), write("flux1-dev.safetensors", {"img_in.weight": torch.zeros(8, 4), "txt_in.weight": torch.zeros(8, 4)})),
        "other_width": _refused(full, own),
        "missing_key": _refused(build_ae("tiny"), write("partial.safetensors", {k: v for k, v in state.items() if k != "decoder.conv_out.bias"})),
        "extra_key": _refused(build_ae("tiny"), write("extra.safetensors", dict(state, **{"encoder.mid.attn_2.q.weight": torch.zeros(1)}))),
    }
    truncated = os.path.join(folder, "truncated.safetensors")
    with open(own, "rb") as src, open(truncated, "wb") as dst:
        data = src.read()
        dst.write(data[: len(data) // 2])
    errors["truncated"] = _refused(build_ae("tiny"), truncated)
    header = {"truncated": check_ae_file(truncated, AE_SIZES["tiny"]), "missing_key": check_ae_file(os.path.join(folder, "partial.safetensors"), AE_SIZES["tiny"])}
    result["errors"] = errors
    result["header_errors"] = header
    return result


def check_ae(folder: str) -> Dict[str, object]:
    g = torch.Generator().manual_seed(7)
    tiny = build_ae("tiny", seed=3)
    report: Dict[str, object] = {"tiny_parameters": sum(p.numel() for p in tiny.parameters())}
    report["reference"] = {"tiny": against_reference(tiny, g, 2, 40, 24)}
    full = build_ae("full", seed=4)  # built once: the loading checks refuse the tiny file with it too
    report["full_parameters"] = sum(p.numel() for p in full.parameters())
    report["reference"]["full"] = against_reference(full, g, 1, 32, 48)
    report["onnx"] = onnx_checks(tiny, g, folder)
    report["loading"] = loading_checks(tiny, full, g, folder)
    return report


def ae_failures(r: Dict[str, object]) -> List[str]:
    failures = []
    for size, errs in r["reference"].items():
        for k, v in errs.items():
            if not v < REFERENCE_BOUND:
                failures.append(f"ae {size} {k} against the release's math: {v:.2e}")
    onnx = r["onnx"]
    for k in ("encoder", "decoder", "encoder_per_frame", "release_encode", "release_decode"):
        if not onnx[k] < PARITY_BOUND:
            failures.append(f"ae onnx {k}: {onnx[k]:.2e}")
    if r["full_parameters"] != RELEASE_PARAMETERS:
        failures.append(f"ae full size: {r['full_parameters']} parameters, the release has {RELEASE_PARAMETERS}")
    loading = r["loading"]
    if loading["roundtrip_max_abs"] != 0 or loading["header_problems"]:
        failures.append(f"ae roundtrip: {loading['roundtrip_max_abs']}, {loading['header_problems']}")
    for k, msg in loading["errors"].items():
        if msg.startswith("LOADED") or "\n" in msg:
            failures.append(f"ae loading {k}: {msg}")
    for k, msgs in loading["header_errors"].items():
        if len(msgs) != 1:
            failures.append(f"ae header check {k}: {msgs}")
    return failures


# ---------------------------------------------------------------- the pack

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZERS = os.path.join(REPO, "test", "fixtures", "tokenizers")
FIXTURE = os.path.join(REPO, "test", "fixtures", "packs", "flux-tiny")
FILES = ["clip_encoder.onnx", "clip_tokenizer.json", "manifest.json", "t5_encoder.onnx", "t5_tokenizer.json", "transformer.onnx", "vae_decoder.onnx", "vae_encoder.onnx"]


def _inputs(path: str) -> List[str]:
    return [i.name for i in session(path).get_inputs()]


def _outputs(path: str) -> List[str]:
    return [o.name for o in session(path).get_outputs()]


def release_folder(root: str, variant: str, seed: int, t5_vocab: Optional[int] = None) -> Dict[str, str]:
    """A folder laid out as a FLUX.1 release, of the tiny sizes: the transformer in bfloat16,
    ae.safetensors, text_encoder/ + tokenizer/ (CLIP) and text_encoder_2/ + tokenizer_2/ (T5)."""
    import dataclasses
    import shutil

    from safetensors.torch import save_file

    from flowedit_export.flux import text
    from flowedit_export.flux.config import flux_config
    from flowedit_export.flux.dit import CHECKPOINT_NAMES, build_flux

    os.makedirs(root, exist_ok=True)
    paths = {"t5": os.path.join(root, "text_encoder_2"), "clip": os.path.join(root, "text_encoder")}
    dims = {}
    for kind, sibling, fixture in (("t5", "tokenizer_2", "t5-test"), ("clip", "tokenizer", "clip-test")):
        if kind == "t5" and t5_vocab is not None:
            from transformers import T5EncoderModel

            model = T5EncoderModel(text.t5_config(dataclasses.replace(text.T5_SIZES["tiny"], vocab=t5_vocab))).eval()
        else:
            model = text.build_random(kind, "tiny", seed=seed)
        model.save_pretrained(paths[kind])
        dims[kind] = text.text_width(model)
        shutil.copytree(os.path.join(TOKENIZERS, fixture), os.path.join(root, sibling))
    cfg = flux_config("tiny", variant, context_in_dim=dims["t5"], vec_in_dim=dims["clip"])
    dit = build_flux(cfg, seed=seed)
    paths["checkpoint"] = os.path.join(root, CHECKPOINT_NAMES[variant])
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in dit.state_dict().items()}, paths["checkpoint"])
    paths["ae"] = os.path.join(root, "ae.safetensors")
    save_file({k: v.contiguous() for k, v in build_ae("tiny", seed=seed).state_dict().items()}, paths["ae"])
    return paths


def _manifest_problems(m: dict) -> List[str]:
    """The tiny dev pack's manifest, field by field."""
    from flowedit_export.flux.config import FLUX_SIZES

    cfg = FLUX_SIZES["tiny"]
    layers = cfg.depth + cfg.depth_single_blocks
    t5, clip = m["text"]["encoders"]
    expect = {
        "format": (m["format"], "flowedit.pack"),
        "formatVersion": (m["formatVersion"], 2),
        "id": (m["id"], "flux.1-dev-tiny-random"),
        "license": (m["license"], "FLUX.1 [dev] Non-Commercial License"),
        "image": (m["image"], {"multiple": 16, "maxPixels": 16384, "defaultSize": [128, 128]}),
        "latent": (m["latent"], {"channels": 16, "spatialCompression": 8, "temporalCompression": 1, "scale": 0.3611, "shift": 0.1159}),
        "schedule": (m["schedule"], {"shift": {"kind": "resolution", "baseShift": 0.5, "maxShift": 1.15, "baseTokens": 256, "maxTokens": 4096}}),
        "transformer.layers": (m["transformer"]["layers"], layers),
        "transformer.contextLayers": (m["transformer"]["contextLayers"], list(range(layers))),
        "transformer.layerGroups": (m["transformer"]["layerGroups"], {"double": list(range(cfg.depth)), "single": list(range(cfg.depth, layers))}),
        "transformer.text/guidance/patch": ((m["transformer"]["text"], m["transformer"]["guidance"], m["transformer"]["patchSize"]), ("joint", "distilled", [1, 2, 2])),
        "text names": ((t5["name"], clip["name"]), ("t5", "clip")),
        "t5 tokens/unknown/clean": ((t5["maxTokens"], t5["unknown"], t5["clean"], t5["overflow"]), (16, "refuse", "none", "truncate")),
        "clip tokens/unknown/clean": ((clip["maxTokens"], clip["unknown"], clip["clean"], clip["overflow"]), (77, "keep", "clip", "truncate")),
        "defaults": ((m["defaults"]["steps"], m["defaults"]["solver"], m["defaults"]["guidance"], m["defaults"]["shareLayers"], m["defaults"]["shareSteps"]),
                     (28, "fireflow", 2, list(range(cfg.depth, layers)), 0.2)),
        "vae": (m["vae"], {"encoder": "vae_encoder.onnx", "decoder": "vae_decoder.onnx"}),
    }
    return [f"manifest {k}: {got!r}, expected {want!r}" for k, (got, want) in expect.items() if got != want]


@torch.no_grad()
def pack_ae_errors(pack: str, ae: AutoEncoder, g: torch.Generator) -> Dict[str, float]:
    """The pack's autoencoder graphs against the PyTorch autoencoder (2 frames, non-square)."""
    pixels = torch.rand(1, 3, 2, 32, 48, generator=g) * 2 - 1
    latents = torch.randn(1, 16, 2, 4, 6, generator=g)
    mean = session(os.path.join(pack, "vae_encoder.onnx")).run(["mean"], {"pixels": pixels.numpy()})[0]
    out = session(os.path.join(pack, "vae_decoder.onnx")).run(["pixels"], {"latents": latents.numpy()})[0]
    return {"encoder": rel_err(mean, AeEncoderGraph(ae)(pixels)), "decoder": rel_err(out, AeDecoderGraph(ae)(latents))}


def write_ae_cases(ae: AutoEncoder, out_dir: str, seed: int = 11) -> Dict[str, dict]:
    """Inputs and PyTorch outputs of the tiny pack's autoencoder graphs for the Node test: raw
    little-endian float32 files and {"graph", "input", "output", "shape"s} entries."""
    g = torch.Generator().manual_seed(seed)
    os.makedirs(out_dir, exist_ok=True)
    pixels = torch.rand(2, 3, 2, 40, 24, generator=g) * 2 - 1  # [B, 3, F, H, W]
    latents = torch.randn(2, 16, 2, 5, 3, generator=g)  # [B, 16, F, h, w]
    cases = {}
    with torch.no_grad():
        for name, graph, x, (xin, yout) in (
            ("vae_encoder", AeEncoderGraph(ae), pixels, ("pixels", "mean")),
            ("vae_decoder", AeDecoderGraph(ae), latents, ("latents", "pixels")),
        ):
            y = graph(x)
            x.numpy().astype("<f4").tofile(os.path.join(out_dir, f"{name}.in.bin"))
            y.numpy().astype("<f4").tofile(os.path.join(out_dir, f"{name}.out.bin"))
            cases[name] = {"input": xin, "output": yout, "inShape": list(x.shape), "outShape": list(y.shape),
                           "inFile": f"{name}.in.bin", "outFile": f"{name}.out.bin"}
    return cases


def _refusal(opts, folder: str) -> List[str]:
    """export_flux_pack on `opts`: its ExportError's lines (or a line saying it was not refused),
    with anything written at --out or beside it added as a problem."""
    from flowedit_export.flux.pack import ExportError, export_flux_pack

    before = set(os.listdir(folder))
    try:
        export_flux_pack(opts)
        lines = ["NOT REFUSED"]
    except ExportError as e:
        lines = e.problems
    except CheckpointError as e:
        lines = [f"CheckpointError (not caught by the plan): {e}"]
    left = sorted(set(os.listdir(folder)) - before)
    if left:
        lines.append(f"LEFT {left}")
    return lines


def check_pack(folder: str, cases: Optional[str]) -> Dict[str, object]:
    import dataclasses
    import subprocess
    import time

    import flowedit_export.flux.pack as pack
    from flowedit_export.flux.dit import TransformerGraph, build_flux, example_inputs
    from flowedit_export.flux.pack import FluxExport, export_flux_pack, plan_export

    problems: List[str] = []
    result: Dict[str, object] = {}
    # 1. The tiny random pack, as the fixture's command writes it.
    out = os.path.join(folder, "flux-tiny")
    cli_out = os.path.join(folder, "cli-existing")  # the command line on an existing --out, run beside the checks below
    os.makedirs(cli_out)
    cli = subprocess.Popen([sys.executable, "-m", "flowedit_export", "flux.1", "--random", "tiny", "--out", cli_out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.abspath(__file__)))
    freeze_heap()
    t0 = time.perf_counter()
    manifest = export_flux_pack(FluxExport(out=out, random="tiny"))
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["files"] = sorted(os.listdir(out))
    result["bytes"] = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    result["manifest"] = manifest
    problems += _manifest_problems(manifest)
    if result["files"] != FILES:
        problems.append(f"files {result['files']}, expected {FILES}")
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        if json.load(f) != manifest:
            problems.append("manifest.json differs from the returned manifest")
    ports = {
        "transformer.onnx": (_inputs(os.path.join(out, "transformer.onnx"))[:5], ["latents", "t", "text", "pooled", "guidance"]),
        "t5_encoder.onnx": ((_inputs(os.path.join(out, "t5_encoder.onnx")), _outputs(os.path.join(out, "t5_encoder.onnx"))), (["input_ids"], ["text"])),
        "clip_encoder.onnx": ((_inputs(os.path.join(out, "clip_encoder.onnx")), _outputs(os.path.join(out, "clip_encoder.onnx"))), (["input_ids"], ["pooled"])),
        "vae_encoder.onnx": ((_inputs(os.path.join(out, "vae_encoder.onnx")), _outputs(os.path.join(out, "vae_encoder.onnx"))), (["pixels"], ["mean"])),
        "vae_decoder.onnx": ((_inputs(os.path.join(out, "vae_decoder.onnx")), _outputs(os.path.join(out, "vae_decoder.onnx"))), (["latents"], ["pixels"])),
    }
    problems += [f"{k} ports {got}, expected {want}" for k, (got, want) in ports.items() if got != want]
    g = torch.Generator().manual_seed(21)
    ae = build_ae("tiny", seed=0)  # the pack's seed
    result["ae_graphs"] = pack_ae_errors(out, ae, g)
    problems += [f"pack {k} graph: {v:.2e}" for k, v in result["ae_graphs"].items() if not v < PARITY_BOUND]
    if cases:
        result["ae_cases"] = write_ae_cases(ae, cases)
    fixture = os.path.join(FIXTURE, "manifest.json")
    result["fixture_manifest_matches"] = os.path.isfile(fixture) and json.load(open(fixture, encoding="utf-8")) == manifest

    # 2. From a release-like folder (tiny sizes, bfloat16 transformer): the parts equal PyTorch on the same weights.
    release = release_folder(os.path.join(folder, "release"), "dev", seed=5)
    from_release = os.path.join(folder, "pack-release")
    freeze_heap()
    rm = export_flux_pack(FluxExport(out=from_release, checkpoint=release["checkpoint"], ae=release["ae"], t5=release["t5"], clip=release["clip"]))
    loaded = build_ae("tiny")
    load_ae_checkpoint(loaded, release["ae"])
    result["release"] = {"id": rm["id"], "variant_detected": rm["transformer"]["guidance"], "ae_graphs": pack_ae_errors(from_release, loaded, g)}
    from flowedit_export.flux.config import flux_config
    from flowedit_export.flux.dit import load_flux_checkpoint

    t5_dim, clip_dim = rm["text"]["encoders"][0]["outputs"][0]["dim"], rm["text"]["encoders"][1]["outputs"][0]["dim"]
    cfg = flux_config("tiny", "dev", context_in_dim=t5_dim, vec_in_dim=clip_dim)
    model = build_flux(cfg)
    load_flux_checkpoint(model, release["checkpoint"])
    args = example_inputs(cfg, 1, (2, 3), 16, [0] * cfg.layers, seed=70)
    sess = session(os.path.join(from_release, "transformer.onnx"))
    got = sess.run(["velocity"], {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args)})[0]
    with torch.no_grad():
        want = TransformerGraph(model)(*args)[0].numpy()
    result["release"]["velocity"] = rel_err(got, want)
    for k, v in [*result["release"]["ae_graphs"].items(), ("velocity", result["release"]["velocity"])]:
        if not v < 1e-4:
            problems.append(f"release-folder pack {k}: {v:.2e}")
    if rm["id"] != "flux.1-dev-tiny" or rm["transformer"]["guidance"] != "distilled":
        problems.append(f"release-folder pack: id {rm['id']}, guidance {rm['transformer']['guidance']}")

    # The block-by-block export (used at full size with quantised weights) through the pack, on the tiny size.
    real_streamed = pack.streamed
    pack.streamed = lambda size, weights, dtype: weights is not None
    try:
        streamed_out = os.path.join(folder, "pack-streamed")
        freeze_heap()
        export_flux_pack(FluxExport(out=streamed_out, checkpoint=release["checkpoint"], weights="int4", only=("transformer",)))
    finally:
        pack.streamed = real_streamed
    sess = session(os.path.join(streamed_out, "transformer.onnx"))
    got = sess.run(["velocity"], {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args)})[0]
    result["release"]["streamed_int4_velocity"] = rel_err(got, want)
    if not 1e-5 < result["release"]["streamed_int4_velocity"] < 0.2:
        problems.append(f"block-by-block int4 export: velocity error {result['release']['streamed_int4_velocity']:.2e}, expected 1e-5 … 0.2")

    # 3. Bad inputs: each refused by the plan in one line, before any graph is written.
    schnell = release_folder(os.path.join(folder, "release-schnell"), "schnell", seed=6)
    small_vocab = release_folder(os.path.join(folder, "release-vocab"), "dev", seed=7, t5_vocab=64)
    bad = os.path.join(folder, "bad")
    os.makedirs(bad)
    from safetensors.torch import save_file

    ae_state = build_ae("tiny", seed=1).state_dict()
    partial_ae = os.path.join(bad, "partial-ae.safetensors")
    save_file({k: v.contiguous() for k, v in ae_state.items() if k != "decoder.mid.attn_1.proj_out.bias"}, partial_ae)
    reshaped_ae = os.path.join(bad, "reshaped-ae.safetensors")
    save_file({k: (torch.zeros(32, 16, 3, 3) if k == "encoder.down.0.block.0.conv1.weight" else v).contiguous() for k, v in ae_state.items()}, reshaped_ae)
    truncated = os.path.join(bad, "flux1-dev.safetensors")
    with open(release["checkpoint"], "rb") as src, open(truncated, "wb") as dst:
        dst.write(src.read()[: os.path.getsize(release["checkpoint"]) * 2 // 3])
    sharded = os.path.join(bad, "sharded")  # an index and two shards, one of them absent
    os.makedirs(sharded)
    from safetensors.torch import load_file

    state = load_file(release["checkpoint"])
    keys = sorted(state)
    weight_map = {}
    for n, part in enumerate((keys[::2], keys[1::2]), 1):
        shard = f"flux1-dev-{n:05d}-of-00002.safetensors"
        if n == 1:
            save_file({k: state[k] for k in part}, os.path.join(sharded, shard))
        weight_map.update({k: shard for k in part})
    with open(os.path.join(sharded, "flux1-dev.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": weight_map}, f)
    existing = os.path.join(bad, "existing")
    os.makedirs(existing)
    base = FluxExport(out=os.path.join(bad, "pack"), checkpoint=release["checkpoint"], ae=release["ae"], t5=release["t5"], clip=release["clip"])
    variants = {
        "missing_ae": dataclasses.replace(base, ae=os.path.join(bad, "ae.safetensors")),
        "partial_ae": dataclasses.replace(base, ae=partial_ae),
        "shape_mismatch_ae": dataclasses.replace(base, ae=reshaped_ae),
        "truncated_transformer": dataclasses.replace(base, checkpoint=truncated),
        "missing_shard": dataclasses.replace(base, checkpoint=sharded),
        "t5_tokens_without_text": dataclasses.replace(base, only=("transformer",), t5_tokens=64),
        "t5_as_clip": dataclasses.replace(base, clip=release["t5"]),
        "clip_as_t5": dataclasses.replace(base, t5=release["clip"]),
        "schnell_as_dev": dataclasses.replace(base, checkpoint=schnell["checkpoint"], variant="dev"),
        "dev_as_schnell": dataclasses.replace(base, variant="schnell"),
        "tokenizer_vocabulary": dataclasses.replace(base, t5=small_vocab["t5"]),
        "existing_out": dataclasses.replace(base, out=existing),
    }
    refusals: Dict[str, List[str]] = {k: _refusal(v, bad) for k, v in variants.items()}
    # Disk and memory: the machine's figures replaced by small ones.
    real_disk, real_memory = pack.shutil.disk_usage, pack.available_memory
    try:
        pack.shutil.disk_usage = lambda p: type("Usage", (), {"free": 1000})()
        refusals["disk_space"] = _refusal(base, bad)
        pack.shutil.disk_usage = real_disk
        pack.available_memory = lambda: 1 << 20
        refusals["memory"] = _refusal(base, bad)
        pack.available_memory = lambda: 16 * 2**30
        try:
            plan_export(FluxExport(out=os.path.join(bad, "full"), random="full"))
            refusals["memory_full"] = ["NOT REFUSED"]
        except pack.ExportError as e:
            refusals["memory_full"] = e.problems
    finally:
        pack.shutil.disk_usage, pack.available_memory = real_disk, real_memory
    result["refusals"] = refusals
    for k, lines in refusals.items():
        if len(lines) != 1 or "\n" in lines[0] or lines[0] == "NOT REFUSED":
            problems.append(f"refusal {k}: {lines}")
    # The command line (started with the first export, run beside the checks): exit status 2 and the reason.
    _, cli_stderr = cli.communicate()
    result["cli_refusal"] = {"status": cli.returncode, "stderr": cli_stderr.strip().splitlines()}
    if cli.returncode != 2:
        problems.append(f"the command line exited with {cli.returncode} on an existing --out: {cli_stderr}")
    result["problems"] = problems
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-pack", action="store_true", help="the autoencoder's checks only")
    ap.add_argument("--cases", help="also write the tiny pack's autoencoder cases (inputs, PyTorch outputs) for the Node test into this folder")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # small tensors: a second thread mostly waits, and on a busy machine far longer than it saves
    report: Dict[str, object] = {}
    failures: List[str] = []
    with tempfile.TemporaryDirectory() as folder:
        report["ae"] = check_ae(folder)
        failures += ae_failures(report["ae"])
        if not args.no_pack:
            report["pack"] = check_pack(folder, args.cases)
            failures += report["pack"]["problems"]
    return report_findings(report, failures)


if __name__ == "__main__":
    sys.exit(main())
