"""ONNX port names, dynamic axes and flat-argument wrappers of the pack graphs
(docs/model-pack.md sections 4 to 6).

torch.onnx.export passes inputs positionally and returns outputs as a tuple; the wrappers
here map those flat lists to the modules' structured arguments, in the contract's order:
transformer inputs `latents, t[, text][, guidance], ctx_k.i, ctx_v.i, ctx_bias.i ...` and
outputs `velocity, k.i, v.i ...` over i in contextLayers. An unconditional model (text mode
'none') has no `text` input and no text encoder graph.
"""

from typing import Dict, List, Tuple, Union

import torch
from torch import nn

from .config import PackConfig
from .dit import DiT
from .vae import VAE

BATCH = "batch"
SEQ = "seq"  # S
LATENT_FRAMES, LATENT_HEIGHT, LATENT_WIDTH = "latent_frames", "latent_height", "latent_width"
FRAMES, HEIGHT, WIDTH = "frames", "height", "width"

# A port's shape: an int is a fixed size, a str names a dynamic axis.
Shape = List[Union[int, str]]
Ports = Dict[str, Shape]  # name -> shape, in port order


def latent_shape(cfg: PackConfig) -> Shape:
    return [BATCH, cfg.latent_channels, LATENT_FRAMES, LATENT_HEIGHT, LATENT_WIDTH]  # [B, C, F', H', W']


def pixel_shape() -> Shape:
    return [BATCH, 3, FRAMES, HEIGHT, WIDTH]  # [B, 3, F, H, W]


def transformer_inputs(cfg: PackConfig) -> Ports:
    """latents, t[, text][, text_mask][, pooled][, guidance], then ctx_k.i, ctx_v.i, ctx_bias.i for i in contextLayers."""
    ports: Ports = {
        "latents": latent_shape(cfg),
        "t": [BATCH],
    }
    if cfg.has_text:
        ports["text"] = [BATCH, cfg.max_tokens, cfg.text_dim]
    if cfg.text_mask:
        ports["text_mask"] = [BATCH, cfg.max_tokens]
    if cfg.pooled_dim > 0:
        ports["pooled"] = [BATCH, cfg.pooled_dim]
    if cfg.guidance == "distilled":
        ports["guidance"] = [BATCH]
    for i in cfg.context_layers:
        sc = f"ctx_seq_{i}"  # each layer's Sc is its own axis
        ports[f"ctx_k.{i}"] = [BATCH, cfg.heads, sc, cfg.head_dim]
        ports[f"ctx_v.{i}"] = [BATCH, cfg.heads, sc, cfg.head_dim]
        ports[f"ctx_bias.{i}"] = [BATCH, f"seq_plus_ctx_seq_{i}"]
    return ports


def transformer_outputs(cfg: PackConfig) -> Ports:
    """velocity, then k.i, v.i for i in contextLayers."""
    ports: Ports = {"velocity": latent_shape(cfg)}
    for i in cfg.context_layers:
        ports[f"k.{i}"] = [BATCH, cfg.heads, SEQ, cfg.head_dim]
        ports[f"v.{i}"] = [BATCH, cfg.heads, SEQ, cfg.head_dim]
    return ports


def transformer_input_names(cfg: PackConfig) -> List[str]:
    return list(transformer_inputs(cfg))


def transformer_output_names(cfg: PackConfig) -> List[str]:
    return list(transformer_outputs(cfg))


def text_encoder_ports(cfg: PackConfig) -> Tuple[Ports, Ports]:
    if not cfg.has_text:
        raise ValueError(f"{cfg.name} is unconditional: it has no text encoder")
    inputs: Ports = {"input_ids": [BATCH, cfg.max_tokens]}
    if cfg.text_attention_mask:
        inputs["attention_mask"] = [BATCH, cfg.max_tokens]
    outputs: Ports = {"text": [BATCH, cfg.max_tokens, cfg.text_dim]}
    if cfg.pooled_dim > 0:
        outputs["pooled"] = [BATCH, cfg.pooled_dim]
    return inputs, outputs


def vae_encoder_ports(cfg: PackConfig) -> Tuple[Ports, Ports]:
    return {"pixels": pixel_shape()}, {"mean": latent_shape(cfg)}


def vae_decoder_ports(cfg: PackConfig) -> Tuple[Ports, Ports]:
    return {"latents": latent_shape(cfg)}, {"pixels": pixel_shape()}


def dynamic_axes(*ports: Ports) -> Dict[str, Dict[int, str]]:
    """torch.onnx.export's dynamic_axes: the named axes of every port."""
    return {
        name: {axis: size for axis, size in enumerate(shape) if isinstance(size, str)}
        for group in ports
        for name, shape in group.items()
    }


class TransformerPorts(nn.Module):
    """DiT with the flat positional inputs and outputs of the transformer graph."""

    def __init__(self, dit: DiT):
        super().__init__()
        self.dit = dit
        self.has_text = dit.cfg.has_text
        self.has_text_mask = dit.cfg.text_mask
        self.has_pooled = dit.cfg.pooled_dim > 0
        self.distilled = dit.cfg.guidance == "distilled"
        self.n_context = len(dit.cfg.context_layers)

    def forward(self, latents, t, *rest):
        text = None
        if self.has_text:
            text, rest = rest[0], rest[1:]
        text_mask = pooled = None
        if self.has_text_mask:
            text_mask, rest = rest[0], rest[1:]
        if self.has_pooled:
            pooled, rest = rest[0], rest[1:]
        guidance = None
        if self.distilled:
            guidance, rest = rest[0], rest[1:]
        if len(rest) != 3 * self.n_context:
            raise ValueError(f"expected {3 * self.n_context} context inputs, got {len(rest)}")
        context = [tuple(rest[3 * j : 3 * j + 3]) for j in range(self.n_context)]
        velocity, kv = self.dit(latents, t, text, guidance, context, text_mask, pooled)
        return (velocity,) + tuple(z for pair in kv for z in pair)


class VaeEncoderPort(nn.Module):
    """pixels [B, 3, F, H, W] -> mean [B, C, F', H/s, W/s]."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae = vae

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.vae.encode_mean(pixels)


class VaeDecoderPort(nn.Module):
    """latents [B, C, F', H', W'] -> pixels [B, 3, F, H, W]."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae = vae

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents)
