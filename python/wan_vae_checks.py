"""Checks of the Wan2.1 VAE (flowedit_export/wan/vae.py), printed as JSON.

    cd python && ../.venv/bin/python wan_vae_checks.py [--no-full] [--full-onnx] [--cases DIR] [--seed N]

- chunked: the whole-clip torch path against the release's chunked procedure (frame 0, then
  chunks of 4; one latent frame at a time) on 1, 5 and 9 frames, and frame 0 followed by all later
  frames as one chunk against the 1 + 4 + 4 encode ('tiny' size);
- onnx: the exported graphs in onnxruntime against the chunked procedure on 1, 5 and 9 frames of a
  non-square size, one case with batch 2 ('tiny');
- full: the release's size with random weights, chunked against whole clip on 9 frames of 64×64
  (skipped with --no-full); with --full-onnx also its exported graphs in onnxruntime.
Every error is {"max_abs": max|a − b|, "rel_inf": max|a − b| / max|b|} with b the chunked result.
`--cases DIR` also writes parity cases for the Node tests (`write_vae_cases`).

`write_vae_cases(vae, out_dir)` is the function other code calls to write those cases.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Dict, List

import numpy as np
import torch

from flowedit_export.checkpoint import CheckpointError
from flowedit_export.wan.vae import (
    WanVAE,
    build_vae,
    chunked_decode,
    chunked_encode,
    export_vae,
    latent_frames,
    load_vae_checkpoint,
)
from flowedit_export.wan.vae_blocks import ChunkCache

FRAMES = (1, 5, 9)
SIZE = (24, 40)  # H, W of the tiny checks: non-square, latent 3×5
FULL_FRAMES, FULL_SIZE = 9, (64, 64)


def error(got: torch.Tensor, want: torch.Tensor) -> Dict[str, float]:
    got, want = torch.as_tensor(got).double(), torch.as_tensor(want).double()
    if got.shape != want.shape:
        raise AssertionError(f"shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    diff = (got - want).abs().max().item()
    return {"max_abs": diff, "rel_inf": diff / max(want.abs().max().item(), 1e-30)}


def random_pixels(g: torch.Generator, b: int, f: int, h: int, w: int) -> torch.Tensor:
    return torch.rand(b, 3, f, h, w, generator=g) * 2 - 1  # [B, 3, F, H, W] in [-1, 1]


def random_latents(g: torch.Generator, vae: WanVAE, b: int, f: int, h: int, w: int) -> torch.Tensor:
    return torch.randn(b, vae.cfg.z_dim, latent_frames(f), h // 8, w // 8, generator=g)  # [B, z, F', H', W']


@torch.no_grad()
def encode_first_then_rest(vae: WanVAE, pixels: torch.Tensor) -> torch.Tensor:
    """Frame 0 alone, then all later frames as one chunk through the caches."""
    cache = ChunkCache()
    out = [vae.encoder.forward_chunk(pixels[:, :, :1], cache)]
    if pixels.shape[2] > 1:
        out.append(vae.encoder.forward_chunk(pixels[:, :, 1:], cache))
    return vae.conv1(torch.cat(out, 2))[:, : vae.cfg.z_dim]


@torch.no_grad()
def chunked_vs_whole(vae: WanVAE, g: torch.Generator, frames, size, first_then_rest: bool) -> Dict[str, dict]:
    h, w = size
    result = {}
    for f in frames:
        x = random_pixels(g, 1, f, h, w)
        want = chunked_encode(vae, x)
        row = {"encode": error(vae.encode_mean(x), want), "mean_shape": list(want.shape)}
        if first_then_rest:
            row["encode_first_then_rest"] = error(encode_first_then_rest(vae, x), want)
        z = random_latents(g, vae, 1, f, h, w)
        want = chunked_decode(vae, z)
        row["decode"] = error(vae.decode(z), want)
        row["pixels_shape"] = list(want.shape)
        result[f"frames_{f}"] = row
    return result


def onnx_vs_torch(vae: WanVAE, g: torch.Generator, runs, size) -> Dict[str, dict]:
    """The exported graphs in onnxruntime against the chunked procedure, for (batch, frames) in `runs`."""
    import onnxruntime as ort

    h, w = size
    result = {}
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(__file__))) as d:
        paths = export_vae(vae, d)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        enc = ort.InferenceSession(paths["encoder"], opts, providers=["CPUExecutionProvider"])
        dec = ort.InferenceSession(paths["decoder"], opts, providers=["CPUExecutionProvider"])
        for b, f in runs:
            x = random_pixels(g, b, f, h, w)
            z = random_latents(g, vae, b, f, h, w)
            result[f"batch_{b}_frames_{f}_{w}x{h}"] = {
                "encode": error(enc.run(["mean"], {"pixels": x.numpy()})[0], chunked_encode(vae, x)),
                "decode": error(dec.run(["pixels"], {"latents": z.numpy()})[0], chunked_decode(vae, z)),
            }
    return result


def _refused(vae: WanVAE, path: str) -> str:
    try:
        load_vae_checkpoint(vae, path)
    except CheckpointError as e:
        return str(e)
    raise AssertionError(f"{path} was loaded; expected a CheckpointError")


@torch.no_grad()
def checkpoint_checks(vae: WanVAE, g: torch.Generator) -> Dict[str, object]:
    """A saved state loads strictly and gives the same outputs; other files give one error each."""
    from safetensors.torch import save_file

    result: Dict[str, object] = {}
    state = {k: v.clone() for k, v in vae.state_dict().items()}
    with tempfile.TemporaryDirectory() as d:
        own = os.path.join(d, "Wan2.1_VAE.pth")
        torch.save(state, own)
        other = WanVAE(vae.cfg).eval()
        load_vae_checkpoint(other, own)
        x = random_pixels(g, 1, 5, 16, 24)
        result["roundtrip_encode"] = error(other.encode_mean(x), vae.encode_mean(x))

        flux = os.path.join(d, "ae.safetensors")  # FLUX's autoencoder names
        save_file({"encoder.conv_in.weight": torch.zeros(128, 3, 3, 3), "decoder.conv_out.bias": torch.zeros(3)}, flux)
        result["flux_ae"] = _refused(vae, flux)
        dit = os.path.join(d, "dit.pth")
        torch.save({"blocks.0.self_attn.q.weight": torch.zeros(8, 8), "head.head.weight": torch.zeros(4, 8)}, dit)
        result["dit"] = _refused(vae, dit)
        wider = dict(state, **{"encoder.conv1.weight": torch.zeros(96, 3, 3, 3, 3)})
        torch.save(wider, os.path.join(d, "wide.pth"))
        result["other_width"] = _refused(vae, os.path.join(d, "wide.pth"))
        partial = {k: v for k, v in state.items() if k != "decoder.head.2.bias"}
        torch.save(partial, os.path.join(d, "partial.pth"))
        result["missing_key"] = _refused(vae, os.path.join(d, "partial.pth"))
    return result


# ---------------------------------------------------------------- parity cases for Node

NP_DTYPES = {torch.float32: ("float32", "<f4")}


def _tensor_entry(case_dir: str, name: str, x: torch.Tensor) -> dict:
    dtype, np_dtype = NP_DTYPES[x.dtype]
    file = f"{name}.bin"
    np.ascontiguousarray(x.detach().cpu().numpy().astype(np_dtype)).tofile(os.path.join(case_dir, file))
    return {"dtype": dtype, "shape": list(x.shape), "file": file}


def _write_case(out_dir: str, case: str, graph: str, inputs: Dict[str, torch.Tensor], outputs: Dict[str, torch.Tensor]) -> str:
    case_dir = os.path.join(out_dir, case)
    os.makedirs(case_dir, exist_ok=True)
    spec = {
        "graph": graph,
        "inputs": {k: _tensor_entry(case_dir, k, v) for k, v in inputs.items()},
        "outputs": {k: _tensor_entry(case_dir, k, v) for k, v in outputs.items()},
    }
    with open(os.path.join(case_dir, "case.json"), "w", encoding="utf-8") as fh:
        json.dump(spec, fh, indent=1)
    return case


@torch.no_grad()
def write_vae_cases(vae: WanVAE, out_dir: str, seed: int = 0) -> List[str]:
    """Write parity cases of `vae`'s two graphs to out_dir/<case>/case.json with raw little-endian
    float32 tensors beside it, in the format of parity_cases.py:
        {"graph": "vae_encoder" | "vae_decoder",
         "inputs": {"pixels" | "latents": {"dtype": "float32", "shape": [...], "file": "<name>.bin"}},
         "outputs": {"mean" | "pixels": {...}}}
    The outputs are the release's chunked procedure in PyTorch (float32). Returns the case names."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for b, f, (h, w) in [(1, 1, (16, 24)), (1, 5, SIZE), (2, 9, (16, 24))]:
        x = random_pixels(g, b, f, h, w)
        cases.append(_write_case(out_dir, f"vae_encoder_b{b}_f{f}_{w}x{h}", "vae_encoder", {"pixels": x}, {"mean": chunked_encode(vae, x)}))
        z = random_latents(g, vae, b, f, h, w)
        cases.append(_write_case(out_dir, f"vae_decoder_b{b}_f{f}_{w}x{h}", "vae_decoder", {"latents": z}, {"pixels": chunked_decode(vae, z)}))
    return cases


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-full", action="store_true", help="skip the release-size check")
    ap.add_argument("--full-onnx", action="store_true", help="also export the release-size graphs and run them in onnxruntime (about 0.5 GB of files, a few minutes)")
    ap.add_argument("--cases", help="also write parity cases for the Node tests into this folder")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)

    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    tiny = build_vae("tiny")
    report: Dict[str, object] = {"size": f"tiny: H×W {SIZE[1]}×{SIZE[0]}"}
    report["chunked"] = chunked_vs_whole(tiny, g, FRAMES, SIZE, first_then_rest=True)
    report["onnx"] = onnx_vs_torch(tiny, g, [(1, f) for f in FRAMES] + [(2, 5)], SIZE)
    report["checkpoint"] = checkpoint_checks(tiny, g)
    if args.cases:
        report["cases"] = write_vae_cases(tiny, args.cases, args.seed)
    if not args.no_full:
        start = time.perf_counter()
        full = build_vae("full")
        report["full"] = chunked_vs_whole(full, g, (FULL_FRAMES,), FULL_SIZE, first_then_rest=False)
        report["full"]["parameters"] = sum(p.numel() for p in full.parameters())
        if args.full_onnx:
            report["full"]["onnx"] = onnx_vs_torch(full, g, [(1, FULL_FRAMES)], FULL_SIZE)
        report["full"]["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report))  # one line: the tests read the last line
    return 0


if __name__ == "__main__":
    sys.exit(main())
