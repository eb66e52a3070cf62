"""FLUX.1's autoencoder (black-forest-labs/flux, src/flux/modules/autoencoder.py), strict loading
of the release's `ae.safetensors`, and the two per-frame ONNX graphs of the pack.

Architecture (the facts that make the release's file load, names included):
- encoder: conv_in (3 -> ch), then per level I of ch_mult `down.I.block.J` residual blocks
  (GroupNorm, swish, 3×3 conv, twice; a 1×1 `nin_shortcut` where the width changes) and, on every
  level but the last, `down.I.downsample.conv` (zero-pad right and bottom by 1, 3×3 conv of
  stride 2); `mid.block_1`, `mid.attn_1` (single-head self-attention over the pixels with 1×1
  convs q, k, v, proj_out), `mid.block_2`; norm_out, swish, conv_out to 2·z channels (the
  posterior's mean and log-variance);
- decoder: conv_in (z -> ch·ch_mult[-1]), mid as above, then per level from the deepest
  `up.I.block.J` (num_res_blocks + 1 blocks) and, on every level but 0, `up.I.upsample.conv`
  (nearest 2× then a 3×3 conv); norm_out, swish, conv_out to 3 channels.
Spatial compression 2^(len(ch_mult) − 1) = 8. GroupNorm has 32 groups and eps 1e-6 at the
release's size; the tiny test size keeps the structure and uses fewer groups.

The release encodes to `scale · (mean − shift)` and decodes `z / scale + shift`; the pack's graphs
leave both to flowedit (manifest `latent.scale`, `latent.shift`): the encoder graph gives the
posterior mean itself, the decoder graph takes the unscaled latent. Frames fold into the batch.
"""

import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import CheckpointError, check_safetensors_complete, check_state_dict, load_strict, read_safetensors
from ..onnx_export import export_graph

Z_CHANNELS = 16
# The release's latent normalisation: z = SCALE · (mean − SHIFT) (src/flux/util.py, ae_params).
SCALE = 0.3611
SHIFT = 0.1159
AE_FILE = "ae.safetensors"


@dataclass(frozen=True)
class AeConfig:
    ch: int
    ch_mult: Tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    in_channels: int = 3
    out_ch: int = 3
    z_channels: int = Z_CHANNELS
    groups: int = 32  # GroupNorm groups

    @property
    def spatial_compression(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)


AE_SIZES: Dict[str, AeConfig] = {
    "full": AeConfig(ch=128),  # ae.safetensors of FLUX.1 [dev] and [schnell]
    "tiny": AeConfig(ch=16, ch_mult=(1, 1, 2, 2), num_res_blocks=1, groups=8),  # same structure and compression, for tests
}


