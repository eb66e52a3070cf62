"""Export fresh random-weight packs and write PyTorch reference outputs for parity tests.

    .venv/bin/python python/parity_cases.py --out DIR

For every config in flowedit_model.CONFIGS this writes DIR/<name>/ (a complete pack) and
DIR/<name>/cases/<case>/case.json with raw little-endian tensors next to it:

    {"graph": "transformer" | "text_encoder" | "vae_encoder" | "vae_decoder",
     "inputs":  {"<onnx input>":  {"dtype": "float32" | "int64", "shape": [...], "file": "<name>.bin"}},
     "outputs": {"<onnx output>": {...}}}

An unconditional config (text mode 'none', e.g. tiny-uncond) has no `text` input and no
text_encoder case; its prompts are ignored. A format 2 config (e.g. tiny-v2) feeds its
text encoder an attention_mask and its transformer text_mask and pooled, as flowedit does. The outputs come from the exported PyTorch modules in eval mode (float32). DIR/summary.json
lists the packs and their cases: {"seed": ..., "packs": {"<name>": ["<case>", ...]}}.
"""

import argparse
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from flowedit_model import CONFIGS, PackConfig, PackModels, build_models
from flowedit_model.export import export_pack, write_json
from flowedit_model.ports import (
    TransformerPorts,
    transformer_input_names,
    transformer_output_names,
)
from flowedit_model.tokenizer import encode, real_tokens

SEED = 1234  # differs from the fixtures' seed
MASKED = -1e4
PROMPTS = [
    "a red circle on stripes",
    "",
    "two big blue squares on a checkered background",
]
NP_DTYPES = {torch.float32: ("float32", "<f4"), torch.int64: ("int64", "<i8")}


# ---------------------------------------------------------------- writing cases


def tensor_entry(case_dir: str, name: str, x: torch.Tensor) -> dict:
    """Write x as raw little-endian data to case_dir/<name>.bin and describe it."""
    dtype, np_dtype = NP_DTYPES[x.dtype]
    file = f"{name}.bin"
    np.ascontiguousarray(x.detach().cpu().numpy().astype(np_dtype)).tofile(os.path.join(case_dir, file))
    return {"dtype": dtype, "shape": list(x.shape), "file": file}


def write_case(pack_dir: str, case: str, graph: str, inputs: Dict[str, torch.Tensor],
               outputs: Dict[str, torch.Tensor]) -> str:
    """Write one case to pack_dir/cases/<case>/; returns its name."""
    case_dir = os.path.join(pack_dir, "cases", case)
    os.makedirs(case_dir, exist_ok=True)
    spec = {
        "graph": graph,
        "inputs": {k: tensor_entry(case_dir, k, v) for k, v in inputs.items()},
        "outputs": {k: tensor_entry(case_dir, k, v) for k, v in outputs.items()},
    }
    write_json(os.path.join(case_dir, "case.json"), spec)
    return case


# ---------------------------------------------------------------- transformer cases


def token_ids(cfg: PackConfig, prompts: Sequence[str]) -> torch.Tensor:
    ids = [encode(p, cfg.vocab, cfg.max_tokens, cfg.text_eos) for p in prompts]
    return torch.tensor(ids, dtype=torch.int64)  # [B, L]


def attention_mask(ids: torch.Tensor) -> torch.Tensor:
    """1 for each prompt's real tokens, 0 for padding: [B, L] int64."""
    mask = torch.zeros_like(ids)  # [B, L]
    for b, row in enumerate(ids.tolist()):
        mask[b, : real_tokens(row)] = 1
    return mask


def text_encoder_inputs(cfg: PackConfig, prompts: Sequence[str]) -> Dict[str, torch.Tensor]:
    """input_ids (and attention_mask for a config that takes one) of the prompts."""
    ids = token_ids(cfg, prompts)  # [B, L]
    inputs = {"input_ids": ids}
    if cfg.text_attention_mask:
        inputs["attention_mask"] = attention_mask(ids)  # [B, L]
    return inputs


