"""Sizes of the Wan2.1 text-to-video diffusion transformer (Wan-Video/Wan2.1, wan/configs/).

The released checkpoints carry a `config.json` beside the weights with the fields
`model_type, dim, ffn_dim, freq_dim, num_heads, num_layers, in_dim, out_dim, text_len, eps`;
the patch size, the text width and the norm switches are fixed by the code, not the file.
"""

import json
import os
from dataclasses import dataclass, replace
from typing import Dict, Tuple


class ConfigError(Exception):
    """A config.json that does not describe a Wan2.1 text-to-video transformer."""


@dataclass(frozen=True)
class DiTConfig:
    """Architecture of one Wan2.1 DiT (the reference's WanModel arguments)."""

    name: str
    dim: int  # model width
    ffn_dim: int  # hidden width of each block's feed-forward network
    freq_dim: int  # width of the sinusoidal time features
    heads: int
    layers: int
    in_dim: int = 16  # latent channels in
    out_dim: int = 16  # velocity channels out
    text_dim: int = 4096  # UMT5-XXL embedding width
    text_len: int = 512  # text tokens after padding
    patch: Tuple[int, int, int] = (1, 2, 2)  # (pt, ph, pw)
    eps: float = 1e-6
    qk_norm: bool = True
    cross_attn_norm: bool = True

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def rope_split(self) -> Tuple[int, int, int]:
        """Rotation pairs of one head given to (frames, height, width): of d/2 pairs, height and
        width get ⌊d/6⌋ each (2⌊d/6⌋ channels), frames the rest."""
        half = self.head_dim // 2
        return (half - 2 * (half // 3), half // 3, half // 3)

    def validate(self) -> "DiTConfig":
        d = self.head_dim
        if self.dim % self.heads or d % 2:
            raise ConfigError(f"{self.name}: dim {self.dim} must split into {self.heads} heads of an even size")
        # The reference builds its frequency tables with d - 4⌊d/6⌋ and 2⌊d/6⌋ channels and
        # splits them with ⌊(d/2)/3⌋ pairs: the two agree only when these match.
        if d // 6 != (d // 2) // 3:
            raise ConfigError(f"{self.name}: head size {d} splits its rotary channels inconsistently; use a multiple of 6 or one like 32, 64, 128")
        if any(p < 1 for p in self.patch):
            raise ConfigError(f"{self.name}: patch {self.patch} must be positive")
        return self


DIT_SIZES: Dict[str, DiTConfig] = {
    # Wan2.1-T2V-1.3B (wan/configs/wan_t2v_1_3B.py): 30 layers × 12 heads × 128.
    "1.3b": DiTConfig(name="1.3b", dim=1536, ffn_dim=8960, freq_dim=256, heads=12, layers=30),
    # Wan2.1-T2V-14B (wan/configs/wan_t2v_14B.py): 40 layers × 40 heads × 128.
    "14b": DiTConfig(name="14b", dim=5120, ffn_dim=13824, freq_dim=256, heads=40, layers=40),
    # A small model of the same architecture for tests: 2 layers × 2 heads × 32.
    "tiny": DiTConfig(name="tiny", dim=64, ffn_dim=128, freq_dim=32, heads=2, layers=2, text_dim=32, text_len=16),
}

# config.json fields that must be present and what they map to.
_JSON_FIELDS = {
    "dim": "dim",
    "ffn_dim": "ffn_dim",
    "freq_dim": "freq_dim",
    "num_heads": "heads",
    "num_layers": "layers",
    "in_dim": "in_dim",
    "out_dim": "out_dim",
    "text_len": "text_len",
}


def dit_config_from_json(path: str) -> DiTConfig:
    """The DiTConfig of a release's `config.json`; refuses any model but text-to-video Wan2.1."""
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: missing; expected the transformer's config.json from the Wan2.1 T2V release")
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not a readable JSON file ({e})") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    cls = raw.get("_class_name", "WanModel")
    if cls != "WanModel":
        raise ConfigError(f"{path}: _class_name is {cls!r}, expected 'WanModel' (the original Wan2.1 release layout, not a diffusers conversion)")
    kind = raw.get("model_type", "t2v")
    if kind != "t2v":
        what = {"i2v": "image-to-video", "flf2v": "first-last-frame-to-video", "ti2v": "Wan2.2 text-image-to-video"}.get(kind, kind)
        raise ConfigError(
            f"{path}: model_type {kind!r} ({what}); only the text-to-video model (model_type 't2v') can be exported: "
            "it needs no image embedding or extra latent channels"
        )
    missing = [k for k in _JSON_FIELDS if k not in raw]
    if missing:
        raise ConfigError(f"{path}: lacks {', '.join(missing)}; expected a Wan2.1 transformer config.json")
    values = {}
    for key, field in _JSON_FIELDS.items():
        v = raw[key]
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ConfigError(f"{path}: {key} is {v!r}, expected a positive integer")
        values[field] = v
    if values["in_dim"] != 16 or values["out_dim"] != 16:
        raise ConfigError(
            f"{path}: in_dim {values['in_dim']}, out_dim {values['out_dim']}; the text-to-video model has 16 and 16 "
            "(in_dim 36 is the image-to-video model, which is not supported)"
        )
    eps = float(raw.get("eps", 1e-6))
    name = next((n for n, c in DIT_SIZES.items() if n != "tiny" and all(getattr(c, f) == values[f] for f in values)), "custom")
    return replace(DIT_SIZES["1.3b"], name=name, eps=eps, **values).validate()
