"""Wan2.1's causal 3-D VAE (Wan-Video/Wan2.1, wan/modules/vae.py), its chunked encode/decode,
whole-clip ONNX graphs that equal them, and strict loading of the release's `Wan2.1_VAE.pth`.

Compression: 8× in H and W, 4× in time with the first frame alone, F' = 1 + (F − 1)/4.
The encoder predicts 2·z_dim channels (posterior mean, log-variance); flowedit uses the mean.
Parameter names are the release's, so its checkpoint loads strictly.

The release encodes frame 0 alone and then chunks of 4 frames, and decodes one latent frame at
a time, every causal layer carrying its last frames to the next chunk (`chunked_encode`,
`chunked_decode`, the ground truth here). Every layer is causal in time or works per frame, so
one pass over the whole clip gives the same result as long as the temporal resamplers let frame 0
pass alone (vae_blocks.Resample): that pass is what `VaeEncoderGraph` and `VaeDecoderGraph` trace.
"""

import os
from dataclasses import dataclass
from typing import Dict, Tuple

import torch
from torch import nn

from ..checkpoint import CheckpointError, load_strict, read_safetensors, read_torch_file
from ..onnx_export import export_graph
from .vae_blocks import (
    AttentionBlock,
    CausalConv3d,
    ChunkCache,
    Resample,
    ResidualBlock,
    RMSNorm,
    run_chunk,
)

Z_DIM = 16
SPATIAL_FACTOR = 8
TEMPORAL_FACTOR = 4
# Per-channel statistics of the release's latents (z − mean) / std normalises them.
LATENT_MEAN = (
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
)  # fmt: skip
LATENT_STD = (
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
)  # fmt: skip


@dataclass(frozen=True)
class VaeConfig:
    dim: int
    z_dim: int = Z_DIM
    dim_mult: Tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    attn_scales: Tuple[float, ...] = ()
    temperal_downsample: Tuple[bool, ...] = (False, True, True)  # the release's spelling


VAE_SIZES: Dict[str, VaeConfig] = {
    "full": VaeConfig(dim=96),  # Wan2.1_VAE.pth
    "tiny": VaeConfig(dim=8),  # same structure, for tests
}


class LayerStack(nn.Module):
    """A module that runs its parts named in ORDER (single layers or Sequentials, flattened) in
    order: on the whole clip, or on one chunk through the caches."""

    ORDER: Tuple[str, ...] = ()

    def layers(self):
        for name in self.ORDER:
            part = getattr(self, name)
            if isinstance(part, nn.Sequential):
                yield from part
            else:
                yield part

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers():
            x = layer(x)
        return x

    def forward_chunk(self, x: torch.Tensor, cache: ChunkCache) -> torch.Tensor:
        for layer in self.layers():
            x = run_chunk(layer, x, cache)
        return x


class Encoder3d(LayerStack):
    """[B, 3, F, H, W] -> [B, out_dim, F', H/8, W/8]."""

    ORDER = ("conv1", "downsamples", "middle", "head")

    def __init__(self, cfg: VaeConfig, out_dim: int):
        super().__init__()
        dims = [cfg.dim * u for u in (1, *cfg.dim_mult)]
        scale = 1.0
        self.conv1 = CausalConv3d(3, dims[0], 3, padding=1)
        blocks = []
        for i, (in_dim, level_dim) in enumerate(zip(dims[:-1], dims[1:])):
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResidualBlock(in_dim, level_dim))
                if scale in cfg.attn_scales:
                    blocks.append(AttentionBlock(level_dim))
                in_dim = level_dim
            if i != len(cfg.dim_mult) - 1:
                blocks.append(Resample(level_dim, "downsample3d" if cfg.temperal_downsample[i] else "downsample2d"))
                scale /= 2.0
        self.downsamples = nn.Sequential(*blocks)
        self.middle = nn.Sequential(ResidualBlock(level_dim, level_dim), AttentionBlock(level_dim), ResidualBlock(level_dim, level_dim))
        self.head = nn.Sequential(RMSNorm(level_dim), nn.SiLU(), CausalConv3d(level_dim, out_dim, 3, padding=1))