def run_text_encoder(models: PackModels, cfg: PackConfig, inputs: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """text [B, L, D] (and pooled [B, P] for a config with pooled_dim)."""
    with torch.no_grad():
        out = models.text_encoder(*inputs.values())
    return {"text": out[0], "pooled": out[1]} if cfg.pooled_dim > 0 else {"text": out}


def run_transformer(
    models: PackModels, inputs: Dict[str, torch.Tensor], cfg: PackConfig
) -> Dict[str, torch.Tensor]:
    """Run the exported wrapper on named inputs; returns named outputs."""
    args = [inputs[n] for n in transformer_input_names(cfg)]
    with torch.no_grad():
        outs = TransformerPorts(models.transformer)(*args)
    return dict(zip(transformer_output_names(cfg), outs))


def seq_len(cfg: PackConfig, latent_shape: Sequence[int]) -> int:
    """S = L + n (joint text) or n (cross text, no text)."""
    pt, ph, pw = cfg.patch
    n = (latent_shape[2] // pt) * (latent_shape[3] // ph) * (latent_shape[4] // pw)
    return n + (cfg.max_tokens if cfg.text_mode == "joint" else 0)


def random_bias(g: torch.Generator, b: int, width: int, masked_fraction: float = 0.2) -> torch.Tensor:
    bias = torch.randn(b, width, generator=g)  # [B, S + Sc]
    masked = torch.rand(b, width, generator=g) < masked_fraction  # [B, S + Sc]
    return torch.where(masked, torch.full_like(bias, MASKED), bias)  # [B, S + Sc]


def base_inputs(models: PackModels, cfg: PackConfig, g: torch.Generator, latent_shape: List[int],
                prompts: Sequence[str], t: Sequence[float]) -> Dict[str, torch.Tensor]:
    """latents, t, text (from the text encoder; not for an unconditional model) and guidance,
    without context ports."""
    inputs = {
        "latents": torch.randn(*latent_shape, generator=g),  # [B, C, F', H', W']
        "t": torch.tensor(t, dtype=torch.float32),  # [B]
    }
    if cfg.has_text:
        text_in = text_encoder_inputs(cfg, prompts)
        encoded = run_text_encoder(models, cfg, text_in)
        inputs["text"] = encoded["text"]  # [B, L, D]
        if cfg.text_mask:
            inputs["text_mask"] = attention_mask(text_in["input_ids"]).to(torch.float32)  # [B, L]
        if cfg.pooled_dim > 0:
            inputs["pooled"] = encoded["pooled"]  # [B, P]
    if cfg.guidance == "distilled":
        inputs["guidance"] = torch.linspace(2.0, 4.5, latent_shape[0])  # [B]
    return inputs


def add_context(
    cfg: PackConfig,
    inputs: Dict[str, torch.Tensor],
    donor: Optional[Dict[str, torch.Tensor]],
    layers_with_context: Sequence[int],
    g: torch.Generator,
    zero_bias: bool,
) -> None:
    """Fill ctx_k.i / ctx_v.i / ctx_bias.i: the donor pass's k.i / v.i where i is in
    layers_with_context (Sc = S), empty [B, h, 0, d] elsewhere."""
    b = inputs["latents"].shape[0]
    s = seq_len(cfg, inputs["latents"].shape)
    for i in cfg.context_layers:
        if i in layers_with_context:
            ctx_k, ctx_v = donor[f"k.{i}"], donor[f"v.{i}"]  # [B, h, S, d]
        else:
            ctx_k = torch.zeros(b, cfg.heads, 0, cfg.head_dim)  # [B, h, 0, d]
            ctx_v = torch.zeros(b, cfg.heads, 0, cfg.head_dim)  # [B, h, 0, d]
        width = s + ctx_k.shape[2]
        inputs[f"ctx_k.{i}"] = ctx_k
        inputs[f"ctx_v.{i}"] = ctx_v
        inputs[f"ctx_bias.{i}"] = torch.zeros(b, width) if zero_bias else random_bias(g, b, width)


def donor_pass(models: PackModels, cfg: PackConfig, g: torch.Generator, latent_shape: List[int],
               prompts: Sequence[str], t: Sequence[float]) -> Dict[str, torch.Tensor]:
    """Another forward pass at the same time and token layout, to take context keys from."""
    inputs = base_inputs(models, cfg, g, latent_shape, prompts, t)
    add_context(cfg, inputs, None, (), g, zero_bias=True)
    return run_transformer(models, inputs, cfg)


def transformer_cases(
    models: PackModels, cfg: PackConfig, pack_dir: str, g: torch.Generator
) -> List[str]:
    c = cfg.latent_channels
    pt, ph, pw = cfg.patch
    cases = []

    # (a) one latent frame, B = 2, Sc = 0 everywhere, zero bias.
    shape = [2, c, pt, 4 * ph, 4 * pw]
    inputs = base_inputs(models, cfg, g, shape, PROMPTS[:2], [0.35, 0.9])
    add_context(cfg, inputs, None, (), g, zero_bias=True)
    cases.append(write_case(pack_dir, "transformer_a_no_context", "transformer", inputs,
                            run_transformer(models, inputs, cfg)))

    # (b) one frame, context in every layer with Sc = S, random bias with masked keys.
    shape = [2, c, pt, 3 * ph, 5 * pw]
    t = [0.5, 0.75]
    donor = donor_pass(models, cfg, g, shape, PROMPTS[1:3], t)
    inputs = base_inputs(models, cfg, g, shape, [PROMPTS[0], PROMPTS[2]], t)
    add_context(cfg, inputs, donor, cfg.context_layers, g, zero_bias=False)
    cases.append(write_case(pack_dir, "transformer_b_full_context", "transformer", inputs,
                            run_transformer(models, inputs, cfg)))

    # (c) three latent frames, H' ≠ W', context in every other context layer, Sc = 0 in the rest.
    shape = [1, c, 3 * pt, 2 * ph, 5 * pw]
    t = [0.6]
    with_context = cfg.context_layers[::2]
    donor = donor_pass(models, cfg, g, shape, PROMPTS[2:3], t)
    inputs = base_inputs(models, cfg, g, shape, PROMPTS[0:1], t)
    add_context(cfg, inputs, donor, with_context, g, zero_bias=False)
    cases.append(write_case(pack_dir, "transformer_c_frames_mixed_context", "transformer", inputs,
                            run_transformer(models, inputs, cfg)))
    return cases


# ---------------------------------------------------------------- other graphs


def text_encoder_case(models: PackModels, cfg: PackConfig, pack_dir: str) -> str:
    inputs = text_encoder_inputs(cfg, PROMPTS)  # [B, L] each
    return write_case(pack_dir, "text_encoder", "text_encoder", inputs, run_text_encoder(models, cfg, inputs))


def vae_cases(models: PackModels, cfg: PackConfig, pack_dir: str, g: torch.Generator) -> List[str]:
    s = cfg.spatial_compression
    pixels = torch.rand(2, 3, 3, 6 * s, 10 * s, generator=g) * 2 - 1  # [B, 3, F, H, W]
    latents = torch.randn(2, cfg.latent_channels, 3, 6, 10, generator=g)  # [B, C, F', H', W']
    with torch.no_grad():
        mean = models.vae.encode_mean(pixels)  # [B, C, F', H/s, W/s]
        decoded = models.vae.decode(latents)  # [B, 3, F, H, W]
    return [
        write_case(pack_dir, "vae_encoder", "vae_encoder", {"pixels": pixels}, {"mean": mean}),
        write_case(pack_dir, "vae_decoder", "vae_decoder", {"latents": latents}, {"pixels": decoded}),
    ]


# ---------------------------------------------------------------- main


def make_pack_cases(name: str, out: str) -> List[str]:
    """Export pack `name` to out/<name>/ and write its cases; returns the case names."""
    cfg = CONFIGS[name]()
    models = build_models(cfg, SEED)
    pack_dir = os.path.join(out, name)
    export_pack(models, cfg, pack_dir, f"parity-{name}", f"Parity check pack ({name})")
    g = torch.Generator().manual_seed(SEED + 1)
    cases = transformer_cases(models, cfg, pack_dir, g)
    if cfg.has_text:
        cases.append(text_encoder_case(models, cfg, pack_dir))
    if cfg.vae:
        cases += vae_cases(models, cfg, pack_dir, g)
    return cases


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    start = time.time()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    packs = {name: make_pack_cases(name, args.out) for name in CONFIGS}
    write_json(os.path.join(args.out, "summary.json"), {"seed": SEED, "packs": packs})
    n = sum(len(cases) for cases in packs.values())
    print(f"wrote {len(packs)} packs and {n} cases to {args.out} in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
