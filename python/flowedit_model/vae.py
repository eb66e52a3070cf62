"""Small convolutional VAE applied frame by frame.

Clips [B, 3, F, H, W] are folded to [B·F, 3, H, W] and run through 2-D convolutions.
The encoder compresses space by s with log2(s) stride-2 convolutions and predicts the
posterior N(mean, exp(logvar)); the decoder mirrors it with nearest-neighbour ×2 upsampling.
With `blocks` > 0 every resolution also gets that many residual blocks
x + conv(silu(conv(silu(x)))) (the fixtures use none).
Only temporal compression 1 is implemented (F' = F).
`refine_blocks` more residual blocks end the decoder at full resolution. Their last convolution
starts at zero, so each starts as the identity: they can be added to a trained decoder (see
`load_vae_state`) without changing its output, and then trained with the encoder frozen.
"""

import math
from typing import Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .config import PackConfig
from .layers import init_weights


def frames_to_batch(x: torch.Tensor) -> torch.Tensor:
    """[B, C, F, H, W] -> [B·F, C, H, W]."""
    b, c, f, h, w = x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    return x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)  # [B·F, C, H, W]


def batch_to_frames(x: torch.Tensor, b) -> torch.Tensor:
    """[B·F, C, H, W] -> [B, C, F, H, W] for batch size b (a traced size when exporting)."""
    c, h, w = x.shape[1], x.shape[2], x.shape[3]
    return x.reshape(b, -1, c, h, w).permute(0, 2, 1, 3, 4)  # [B, C, F, H, W]


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))  # [N, ch, H, W]


def res_stack(channels: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*[ResBlock(channels) for _ in range(blocks)])


class Encoder(nn.Module):
    def __init__(self, channels: int, latent_channels: int, downsamples: int, blocks: int = 0):
        super().__init__()
        self.conv_in = nn.Conv2d(3, channels, 3, padding=1)
        self.down = nn.ModuleList(
            [nn.Conv2d(channels, channels, 3, stride=2, padding=1) for _ in range(downsamples)]
        )
        self.res = nn.ModuleList([res_stack(channels, blocks) for _ in range(downsamples + 1)])
        self.conv_out = nn.Conv2d(channels, 2 * latent_channels, 3, padding=1)

    def forward(self, pixels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """pixels [B, 3, F, H, W] -> (mean, logvar), each [B, C, F, H/s, W/s]."""
        b = pixels.shape[0]
        x = F.silu(self.conv_in(frames_to_batch(pixels)))  # [B·F, ch, H, W]
        for conv, res in zip(self.down, self.res):
            x = F.silu(conv(res(x)))  # [B·F, ch, H/2^k, W/2^k]
        x = self.res[-1](x)  # [B·F, ch, H/s, W/s]
        mean, logvar = self.conv_out(x).chunk(2, dim=1)  # 2 × [B·F, C, H/s, W/s]
        return batch_to_frames(mean, b), batch_to_frames(logvar, b)  # [B, C, F, H/s, W/s]


class Decoder(nn.Module):
    def __init__(self, channels: int, latent_channels: int, upsamples: int, blocks: int = 0, refine_blocks: int = 0):
        super().__init__()
        self.conv_in = nn.Conv2d(latent_channels, channels, 3, padding=1)
        self.up = nn.ModuleList(
            [nn.Conv2d(channels, channels, 3, padding=1) for _ in range(upsamples)]
        )
        self.res = nn.ModuleList([res_stack(channels, blocks) for _ in range(upsamples + 1)])
        self.refine = res_stack(channels, refine_blocks)
        self.conv_out = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """latents [B, C, F, h, w] -> pixels [B, 3, F, h·s, w·s]."""
        b = latents.shape[0]
        x = F.silu(self.conv_in(frames_to_batch(latents)))  # [B·F, ch, h, w]
        x = self.res[0](x)  # [B·F, ch, h, w]
        for conv, res in zip(self.up, self.res[1:]):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")  # [B·F, ch, 2h, 2w]
            x = res(F.silu(conv(x)))  # [B·F, ch, 2h, 2w]
        x = self.refine(x)  # [B·F, ch, H, W]
        return batch_to_frames(self.conv_out(x), b)  # [B, 3, F, H, W]


class VAE(nn.Module):
    def __init__(self, cfg: PackConfig):
        super().__init__()
        steps = int(math.log2(cfg.spatial_compression))
        self.encoder = Encoder(cfg.vae_channels, cfg.latent_channels, steps, cfg.vae_blocks)
        self.decoder = Decoder(cfg.vae_channels, cfg.latent_channels, steps, cfg.vae_blocks, cfg.vae_refine_blocks)
        init_weights(self, gain=1.5)  # keeps activations O(1) through the SiLU layers
        init_weights(self.decoder.conv_out, gain=0.5)  # pixels of RMS ~0.5 for unit-normal latents
        for block in self.decoder.refine:  # identity at the start
            nn.init.zeros_(block.conv2.weight)
            nn.init.zeros_(block.conv2.bias)

    def encode_mean(self, pixels: torch.Tensor) -> torch.Tensor:
        """Posterior mean [B, C, F', H/s, W/s] of pixels [B, 3, F, H, W] in [-1, 1]."""
        mean, _ = self.encoder(pixels)
        return mean

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """pixels [B, 3, F, H, W] of latents [B, C, F', H', W'] (before scale/shift)."""
        return self.decoder(latents)


def load_vae_state(vae: VAE, state: dict) -> bool:
    """Loads a VAE state dict, also one saved before the decoder's refine blocks were added
    (those keep their identity start). Returns True when the refine blocks were missing."""
    missing, unexpected = vae.load_state_dict(state, strict=False)
    grown = [k for k in missing if k.startswith("decoder.refine.")]
    if unexpected or len(grown) != len(missing):
        raise RuntimeError(f"VAE checkpoint does not fit the config: missing {missing}, unexpected {unexpected}")
    return bool(grown)
