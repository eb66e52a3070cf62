"""Command line of the exporters: `python -m flowedit_export wan2.1|flux.1 ... --out PACK`."""

import argparse
import os
import sys
import time
import warnings
from typing import List, Optional

from .checkpoint import CheckpointError


def _parts(text: str):
    return tuple(p.strip() for p in text.split(",") if p.strip())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flowedit_export", description="Export real models into flowedit model packs (format 2), or convert a pack's transformer to float16.")
    sub = p.add_subparsers(dest="model", required=True, metavar="MODEL")
    wan = sub.add_parser(
        "wan2.1",
        help="Wan2.1 text-to-video (1.3B or 14B)",
        description="Export Wan2.1 T2V from its release folder (config.json, diffusion_pytorch_model*.safetensors, "
        "Wan2.1_VAE.pth, models_t5_umt5-xxl-enc-bf16.pth, google/umt5-xxl/) into a flowedit pack.",
    )
    src = wan.add_argument_group("source (one of)")
    src.add_argument("--checkpoint", metavar="DIR", help="the release folder (e.g. Wan2.1-T2V-1.3B)")
    src.add_argument("--random", choices=["tiny", "1.3b", "14b"], help="random weights of this size instead (for tests)")
    wan.add_argument("--out", required=True, metavar="PACK", help="the pack folder to write")
    wan.add_argument("--dtype", default="float32", choices=["float32", "float16"], help="transformer Linear weights (default float32)")
    wan.add_argument("--weights", choices=["int8", "int4"], help="weight-only quantised MatMul in the transformer and text encoder")
    wan.add_argument("--block-size", type=int, help="input channels per quantisation scale (32, 64 or 128; default 128 for int8, 32 for int4)")
    wan.add_argument("--activations", default="int8", choices=["int8", "float32"],
                     help="how quantised MatMuls multiply on the CPU: int8 (fast; default) or float32 (closer, slow for int8 weights)")
    wan.add_argument("--shift", type=float, default=5.0, help="static schedule shift written to the manifest (the reference's 5.0)")
    wan.add_argument("--only", type=_parts, default=("transformer", "text", "vae"), metavar="PARTS",
                     help="comma-separated parts to export: transformer,text,vae (others are kept from an existing pack at --out)")
    wan.add_argument("--seed", type=int, default=0, help="seed of random weights (default 0)")
    wan.add_argument("--force", action="store_true", help="replace an existing pack at --out (only once the new one is complete)")
    wan.add_argument("--ignore-memory", action="store_true", help="export even where the memory estimate (about twice each part's float32 size) exceeds the available memory")
    flux = sub.add_parser(
        "flux.1",
        help="FLUX.1 [dev] or [schnell] text-to-image",
        description="Export FLUX.1 [dev] or [schnell] from the files of its release into a flowedit pack: the transformer "
        "(flux1-dev.safetensors or flux1-schnell.safetensors), the autoencoder (ae.safetensors), the T5-XXL encoder "
        "(text_encoder_2/, its tokenizer in it or in tokenizer_2/ beside it) and the CLIP text model (text_encoder/, its "
        "tokenizer in it or in tokenizer/ beside it). Every file is checked (complete, of the right model, variant and "
        "shapes; tokenizers against their encoders; disk and memory) before any graph is written.",
        epilog="example: python -m flowedit_export flux.1 --checkpoint FLUX.1-dev/flux1-dev.safetensors --ae FLUX.1-dev/ae.safetensors "
        "--t5 FLUX.1-dev/text_encoder_2 --clip FLUX.1-dev/text_encoder --weights int4 --out packs/flux.1-dev",
    )
    fsrc = flux.add_argument_group("sources (the release's files, or --random)")
    fsrc.add_argument("--checkpoint", metavar="FILE|DIR", help="the transformer: flux1-dev.safetensors or flux1-schnell.safetensors, "
                      "a folder holding it, or a .safetensors.index.json with its shards")
    fsrc.add_argument("--ae", metavar="FILE", help="the autoencoder: ae.safetensors from the release's top folder")
    fsrc.add_argument("--t5", metavar="DIR", help="the T5-XXL encoder folder (text_encoder_2/: config.json and its safetensors)")
    fsrc.add_argument("--clip", metavar="DIR", help="the CLIP text model folder (text_encoder/: config.json and model.safetensors)")
    fsrc.add_argument("--random", choices=["tiny", "full"], help="random weights of this size for every part instead (for tests and benchmarks; "
                      "tiny uses the small test tokenizers)")
    flux.add_argument("--out", required=True, metavar="PACK", help="the pack folder to write")
    flux.add_argument("--variant", choices=["dev", "schnell"], help="FLUX.1 [dev] (distilled guidance, resolution-dependent shift, "
                      "28 steps) or [schnell] (4 steps, no guidance); default: the checkpoint's own (guidance_in.* present = dev), "
                      "dev for --random; a checkpoint of the other variant is refused")
    flux.add_argument("--dtype", default="float32", choices=["float32", "float16"], help="transformer Linear weights (default float32; "
                      "float16 halves the graph, and at full size exports it one block at a time)")
    flux.add_argument("--weights", choices=["int8", "int4"], help="weight-only quantised MatMul in the transformer and the T5 encoder (not with --dtype float16); "
                      "at full size the transformer is then exported one block at a time (far less memory)")
    flux.add_argument("--t5-tokens", type=int, metavar="L", help="T5 sequence length, the prompt's token budget (default 512 for dev, "
                      "256 for schnell, as the reference; 16 for --random tiny)")
    flux.add_argument("--only", type=_parts, default=("transformer", "text", "vae"), metavar="PARTS",
                      help="comma-separated parts to export: transformer,text,vae (others are kept from an existing pack at --out)")
    flux.add_argument("--seed", type=int, default=0, help="seed of random weights (default 0)")
    flux.add_argument("--force", action="store_true", help="replace an existing pack at --out (only once the new one is complete)")
    flux.add_argument("--ignore-memory", action="store_true", help="export even where the memory estimate (about twice each part's float32 size) exceeds the available memory")
    half = sub.add_parser(
        "half",
        help="a copy of a pack with a float16 transformer",
        description="Copy a pack (float32 transformer, format 1 or 2) into --out with its transformer graph converted to float16: "
        "float16 ports, weights and arithmetic (manifest transformer.dtype \"float16\", formatVersion 2). Text encoders and "
        "VAE graphs stay float32. A pack that is already float16 or has quantised (int8/int4) weights is refused.",
        epilog="example: python -m flowedit_export half packs/wan2.1-t2v-1.3b --out packs/wan2.1-t2v-1.3b-f16",
    )
    half.add_argument("pack", metavar="PACK", help="the pack folder to convert (left unchanged)")
    half.add_argument("--out", required=True, metavar="PACK16", help="the pack folder to write")
    half.add_argument("--force", action="store_true", help="replace an existing pack at --out (only once the new one is complete)")
    return p