class Decoder3d(LayerStack):
    """[B, z_dim, F', H', W'] -> [B, 3, 1 + 4(F' − 1), 8H', 8W']."""

    ORDER = ("conv1", "middle", "upsamples", "head")

    def __init__(self, cfg: VaeConfig):
        super().__init__()
        mult = cfg.dim_mult
        dims = [cfg.dim * u for u in (mult[-1], *mult[::-1])]
        temperal_upsample = cfg.temperal_downsample[::-1]
        scale = 1.0 / 2 ** (len(mult) - 2)
        self.conv1 = CausalConv3d(cfg.z_dim, dims[0], 3, padding=1)
        self.middle = nn.Sequential(ResidualBlock(dims[0], dims[0]), AttentionBlock(dims[0]), ResidualBlock(dims[0], dims[0]))
        blocks = []
        for i, (in_dim, level_dim) in enumerate(zip(dims[:-1], dims[1:])):
            if i > 0:
                in_dim //= 2  # the upsampler before this level halved the channels
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResidualBlock(in_dim, level_dim))
                if scale in cfg.attn_scales:
                    blocks.append(AttentionBlock(level_dim))
                in_dim = level_dim
            if i != len(mult) - 1:
                blocks.append(Resample(level_dim, "upsample3d" if temperal_upsample[i] else "upsample2d"))
                scale *= 2.0
        self.upsamples = nn.Sequential(*blocks)
        self.head = nn.Sequential(RMSNorm(level_dim), nn.SiLU(), CausalConv3d(level_dim, 3, 3, padding=1))




class WanVAE(nn.Module):
    """The release's module layout: encoder, conv1 (1×1×1 on mean ‖ log-var), conv2 (1×1×1 on z), decoder."""

    def __init__(self, cfg: VaeConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder3d(cfg, cfg.z_dim * 2)
        self.conv1 = CausalConv3d(cfg.z_dim * 2, cfg.z_dim * 2, 1)
        self.conv2 = CausalConv3d(cfg.z_dim, cfg.z_dim, 1)
        self.decoder = Decoder3d(cfg)

    def encode_mean(self, pixels: torch.Tensor) -> torch.Tensor:
        """Whole clip: [B, 3, F, H, W] -> posterior mean [B, z, F', H/8, W/8]."""
        return self.conv1(self.encoder(pixels))[:, : self.cfg.z_dim]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Whole clip: [B, z, F', H', W'] -> pixels [B, 3, 1 + 4(F' − 1), 8H', 8W'] (not clamped)."""
        return self.decoder(self.conv2(latents))


def build_vae(size: str) -> WanVAE:
    """A randomly initialised VAE of size 'full' (the release's) or 'tiny', in eval mode."""
    if size not in VAE_SIZES:
        raise ValueError(f"VAE size {size!r}: expected one of {', '.join(VAE_SIZES)}")
    return WanVAE(VAE_SIZES[size]).eval()


# ---------------------------------------------------------------- checking inputs


def check_pixels(pixels: torch.Tensor) -> None:
    if pixels.dim() != 5 or pixels.shape[1] != 3:
        raise ValueError(f"pixels of shape {tuple(pixels.shape)}: expected [B, 3, F, H, W]")
    f, h, w = pixels.shape[2:]
    if f < 1 or (f - 1) % TEMPORAL_FACTOR:
        raise ValueError(f"{f} frames: expected 1 + {TEMPORAL_FACTOR}k (1, 5, 9, …, 81)")
    if h % SPATIAL_FACTOR or w % SPATIAL_FACTOR or h == 0 or w == 0:
        raise ValueError(f"frames of {w}×{h}: expected a width and height that are positive multiples of {SPATIAL_FACTOR}")


def check_latents(vae: WanVAE, latents: torch.Tensor) -> None:
    z = vae.cfg.z_dim
    if latents.dim() != 5 or latents.shape[1] != z or min(latents.shape[2:]) < 1:
        raise ValueError(f"latents of shape {tuple(latents.shape)}: expected [B, {z}, F', H', W'] with F', H', W' ≥ 1")


def latent_frames(frames: int) -> int:
    return 1 + (frames - 1) // TEMPORAL_FACTOR


def pixel_frames(latent_frames: int) -> int:
    return 1 + TEMPORAL_FACTOR * (latent_frames - 1)


# ---------------------------------------------------------------- the release's chunked procedure


@torch.no_grad()
def chunked_encode(vae: WanVAE, pixels: torch.Tensor) -> torch.Tensor:
    """Posterior mean as the release computes it: frame 0 alone, then chunks of 4 frames, every
    causal layer carrying its state. [B, 3, F, H, W] -> [B, z, F', H/8, W/8]."""
    check_pixels(pixels)
    cache = ChunkCache()
    f = pixels.shape[2]
    chunks = [pixels[:, :, :1]] + [pixels[:, :, s : s + TEMPORAL_FACTOR] for s in range(1, f, TEMPORAL_FACTOR)]
    out = torch.cat([vae.encoder.forward_chunk(c, cache) for c in chunks], 2)  # [B, 2z, F', h, w]
    return vae.conv1(out)[:, : vae.cfg.z_dim]


@torch.no_grad()
def chunked_decode(vae: WanVAE, latents: torch.Tensor) -> torch.Tensor:
    """Pixels as the release decodes them: one latent frame at a time, every causal layer
    carrying its state. [B, z, F', H', W'] -> [B, 3, 1 + 4(F' − 1), 8H', 8W'] (not clamped)."""
    check_latents(vae, latents)
    cache = ChunkCache()
    x = vae.conv2(latents)  # [B, z, F', H', W']
    return torch.cat([vae.decoder.forward_chunk(x[:, :, i : i + 1], cache) for i in range(x.shape[2])], 2)


# ---------------------------------------------------------------- whole-clip graphs


class VaeEncoderGraph(nn.Module):
    """pixels [B, 3, F, H, W] in [-1, 1], F = 1 + 4k -> mean [B, 16, F', H/8, W/8] (un-normalised)."""

    def __init__(self, vae: WanVAE):
        super().__init__()
        self.vae = vae

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.vae.encode_mean(pixels)


class VaeDecoderGraph(nn.Module):
    """latents [B, 16, F', H', W'] (un-normalised) -> pixels [B, 3, 1 + 4(F' − 1), 8H', 8W'], not clamped."""

    def __init__(self, vae: WanVAE):
        super().__init__()
        self.vae = vae

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents)


