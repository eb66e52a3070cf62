"""Sizes of the FLUX.1 flow transformer (black-forest-labs/flux, src/flux/util.py: FluxParams).

Both released models share one architecture: FLUX.1 [dev] adds a guidance embedding
(`guidance_in`, the distilled guidance scale), FLUX.1 [schnell] has none. The checkpoint holds no
config file: the variant is read from its keys (guidance_in.* present = dev).
"""

from dataclasses import dataclass, replace
from typing import Dict, Optional, Tuple

VARIANTS = ("dev", "schnell")
# 2×2 latent patches are packed into one token (16 latent channels × 4 = 64).
PATCH = 2


class ConfigError(Exception):
    """A FLUX.1 configuration that cannot be built."""


@dataclass(frozen=True)
class FluxConfig:
    """Architecture of one FLUX.1 transformer (the reference's FluxParams, names kept)."""

    name: str
    in_channels: int = 64  # packed latent channels: 16 × 2 × 2
    vec_in_dim: int = 768  # CLIP pooled vector width
    context_in_dim: int = 4096  # T5 sequence width
    hidden_size: int = 3072
    mlp_ratio: float = 4.0
    num_heads: int = 24
    depth: int = 19  # double-stream blocks
    depth_single_blocks: int = 38
    axes_dim: Tuple[int, int, int] = (16, 56, 56)  # rotary channels per id axis (·, row, column)
    theta: int = 10000
    qkv_bias: bool = True
    guidance_embed: bool = True  # True: FLUX.1 [dev]; False: FLUX.1 [schnell]

    @property
    def variant(self) -> str:
        return "dev" if self.guidance_embed else "schnell"

    @property
    def out_channels(self) -> int:
        return self.in_channels

    @property
    def latent_channels(self) -> int:
        return self.in_channels // (PATCH * PATCH)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        return int(self.hidden_size * self.mlp_ratio)

    @property
    def layers(self) -> int:
        """Attention layers with context ports: the double blocks, then the single blocks."""
        return self.depth + self.depth_single_blocks

    def validate(self) -> "FluxConfig":
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"{self.name}: hidden size {self.hidden_size} does not split into {self.num_heads} heads")
        if sum(self.axes_dim) != self.head_dim or any(a % 2 for a in self.axes_dim):
            raise ConfigError(f"{self.name}: rotary axes {self.axes_dim} must be even and sum to the head size {self.head_dim}")
        if self.in_channels % (PATCH * PATCH):
            raise ConfigError(f"{self.name}: in_channels {self.in_channels} is not latent channels × {PATCH}×{PATCH}")
        return self


FLUX_SIZES: Dict[str, FluxConfig] = {
    # FLUX.1 [dev] / [schnell] (src/flux/util.py): 19 double + 38 single blocks, 24 heads × 128.
    "full": FluxConfig(name="full"),
    # A small model of the same structure for tests: 2 + 2 blocks, 2 heads × 32.
    "tiny": FluxConfig(name="tiny", vec_in_dim=32, context_in_dim=32, hidden_size=64, num_heads=2, depth=2, depth_single_blocks=2, axes_dim=(8, 12, 12)),
}


def flux_config(size: str = "full", variant: str = "dev", context_in_dim: Optional[int] = None, vec_in_dim: Optional[int] = None) -> FluxConfig:
    """The FluxConfig of `size` for `variant`, with the text widths replaced when given (a tiny
    pack sets them to its tiny text encoders' widths)."""
    if size not in FLUX_SIZES:
        raise ConfigError(f"size {size!r}: expected one of {', '.join(FLUX_SIZES)}")
    if variant not in VARIANTS:
        raise ConfigError(f"variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    cfg = replace(FLUX_SIZES[size], guidance_embed=variant == "dev")
    if context_in_dim is not None:
        cfg = replace(cfg, context_in_dim=context_in_dim)
    if vec_in_dim is not None:
        cfg = replace(cfg, vec_in_dim=vec_in_dim)
    return cfg.validate()