def _size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def run_wan(args: argparse.Namespace) -> int:
    from .wan.pack import ExportError, WanExport, export_wan_pack

    opts = WanExport(
        out=args.out, checkpoint=args.checkpoint, random=args.random, dtype=args.dtype, weights=args.weights,
        block_size=args.block_size, activations=args.activations, shift=args.shift, only=args.only, seed=args.seed, force=args.force, ignore_memory=args.ignore_memory,
    )
    return _run(opts, export_wan_pack, ExportError, args.out)


def run_flux(args: argparse.Namespace) -> int:
    from .flux.pack import ExportError, FluxExport, export_flux_pack

    opts = FluxExport(
        out=args.out, checkpoint=args.checkpoint, ae=args.ae, t5=args.t5, clip=args.clip, random=args.random, variant=args.variant,
        dtype=args.dtype, weights=args.weights, seed=args.seed, force=args.force, only=args.only, ignore_memory=args.ignore_memory,
        t5_tokens=args.t5_tokens,
    )
    return _run(opts, export_flux_pack, ExportError, args.out)


def run_half(args: argparse.Namespace) -> int:
    from .half import HalfError
    from .half_pack import half_pack

    start = time.perf_counter()

    def progress(line: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f} s] {line}", flush=True)

    try:
        result = half_pack(args.pack, args.out, force=args.force, progress=progress)
    except (HalfError, FileExistsError) as e:
        print(f"cannot convert: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    out = os.path.abspath(args.out)
    progress(f"wrote {out} ({result['manifest']['id']}, transformer {result['bytes_float32'] / 1e6:.1f} MB -> {result['bytes_float16'] / 1e6:.1f} MB, "
             f"pack {_size(out) / 1e6:.1f} MB)")
    return 0


def _run(opts, export, ExportError, out: str) -> int:
    start = time.perf_counter()
    # The tracer's notes on constant folding are about its own optimisation, not the graph's correctness.
    warnings.filterwarnings("ignore", message="Constant folding")

    def progress(line: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f} s] {line}", flush=True)

    try:
        manifest = export(opts, progress)
    except ExportError as e:
        print("cannot export:", file=sys.stderr)
        for problem in e.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except CheckpointError as e:
        print(f"cannot export: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    out = os.path.abspath(out)
    progress(f"wrote {out} ({manifest['id']}, {_size(out) / 1e6:.1f} MB)")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.model == "wan2.1":
        return run_wan(args)
    if args.model == "flux.1":
        return run_flux(args)
    if args.model == "half":
        return run_half(args)
    return 2
