"""An independent forward pass of FLUX.1's autoencoder written from the release's math
(black-forest-labs/flux, src/flux/modules/autoencoder.py) as plain functions over a state dict,
for checking flowedit_export/flux/ae.py: it walks the parameter names the release's file holds,
with the release's own level order, scaled_dot_product_attention and swish, and knows nothing
of the module under test.
"""

from typing import Dict, Sequence

import torch
import torch.nn.functional as F

State = Dict[str, torch.Tensor]


def _swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


def _conv(s: State, name: str, x: torch.Tensor, stride: int = 1, padding: int = 1) -> torch.Tensor:
    return F.conv2d(x, s[f"{name}.weight"], s[f"{name}.bias"], stride=stride, padding=padding)


def _norm(s: State, name: str, x: torch.Tensor, groups: int) -> torch.Tensor:
    return F.group_norm(x, groups, s[f"{name}.weight"], s[f"{name}.bias"], eps=1e-6)


def _resnet(s: State, name: str, x: torch.Tensor, groups: int) -> torch.Tensor:
    h = _conv(s, f"{name}.conv1", _swish(_norm(s, f"{name}.norm1", x, groups)))
    h = _conv(s, f"{name}.conv2", _swish(_norm(s, f"{name}.norm2", h, groups)))
    if f"{name}.nin_shortcut.weight" in s:
        x = _conv(s, f"{name}.nin_shortcut", x, padding=0)
    return x + h


def _attn(s: State, name: str, x: torch.Tensor, groups: int) -> torch.Tensor:
    h_ = _norm(s, f"{name}.norm", x, groups)
    b, c, h, w = x.shape
    q, k, v = (_conv(s, f"{name}.{p}", h_, padding=0).reshape(b, 1, c, h * w).transpose(2, 3) for p in "qkv")  # [b, 1, hw, c]
    o = F.scaled_dot_product_attention(q, k, v)  # [b, 1, hw, c]
    o = o.transpose(2, 3).reshape(b, c, h, w)
    return x + _conv(s, f"{name}.proj_out", o, padding=0)


def _mid(s: State, name: str, h: torch.Tensor, groups: int) -> torch.Tensor:
    h = _resnet(s, f"{name}.block_1", h, groups)
    h = _attn(s, f"{name}.attn_1", h, groups)
    return _resnet(s, f"{name}.block_2", h, groups)


@torch.no_grad()
def encode_moments(s: State, x: torch.Tensor, ch_mult: Sequence[int], num_res_blocks: int, groups: int) -> torch.Tensor:
    """[N, 3, H, W] -> the encoder's output [N, 2z, H/8, W/8] (mean ‖ log-variance)."""
    levels = len(ch_mult)
    h = _conv(s, "encoder.conv_in", x)
    for i in range(levels):
        for j in range(num_res_blocks):
            h = _resnet(s, f"encoder.down.{i}.block.{j}", h, groups)
        if i != levels - 1:
            h = _conv(s, f"encoder.down.{i}.downsample.conv", F.pad(h, (0, 1, 0, 1), value=0.0), stride=2, padding=0)
    h = _mid(s, "encoder.mid", h, groups)
    return _conv(s, "encoder.conv_out", _swish(_norm(s, "encoder.norm_out", h, groups)))


@torch.no_grad()
def decode(s: State, z: torch.Tensor, ch_mult: Sequence[int], num_res_blocks: int, groups: int) -> torch.Tensor:
    """Unscaled latent [N, z, h, w] -> pixels [N, 3, 8h, 8w]."""
    h = _conv(s, "decoder.conv_in", z)
    h = _mid(s, "decoder.mid", h, groups)
    for i in reversed(range(len(ch_mult))):
        for j in range(num_res_blocks + 1):
            h = _resnet(s, f"decoder.up.{i}.block.{j}", h, groups)
        if i != 0:
            h = _conv(s, f"decoder.up.{i}.upsample.conv", F.interpolate(h, scale_factor=2.0, mode="nearest"))
    return _conv(s, "decoder.conv_out", _swish(_norm(s, "decoder.norm_out", h, groups)))


@torch.no_grad()
def release_encode(s: State, x: torch.Tensor, ch_mult, num_res_blocks, groups, scale: float, shift: float) -> torch.Tensor:
    """The release's AutoEncoder.encode with the sampling turned off: scale · (mean − shift)."""
    mean = encode_moments(s, x, ch_mult, num_res_blocks, groups).chunk(2, dim=1)[0]
    return scale * (mean - shift)


@torch.no_grad()
def release_decode(s: State, z: torch.Tensor, ch_mult, num_res_blocks, groups, scale: float, shift: float) -> torch.Tensor:
    """The release's AutoEncoder.decode: the decoder on z / scale + shift."""
    return decode(s, z / scale + shift, ch_mult, num_res_blocks, groups)
