"""Building blocks of Wan2.1's causal 3-D VAE, with the release's parameter names.

Every block runs two ways:
- `forward(x)`: the whole clip at once (what the ONNX graphs trace);
- `forward_chunk(x, cache)`: one chunk of frames, the state of earlier chunks kept in a
  `ChunkCache` (the release's streaming procedure, kept as the ground truth the whole-clip path
  is checked against).

Tensors are [B, C, T, H, W]. Time is causal: a convolution over time sees only the current and
earlier frames (its zero padding is on the past side), so the whole-clip path equals the chunked
one except at the temporal resamplers, whose first frame passes alone (see `Resample`).
"""

from typing import Dict, Optional, Tuple, Union

import torch
from torch import nn
from torch.nn import functional as F

# Frames of a convolution's input that a chunk leaves for the next (its temporal kernel 3 − 1).
CACHE_FRAMES = 2
# A temporal upsampler's state after the first chunk: its frame passed through alone, and the
# later frames' convolution sees zeros in its place.
FIRST_PASSED = "first"

CacheEntry = Union[torch.Tensor, str]


class ChunkCache:
    """The state each causal layer carries from one chunk to the next, keyed by the layer."""

    def __init__(self) -> None:
        self._state: Dict[int, CacheEntry] = {}

    def get(self, layer: nn.Module) -> Optional[CacheEntry]:
        return self._state.get(id(layer))

    def put(self, layer: nn.Module, value: CacheEntry) -> None:
        self._state[id(layer)] = value


def run_chunk(layer: nn.Module, x: torch.Tensor, cache: ChunkCache) -> torch.Tensor:
    """`layer` on one chunk: through its cache if it keeps one, else as a plain module."""
    step = getattr(layer, "forward_chunk", None)
    return step(x, cache) if step is not None else layer(x)


def first_frame_mask(t: torch.Tensor) -> torch.Tensor:
    """[1, 1, T, 1, 1] booleans, true at frame 0 of `t` [B, C, T, H, W] (T traced, not fixed)."""
    ones = torch.ones_like(t[:1, :1, :, :1, :1])  # [1, 1, T, 1, 1]
    return ones.cumsum(2) == 1


def with_frames_kept(x: torch.Tensor, previous: Optional[torch.Tensor]) -> torch.Tensor:
    """The last CACHE_FRAMES frames of `previous` ++ `x`, as the next chunk's past."""
    keep = x[:, :, -CACHE_FRAMES:]  # [B, C, ≤2, H, W]
    if keep.shape[2] < CACHE_FRAMES and previous is not None:
        keep = torch.cat([previous[:, :, -1:], keep], 2)  # [B, C, 2, H, W]
    return keep


class CausalConv3d(nn.Conv3d):
    """3-D convolution whose temporal padding (2·p_t zeros) is all on the past side."""

    def __init__(self, in_dim: int, out_dim: int, kernel, stride=1, padding=0):
        kernel = _triple(kernel)
        pad_t, pad_h, pad_w = _triple(padding)
        super().__init__(in_dim, out_dim, kernel, stride=_triple(stride), padding=(0, pad_h, pad_w))
        self.past = 2 * pad_t  # zero frames before the first

    def with_past(self, x: torch.Tensor, past: Optional[torch.Tensor]) -> torch.Tensor:
        """The convolution of `x` [B, C, T, H, W] after `past` frames (zeros where there are none)."""
        missing = self.past
        if past is not None and self.past > 0:
            x = torch.cat([past, x], 2)  # [B, C, P + T, H, W]
            missing -= past.shape[2]
        if missing > 0:
            x = F.pad(x, (0, 0, 0, 0, missing, 0))  # [B, C, past + T, H, W]
        return super().forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.with_past(x, None)

    def forward_chunk(self, x: torch.Tensor, cache: ChunkCache) -> torch.Tensor:
        if self.past == 0:
            return self(x)
        previous = cache.get(self)
        cache.put(self, with_frames_kept(x, previous))
        return self.with_past(x, previous)