def _norm(cfg: AeConfig, channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(cfg.groups, channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, cfg: AeConfig, in_channels: int, out_channels: int):
        super().__init__()
        self.norm1 = _norm(cfg, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(cfg, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, Cin, h, w] -> [N, Cout, h, w]
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    """One head over the h·w pixels, explicit matmul and softmax (one graph on every runtime)."""

    def __init__(self, cfg: AeConfig, channels: int):
        super().__init__()
        self.norm = _norm(cfg, channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x_ = self.norm(x)
        q = self.q(x_).flatten(2).transpose(1, 2)  # [N, hw, C]
        k = self.k(x_).flatten(2)  # [N, C, hw]
        v = self.v(x_).flatten(2).transpose(1, 2)  # [N, hw, C]
        a = torch.softmax(torch.matmul(q, k) * (1.0 / math.sqrt(c)), dim=-1)  # [N, hw, hw]
        o = torch.matmul(a, v).transpose(1, 2).reshape(n, c, h, w)  # [N, C, h, w]
        return x + self.proj_out(o)


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, h, w] -> [N, C, h/2, w/2]
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, h, w] -> [N, C, 2h, 2w]
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _mid(cfg: AeConfig, channels: int) -> nn.Module:
    mid = nn.Module()
    mid.block_1 = ResnetBlock(cfg, channels, channels)
    mid.attn_1 = AttnBlock(cfg, channels)
    mid.block_2 = ResnetBlock(cfg, channels, channels)
    return mid


def _run_mid(mid: nn.Module, h: torch.Tensor) -> torch.Tensor:
    return mid.block_2(mid.attn_1(mid.block_1(h)))


class Encoder(nn.Module):
    """[N, 3, H, W] -> moments [N, 2z, H/8, W/8] (mean ‖ log-variance)."""

    def __init__(self, cfg: AeConfig):
        super().__init__()
        self.conv_in = nn.Conv2d(cfg.in_channels, cfg.ch, 3, padding=1)
        self.down = nn.ModuleList()
        c_in = cfg.ch
        for i, mult in enumerate(cfg.ch_mult):
            level = nn.Module()
            c_out = cfg.ch * mult
            level.block = nn.ModuleList(ResnetBlock(cfg, c_in if j == 0 else c_out, c_out) for j in range(cfg.num_res_blocks))
            c_in = c_out
            if i != len(cfg.ch_mult) - 1:
                level.downsample = Downsample(c_out)
            self.down.append(level)
        self.mid = _mid(cfg, c_in)
        self.norm_out = _norm(cfg, c_in)
        self.conv_out = nn.Conv2d(c_in, 2 * cfg.z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)  # [N, ch, H, W]
        for level in self.down:
            for block in level.block:
                h = block(h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)  # halves H and W
        h = _run_mid(self.mid, h)
        return self.conv_out(F.silu(self.norm_out(h)))  # [N, 2z, H/8, W/8]


class Decoder(nn.Module):
    """[N, z, h, w] (unscaled latent) -> pixels [N, 3, 8h, 8w], not clamped."""

    def __init__(self, cfg: AeConfig):
        super().__init__()
        c_in = cfg.ch * cfg.ch_mult[-1]
        self.conv_in = nn.Conv2d(cfg.z_channels, c_in, 3, padding=1)
        self.mid = _mid(cfg, c_in)
        levels: List[nn.Module] = []
        for i in reversed(range(len(cfg.ch_mult))):
            level = nn.Module()
            c_out = cfg.ch * cfg.ch_mult[i]
            level.block = nn.ModuleList(ResnetBlock(cfg, c_in if j == 0 else c_out, c_out) for j in range(cfg.num_res_blocks + 1))
            c_in = c_out
            if i != 0:
                level.upsample = Upsample(c_out)
            levels.insert(0, level)  # up.0 is the finest level, as in the release
        self.up = nn.ModuleList(levels)
        self.norm_out = _norm(cfg, c_in)
        self.conv_out = nn.Conv2d(c_in, cfg.out_ch, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = _run_mid(self.mid, self.conv_in(z))  # [N, ch·ch_mult[-1], h, w]
        for level in reversed(self.up):
            for block in level.block:
                h = block(h)
            if hasattr(level, "upsample"):
                h = level.upsample(h)  # doubles H and W
        return self.conv_out(F.silu(self.norm_out(h)))  # [N, 3, 8h, 8w]


class AutoEncoder(nn.Module):
    """The release's module layout: `encoder.*` and `decoder.*` (no other parameters)."""

    def __init__(self, cfg: AeConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def encode_mean(self, pixels: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] in [-1, 1] -> posterior mean [N, z, H/8, W/8], neither scaled nor shifted."""
        return self.encoder(pixels)[:, : self.cfg.z_channels]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Unscaled latent [N, z, h, w] -> pixels [N, 3, 8h, 8w] (not clamped)."""
        return self.decoder(latents)


def init_random(ae: AutoEncoder, seed: int) -> AutoEncoder:
    """Seeded random weights: PyTorch's initialisation for the convolutions, and norms whose
    affine weights differ from 1 and 0 (so a loader that skipped them would be noticed)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in ae.modules():
            if isinstance(m, nn.Conv2d):
                bound = 1.0 / math.sqrt(m.weight[0].numel())
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * math.sqrt(3.0) * bound)
                m.bias.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * bound)
            elif isinstance(m, nn.GroupNorm):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return ae


def build_ae(size: str, seed: Optional[int] = None) -> AutoEncoder:
    """An AutoEncoder of size 'full' (the release's) or 'tiny' in eval mode, seeded random when
    `seed` is given."""
    if size not in AE_SIZES:
        raise ValueError(f"autoencoder size {size!r}: expected one of {', '.join(AE_SIZES)}")
    ae = AutoEncoder(AE_SIZES[size]).eval()
    return init_random(ae, seed) if seed is not None else ae


# ---------------------------------------------------------------- the pack's graphs


class AeEncoderGraph(nn.Module):
    """pixels [B, 3, F, H, W] in [-1, 1] -> mean [B, z, F, H/8, W/8]; each frame alone."""

    def __init__(self, ae: AutoEncoder):
        super().__init__()
        self.ae = ae

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        b, f = pixels.shape[0], pixels.shape[2]
        x = pixels.transpose(1, 2).flatten(0, 1)  # [B·F, 3, H, W]
        mean = self.ae.encode_mean(x)  # [B·F, z, H/8, W/8]
        return mean.unflatten(0, (b, f)).transpose(1, 2)  # [B, z, F, H/8, W/8]


class AeDecoderGraph(nn.Module):
    """latents [B, z, F, h, w] (z / scale + shift) -> pixels [B, 3, F, 8h, 8w]; each frame alone."""

    def __init__(self, ae: AutoEncoder):
        super().__init__()
        self.ae = ae

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        b, f = latents.shape[0], latents.shape[2]
        z = latents.transpose(1, 2).flatten(0, 1)  # [B·F, z, h, w]
        pixels = self.ae.decode(z)  # [B·F, 3, 8h, 8w]
        return pixels.unflatten(0, (b, f)).transpose(1, 2)  # [B, 3, F, 8h, 8w]


PIXEL_PORT = ["batch", 3, "frames", "height", "width"]


def latent_port(cfg: AeConfig):
    return ["batch", cfg.z_channels, "frames", "latent_height", "latent_width"]


def export_ae(ae: AutoEncoder, out_dir: str) -> Dict[str, str]:
    """Write out_dir/vae_encoder.onnx (`pixels` -> `mean`) and out_dir/vae_decoder.onnx
    (`latents` -> `pixels`), batch, frames, height and width dynamic. Returns the two paths."""
    ae.eval()
    s = ae.cfg.spatial_compression
    paths = {"encoder": os.path.join(out_dir, "vae_encoder.onnx"), "decoder": os.path.join(out_dir, "vae_decoder.onnx")}
    # Traced on two frames of a non-square size; nothing in the graph depends on these sizes.
    pixels = torch.zeros(1, 3, 2, 2 * s, 3 * s)
    latents = torch.zeros(1, ae.cfg.z_channels, 2, 2, 3)
    export_graph(AeEncoderGraph(ae), [pixels], paths["encoder"], {"pixels": PIXEL_PORT}, {"mean": latent_port(ae.cfg)})
    export_graph(AeDecoderGraph(ae), [latents], paths["decoder"], {"latents": latent_port(ae.cfg)}, {"pixels": PIXEL_PORT})
    return paths


# ---------------------------------------------------------------- checkpoint

# A key of the diffusers form of the same autoencoder (the release's vae/ folder).
DIFFUSERS_KEY = "encoder.down_blocks.0.resnets.0.conv1.weight"


def _identify(names, shapes: Dict[str, Tuple[int, ...]], cfg: AeConfig, path: str) -> Optional[str]:
    """A one-line reason why the tensors named `names` are not this autoencoder (another model,
    the diffusers layout, another width), or None when they look like it."""
    with torch.device("meta"):
        want = AutoEncoder(cfg).state_dict()
    names = set(names)
    if DIFFUSERS_KEY in names:
        return (f"{path} is FLUX's autoencoder in the diffusers layout (vae/diffusion_pytorch_model.safetensors: "
                f"{DIFFUSERS_KEY}, …); pass {AE_FILE} from the root of the FLUX.1 release instead")
    known = names & set(want)
    if len(known) < len(want) // 2:
        sample = ", ".join(sorted(names)[:3]) + (", …" if len(names) > 3 else "")
        return (f"{path} is not a FLUX.1 autoencoder: {len(known)} of its {len(names)} tensors have the names of the "
                f"autoencoder's {len(want)} (e.g. encoder.conv_in.weight; this file has {sample}); pass {AE_FILE} from the FLUX.1 release")
    got = shapes.get("encoder.conv_in.weight")
    if got is not None and tuple(got) != tuple(want["encoder.conv_in.weight"].shape):
        sizes = [n for n, c in AE_SIZES.items() if c.ch == got[0]]
        hint = f"build it with build_ae({sizes[0]!r})" if sizes else "this is not FLUX.1's autoencoder"
        return f"{path} holds an autoencoder of base width {got[0]}, expected {cfg.ch}: {hint}"
    return None


def header_shapes(path: str) -> Dict[str, Tuple[int, ...]]:
    """Each tensor's shape from a .safetensors header, without reading the weights."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}


def check_ae_file(path: str, cfg: AeConfig = AE_SIZES["full"]) -> List[str]:
    """Problems of `path` as FLUX.1's ae.safetensors, one line each, from its header alone
    (missing, truncated, another model, the diffusers layout, missing/unexpected keys, shapes)."""
    if not os.path.isfile(path):
        return [f"{path}: {'not a file' if os.path.exists(path) else 'missing'}; expected {AE_FILE}, the autoencoder of the FLUX.1 release"]
    try:
        check_safetensors_complete(path)
        shapes = header_shapes(path)
    except CheckpointError as e:
        return [str(e)]
    except Exception as e:
        return [f"{path}: not a readable safetensors file ({e}); expected {AE_FILE} of the FLUX.1 release"]
    reason = _identify(shapes, shapes, cfg, path)
    if reason:
        return [reason]
    with torch.device("meta"):
        module = AutoEncoder(cfg)
    try:
        check_state_dict(module, {k: torch.empty(s, device="meta") for k, s in shapes.items()}, path, _what(cfg))
    except CheckpointError as e:
        return [str(e)]
    return []


def _what(cfg: AeConfig) -> str:
    return f"FLUX.1's autoencoder (ch {cfg.ch}, ch_mult {list(cfg.ch_mult)}, z {cfg.z_channels})"


def load_ae_checkpoint(ae: AutoEncoder, path: str) -> None:
    """Load the release's `ae.safetensors` strictly (float32); one-line CheckpointError otherwise."""
    state = read_safetensors(path)
    reason = _identify(state, {k: tuple(v.shape) for k, v in state.items()}, ae.cfg, path)
    if reason:
        raise CheckpointError(reason)
    load_strict(ae, state, path, _what(ae.cfg))
