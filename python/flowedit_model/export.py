"""Export a model pack: ONNX graphs, tokenizer.json and manifest.json (docs/model-pack.md).

Graphs are traced with the TorchScript exporter at opset 17. The transformer is traced
with a context of Sc > 0 keys in every context layer (a different Sc per layer) so that the
concatenation is recorded generically; Sc = 0 then runs through the same graph.
An unconditional config (text mode 'none') writes no text encoder and no tokenizer.
"""

import inspect
import json
import os
import warnings
from typing import Callable, List, Optional, Sequence

import onnx
import torch
from torch import nn

from flowedit_export.onnx_export import declare_shapes  # shared with the real-model exporters

from . import manifest as mf
from .config import PackConfig
from .models import PackModels
from .ports import (
    Ports,
    TransformerPorts,
    VaeDecoderPort,
    VaeEncoderPort,
    dynamic_axes,
    text_encoder_ports,
    transformer_inputs,
    transformer_outputs,
    vae_decoder_ports,
    vae_encoder_ports,
)
from .tokenizer import tokenizer_json
from .zero_bias import skip_zero_bias

OPSET = 17
# torch 2.x exports with dynamo unless told not to; torch 1.13 has only the TorchScript exporter.
TORCHSCRIPT_EXPORTER = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
# Trace sizes: batch 2, 2 latent frames, a 4 × 6 patch grid, and Sc = 3, 5, 7, ... per layer.
TRACE_BATCH, TRACE_FRAMES, TRACE_GRID = 2, 2, (4, 6)


def trace_transformer_inputs(cfg: PackConfig) -> List[torch.Tensor]:
    """Example inputs of the transformer graph in port order."""
    g = torch.Generator().manual_seed(0)
    b, c = TRACE_BATCH, cfg.latent_channels
    pt, ph, pw = cfg.patch
    fp, (hp, wp) = TRACE_FRAMES, TRACE_GRID
    n = fp * hp * wp
    s = n + (cfg.max_tokens if cfg.text_mode == "joint" else 0)
    args = [
        torch.randn(b, c, fp * pt, hp * ph, wp * pw, generator=g),  # [B, C, F', H', W']
        torch.rand(b, generator=g),  # [B]
    ]
    if cfg.has_text:
        args.append(torch.randn(b, cfg.max_tokens, cfg.text_dim, generator=g))  # [B, L, D]
    if cfg.text_mask:
        mask = torch.ones(b, cfg.max_tokens)  # [B, L]
        mask[:, cfg.max_tokens // 2 :] = 0.0  # some padding
        args.append(mask)
    if cfg.pooled_dim > 0:
        args.append(torch.randn(b, cfg.pooled_dim, generator=g))  # [B, P]
    if cfg.guidance == "distilled":
        args.append(1.0 + 3.0 * torch.rand(b, generator=g))  # [B]
    for j, _ in enumerate(cfg.context_layers):
        sc = 3 + 2 * j
        args += [
            torch.randn(b, cfg.heads, sc, cfg.head_dim, generator=g),  # [B, h, Sc, d]
            torch.randn(b, cfg.heads, sc, cfg.head_dim, generator=g),  # [B, h, Sc, d]
            torch.randn(b, s + sc, generator=g),  # [B, S + Sc]
        ]
    return args


def export_graph(
    module: nn.Module,
    args: Sequence[torch.Tensor],
    path: str,
    inputs: Ports,
    outputs: Ports,
    rewrite: Optional[Callable[[onnx.ModelProto], object]] = None,
) -> None:
    """Trace `module` on `args` to an ONNX file (weights as initialisers), apply `rewrite` to the
    graph in place if given, declare the port shapes and check the result."""
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # torch 1.13 reports a missing shape-inference rule for prim::Constant; harmless here.
        warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
        torch.onnx.export(
            module,
            tuple(args),
            path,
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=dynamic_axes(inputs, outputs),
            opset_version=OPSET,
            do_constant_folding=True,
            export_params=True,
            **TORCHSCRIPT_EXPORTER,
        )
    model = onnx.load(path)
    got_in = [i.name for i in model.graph.input]
    got_out = [o.name for o in model.graph.output]
    if got_in != list(inputs) or got_out != list(outputs):
        raise RuntimeError(
            f"{path}: ports {got_in} -> {got_out}, expected {list(inputs)} -> {list(outputs)}"
        )
    if rewrite is not None:
        rewrite(model)
    declare_shapes(model.graph.input, inputs)
    declare_shapes(model.graph.output, outputs)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def export_transformer(models: PackModels, cfg: PackConfig, path: str) -> None:
    export_graph(
        TransformerPorts(models.transformer),
        trace_transformer_inputs(cfg),
        path,
        transformer_inputs(cfg),
        transformer_outputs(cfg),
        rewrite=skip_zero_bias,  # finds nothing to rewrite in the standard form (no fused attention)
    )


def trace_text_inputs(cfg: PackConfig) -> List[torch.Tensor]:
    """Example inputs of the text encoder graph in port order: token ids, some padding (and the mask)."""
    ids = torch.randint(0, cfg.vocab_size, (TRACE_BATCH, cfg.max_tokens), dtype=torch.int64)  # [B, L]
    ids[:, -2:] = 0  # some padding
    args = [ids]
    if cfg.text_attention_mask:
        args.append((ids != 0).to(torch.int64))  # [B, L]
    return args


def export_text_encoder(models: PackModels, cfg: PackConfig, path: str) -> None:
    export_graph(models.text_encoder, trace_text_inputs(cfg), path, *text_encoder_ports(cfg))


def export_vae(models: PackModels, cfg: PackConfig, encoder_path: str, decoder_path: str) -> None:
    s = cfg.spatial_compression
    h, w = TRACE_GRID[0] * s * 2, TRACE_GRID[1] * s * 2
    pixels = torch.rand(TRACE_BATCH, 3, TRACE_FRAMES, h, w) * 2 - 1  # [B, 3, F, H, W]
    latents = torch.randn(
        TRACE_BATCH, cfg.latent_channels, TRACE_FRAMES, h // s, w // s
    )  # [B, C, F', H', W']
    export_graph(VaeEncoderPort(models.vae), [pixels], encoder_path, *vae_encoder_ports(cfg))
    export_graph(VaeDecoderPort(models.vae), [latents], decoder_path, *vae_decoder_ports(cfg))


def export_pack(
    models: PackModels,
    config: PackConfig,
    out_dir: str,
    pack_id: str,
    name: str,
    defaults: Optional[dict] = None,
    description: Optional[str] = None,
    license: Optional[str] = None,
) -> dict:
    """Write the pack for `models` (built from `config`) to out_dir; returns the manifest."""
    manifest = mf.build_manifest(config, pack_id, name, defaults, description, license)
    os.makedirs(out_dir, exist_ok=True)
    models.eval()
    export_transformer(models, config, os.path.join(out_dir, mf.TRANSFORMER_FILE))
    if config.has_text:
        export_text_encoder(models, config, os.path.join(out_dir, mf.TEXT_ENCODER_FILE))
    if config.vae:
        export_vae(
            models, config,
            os.path.join(out_dir, mf.VAE_ENCODER_FILE),
            os.path.join(out_dir, mf.VAE_DECODER_FILE),
        )
    if config.has_text:
        write_json(os.path.join(out_dir, mf.TOKENIZER_FILE), tokenizer_json(config.vocab, config.text_eos))
    write_json(os.path.join(out_dir, "manifest.json"), manifest)
    return manifest


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