class FrameConv2d(nn.Conv2d):
    """A 2-D convolution applied to every frame of [B, C, T, H, W] (a 1×k×k 3-D convolution)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv3d(x, self.weight.unsqueeze(2), self.bias, stride=(1, *self.stride), padding=(0, *self.padding))


class RMSNorm(nn.Module):
    """x / ‖x‖₂ over channels · √C · γ, per position (the release's RMS_norm, without bias)."""

    def __init__(self, dim: int, images: bool = False):
        super().__init__()
        self.dim = dim
        self.gamma = nn.Parameter(torch.ones((dim, 1, 1) if images else (dim, 1, 1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = x.pow(2).sum(1, keepdim=True).sqrt().clamp_min(1e-12)  # [B, 1, T, H, W]
        return x / norm * (self.dim**0.5) * self.gamma.reshape(self.dim, 1, 1, 1)


class SpatialUpsample(nn.Module):
    """Nearest-neighbour ×2 in H and W of every frame (equal to 'nearest-exact' at scale 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=(1.0, 2.0, 2.0), mode="nearest")  # [B, C, T, 2H, 2W]


class SpatialPadEnd(nn.Module):
    """One zero row at the bottom and one zero column at the right of every frame."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, 1, 0, 1))  # [B, C, T, H+1, W+1]


class ResidualBlock(nn.Module):
    """x ↦ shortcut(x) + conv(silu(norm(conv(silu(norm(x)))))), both convolutions causal 3×3×3."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.residual = nn.Sequential(
            RMSNorm(in_dim),
            nn.SiLU(),
            CausalConv3d(in_dim, out_dim, 3, padding=1),
            RMSNorm(out_dim),
            nn.SiLU(),
            nn.Dropout(0.0),  # kept so the parameter indices match the release
            CausalConv3d(out_dim, out_dim, 3, padding=1),
        )
        self.shortcut = CausalConv3d(in_dim, out_dim, 1) if in_dim != out_dim else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.residual(x)

    def forward_chunk(self, x: torch.Tensor, cache: ChunkCache) -> torch.Tensor:
        h = self.shortcut(x)
        for layer in self.residual:
            x = run_chunk(layer, x, cache)
        return x + h


class AttentionBlock(nn.Module):
    """Single-head self-attention among the positions of each frame, with a residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = RMSNorm(dim, images=True)
        self.to_qkv = FrameConv2d(dim, dim * 3, 1)
        self.proj = FrameConv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        qkv = self.to_qkv(self.norm(x))  # [B, 3C, T, H, W]
        q, k, v = (u.flatten(3).permute(0, 2, 3, 1) for u in qkv.chunk(3, dim=1))  # [B, T, N, C] each
        weights = torch.softmax(q @ k.transpose(-1, -2) * (c**-0.5), dim=-1)  # [B, T, N, N]
        out = (weights @ v).permute(0, 3, 1, 2).reshape(x.shape)  # [B, C, T, H, W]
        return x + self.proj(out)


class Resample(nn.Module):
    """Spatial ×2 up/down sampling of every frame, optionally with temporal ×2 (`time_conv`).

    Modes: 'upsample2d', 'upsample3d', 'downsample2d', 'downsample3d'.
    - downsample3d: after the spatial step, frame 0 passes alone and every later output frame j is
      time_conv over frames (2j−2, 2j−1, 2j): T = 1 + 2m frames in, 1 + m out.
    - upsample3d: frame 0 passes alone; every later frame i gives two frames through time_conv
      (2C channels: the first C the even frame, the last C the odd one), whose causal window sees
      zeros in place of frame 0: T frames in, 1 + 2(T − 1) out; then the spatial step.
    """

    MODES = ("upsample2d", "upsample3d", "downsample2d", "downsample3d")

    def __init__(self, dim: int, mode: str):
        if mode not in self.MODES:
            raise ValueError(f"Resample mode {mode!r}: expected one of {', '.join(self.MODES)}")
        super().__init__()
        self.dim = dim
        self.mode = mode
        if mode.startswith("upsample"):
            self.resample = nn.Sequential(SpatialUpsample(), FrameConv2d(dim, dim // 2, 3, padding=1))
        else:
            self.resample = nn.Sequential(SpatialPadEnd(), FrameConv2d(dim, dim, 3, stride=2))
        if mode == "upsample3d":
            self.time_conv = CausalConv3d(dim, dim * 2, (3, 1, 1), padding=(1, 0, 0))
        elif mode == "downsample3d":
            self.time_conv = CausalConv3d(dim, dim, (3, 1, 1), stride=(2, 1, 1))

    def _interleave(self, y: torch.Tensor) -> torch.Tensor:
        """[B, 2C, T, H, W] -> [B, C, 2T, H, W]: frame 2i from channels [0, C), 2i+1 from [C, 2C)."""
        b, _, t, h, w = y.shape
        y = y.reshape(b, 2, self.dim, t, h, w).permute(0, 2, 3, 1, 4, 5)  # [B, C, T, 2, H, W]
        return y.reshape(b, self.dim, -1, h, w)  # [B, C, 2T, H, W]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "upsample3d":
            first = first_frame_mask(x)  # [1, 1, T, 1, 1]
            y = self.time_conv(x.masked_fill(first, 0.0))  # [B, 2C, T, H, W]; frame 0 is unused
            y = self._interleave(y)[:, :, 1:]  # [B, C, 2T − 1, H, W]
            x = torch.where(first_frame_mask(y), x[:, :, :1], y)  # frame 0 passes alone
        x = self.resample(x)
        if self.mode == "downsample3d":
            # two zero frames first: output j >= 1 sees frames (2j-2, 2j-1, 2j); T = 1 + 2m -> 1 + m
            y = self.time_conv(F.pad(x, (0, 0, 0, 0, 2, 0)))  # [B, C, 1 + m, H', W']; frame 0 is unused
            x = torch.where(first_frame_mask(y), x[:, :, :1], y)  # frame 0 passes alone
        return x

    def forward_chunk(self, x: torch.Tensor, cache: ChunkCache) -> torch.Tensor:
        if self.mode == "upsample3d":
            state = cache.get(self)
            if state is None:
                cache.put(self, FIRST_PASSED)  # the first chunk passes as it is
            else:
                past = None if state is FIRST_PASSED else state
                keep = x[:, :, -CACHE_FRAMES:]
                if keep.shape[2] < CACHE_FRAMES:
                    before = torch.zeros_like(keep[:, :, :1]) if past is None else past[:, :, -1:]
                    keep = torch.cat([before, keep], 2)  # [B, C, 2, H, W]
                cache.put(self, keep)
                x = self._interleave(self.time_conv.with_past(x, past))  # [B, C, 2T, H, W]
        x = self.resample(x)
        if self.mode == "downsample3d":
            previous = cache.get(self)
            cache.put(self, x[:, :, -1:])
            if previous is not None:  # the first chunk passes as it is
                x = self.time_conv(torch.cat([previous, x], 2))  # [B, C, T/2, H', W']
        return x


def _triple(v) -> Tuple[int, int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v, v)