PIXEL_PORT = ["batch", 3, "frames", "height", "width"]


def latent_port(vae: WanVAE):
    return ["batch", vae.cfg.z_dim, "latent_frames", "latent_height", "latent_width"]


def export_vae(vae: WanVAE, out_dir: str) -> Dict[str, str]:
    """Write out_dir/vae_encoder.onnx (`pixels` -> `mean`) and out_dir/vae_decoder.onnx
    (`latents` -> `pixels`), batch, frames, height and width dynamic. Returns the two paths."""
    vae.eval()
    paths = {"encoder": os.path.join(out_dir, "vae_encoder.onnx"), "decoder": os.path.join(out_dir, "vae_decoder.onnx")}
    # Traced on a clip with a rest after frame 0 and a non-square frame; nothing depends on its sizes.
    pixels = torch.zeros(1, 3, pixel_frames(2), 2 * SPATIAL_FACTOR, 3 * SPATIAL_FACTOR)
    latents = torch.zeros(1, vae.cfg.z_dim, 2, 2, 3)
    export_graph(VaeEncoderGraph(vae), [pixels], paths["encoder"], {"pixels": PIXEL_PORT}, {"mean": latent_port(vae)})
    export_graph(VaeDecoderGraph(vae), [latents], paths["decoder"], {"latents": latent_port(vae)}, {"pixels": PIXEL_PORT})
    return paths


# ---------------------------------------------------------------- checkpoint


def load_vae_checkpoint(vae: WanVAE, path: str) -> None:
    """Load the release's `Wan2.1_VAE.pth` (or a .safetensors of the same tensors) strictly."""
    state = read_safetensors(path) if path.endswith(".safetensors") else read_torch_file(path)
    expected = vae.state_dict()
    known = set(state) & set(expected)
    if len(known) < len(expected) // 2:
        names = sorted(state)
        sample = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        raise CheckpointError(
            f"{path} is not a Wan2.1 VAE checkpoint: {len(known)} of its {len(state)} tensors have the names of "
            f"the Wan2.1 VAE's {len(expected)} (e.g. encoder.conv1.weight; this file has {sample}); "
            "pass Wan2.1_VAE.pth from the Wan2.1 release"
        )
    got, want = state.get("encoder.conv1.weight"), expected["encoder.conv1.weight"]
    if got is not None and got.shape != want.shape:
        sizes = [name for name, cfg in VAE_SIZES.items() if cfg.dim == got.shape[0]]
        hint = f"build the module with build_vae({sizes[0]!r})" if sizes else "build the module at the file's width"
        raise CheckpointError(
            f"{path} holds a VAE of base width {got.shape[0]}, but the module was built with width {want.shape[0]}: {hint}"
        )
    load_strict(vae, state, path, f"the Wan2.1 VAE (base width {vae.cfg.dim}, z_dim {vae.cfg.z_dim})")
