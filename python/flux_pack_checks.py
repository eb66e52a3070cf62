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
import json
import os
import sys
import tempfile
from typing import Dict, List

import numpy as np
import torch

import flux_ae_reference as ref
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


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape {a.shape}, expected {b.shape}")
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def _session(path: str):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def _cfg_args(ae: AutoEncoder):
    return ae.cfg.ch_mult, ae.cfg.num_res_blocks, ae.cfg.groups


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
    enc, dec = _session(paths["encoder"]), _session(paths["decoder"])
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


def _refused(cfg_size: str, path: str) -> str:
    try:
        load_ae_checkpoint(build_ae(cfg_size), path)
    except CheckpointError as e:
        return str(e)
    return f"LOADED {path}"


@torch.no_grad()
def loading_checks(ae: AutoEncoder, g: torch.Generator, folder: str) -> Dict[str, object]:
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
        "diffusers_layout": _refused("tiny", write("diffusers.safetensors", {
            "encoder.conv_in.weight": torch.zeros(16, 3, 3, 3), "encoder.down_blocks.0.resnets.0.conv1.weight": torch.zeros(16, 16, 3, 3)})),
        "transformer_file": _refused("tiny", write("flux1-dev.safetensors", {"img_in.weight": torch.zeros(8, 4), "txt_in.weight": torch.zeros(8, 4)})),
        "other_width": _refused("full", own),
        "missing_key": _refused("tiny", write("partial.safetensors", {k: v for k, v in state.items() if k != "decoder.conv_out.bias"})),
        "extra_key": _refused("tiny", write("extra.safetensors", dict(state, **{"encoder.mid.attn_2.q.weight": torch.zeros(1)}))),
    }
    truncated = os.path.join(folder, "truncated.safetensors")
    with open(own, "rb") as src, open(truncated, "wb") as dst:
        data = src.read()
        dst.write(data[: len(data) // 2])
    errors["truncated"] = _refused("tiny", truncated)
    header = {"truncated": check_ae_file(truncated, AE_SIZES["tiny"]), "missing_key": check_ae_file(os.path.join(folder, "partial.safetensors"), AE_SIZES["tiny"])}
    result["errors"] = errors
    result["header_errors"] = header
    return result


def check_ae(folder: str) -> Dict[str, object]:
    g = torch.Generator().manual_seed(7)
    tiny = build_ae("tiny", seed=3)
    report: Dict[str, object] = {"tiny_parameters": sum(p.numel() for p in tiny.parameters())}
    report["reference"] = {"tiny": against_reference(tiny, g, 2, 40, 24)}
    full = build_ae("full", seed=4)
    report["full_parameters"] = sum(p.numel() for p in full.parameters())
    report["reference"]["full"] = against_reference(full, g, 1, 32, 48)
    del full
    report["onnx"] = onnx_checks(tiny, g, folder)
    report["loading"] = loading_checks(tiny, g, folder)
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-pack", action="store_true", help="the autoencoder's checks only")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    report: Dict[str, object] = {}
    failures: List[str] = []
    with tempfile.TemporaryDirectory() as folder:
        report["ae"] = check_ae(os.path.join(folder))
        failures += ae_failures(report["ae"])
    report["failures"] = failures
    print(json.dumps(report))  # one line: the tests read the last line
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
