"""Configuration of one model pack: the network sizes and the pack-level constraints.

Named configurations are built by the factories in `CONFIGS` (as in DiT's model table).
"""

from dataclasses import dataclass, replace
from typing import Callable, Dict, Optional, Tuple, Union

# The word vocabulary of the small test tokenizer (see tokenizer.py); ids start after
# the two special tokens [PAD] = 0 and [UNK] = 1.
COLOURS = (
    "red", "orange", "yellow", "green", "cyan", "blue",
    "purple", "pink", "white", "black", "gray", "brown",
)
SHAPES = ("circle", "square", "triangle", "star", "ring", "cross", "diamond", "heart", "hexagon")
BACKGROUNDS = ("background", "plain", "stripes", "striped", "checks", "checkered", "gradient", "dots")
SMALL_WORDS = (
    "a", "an", "the", "on", "and", "with", "of", "in", "one", "two", "three",
    "big", "small", "large", "left", "right", "top", "bottom", "moving", "photo",
)
SHAPE_WORDS = COLOURS + SHAPES + BACKGROUNDS + SMALL_WORDS


@dataclass
class PackConfig:
    """Everything that fixes the architecture of one pack and its manifest constraints."""

    name: str
    # Latent space: C channels; a VAE compresses space by s (a power of 2, one stride-2
    # convolution per factor 2) and time by r. Without a VAE the latent is the image (C = 3, s = 1).
    latent_channels: int
    vae: bool
    spatial_compression: int
    temporal_compression: int = 1
    vae_channels: int = 16
    vae_blocks: int = 0  # residual blocks per resolution
    vae_refine_blocks: int = 0  # extra decoder residual blocks at full resolution (see vae.py)
    # Transformer (DiT): patch [pt, ph, pw], width dim, layers × heads × head_dim.
    patch: Tuple[int, int, int] = (1, 2, 2)
    dim: int = 32
    layers: int = 3
    heads: int = 2
    head_dim: int = 16
    mlp_ratio: float = 2.0
    freq_dim: int = 64  # width of the sinusoidal timestep/guidance features
    context_layers: Tuple[int, ...] = (0,)
    # Convolutional head (dit.ConvHead): convolutions of this width at latent resolution after the
    # patch projection, fed k = conv_head_features features per latent cell; 0 = none.
    conv_head_channels: int = 0
    conv_head_features: int = 8
    text_mode: str = "joint"  # 'joint' | 'cross' | 'none' (unconditional: no text at all)
    guidance: str = "cfg"  # 'cfg' | 'distilled'
    # Text encoder: L token ids per prompt, D-wide embeddings (unused when text_mode is 'none').
    max_tokens: int = 8
    text_dim: int = 32
    text_layers: int = 1
    text_heads: int = 2
    vocab: Tuple[str, ...] = SHAPE_WORDS
    # Pack constraints written to the manifest.
    max_pixels: Optional[int] = 65536
    default_size: Optional[Tuple[int, int]] = (64, 64)  # [width, height]
    frames_max: Optional[int] = None  # None: stills only
    frames_step: int = 1
    # One number, or (format 2) one per latent channel: z[c] = (mean[c] - shift[c]) * scale[c].
    latent_scale: Union[float, Tuple[float, ...]] = 1.0
    latent_shift: Union[float, Tuple[float, ...]] = 0.0
    schedule_shift: float = 1.0
    # Pack format 2 (docs/model-pack.md). Each option below needs format_version 2.
    format_version: int = 1
    text_attention_mask: bool = False  # text encoder takes attention_mask [B, L]; padded rows of its output are zero
    text_mask: bool = False  # transformer takes text_mask [B, L] and masks padded text keys with it
    pooled_dim: int = 0  # P > 0: the text encoder also outputs a pooled vector [B, P], added to the DiT's conditioning
    text_eos: bool = False  # the tokenizer's post-processor ends every prompt with [EOS]
    text_overflow: Optional[str] = None  # manifest text.overflow: 'refuse' | 'truncate'
    text_unknown: Optional[str] = None  # manifest text.unknown: 'refuse' | 'keep'
    text_clean: Optional[str] = None  # manifest text.clean: 'none' | 'wan'
    negative_prompt: Optional[str] = None  # manifest text.negativePrompt
    # Training only (the graph is the same): adaLN-Zero (DiT): every block's modulation and the final
    # layer's modulation and projection start at zero, so each block starts as the identity and the
    # velocity as 0. False: random everywhere (the test packs, where a random model must respond).
    zero_init: bool = False

    def __post_init__(self) -> None:
        if self.text_mode not in ("joint", "cross", "none"):
            raise ValueError(f"text_mode must be 'joint', 'cross' or 'none', got {self.text_mode!r}")
        if self.guidance not in ("cfg", "distilled"):
            raise ValueError(f"guidance must be 'cfg' or 'distilled', got {self.guidance!r}")
        if self.text_mode == "none" and self.guidance != "cfg":
            raise ValueError("an unconditional model (text_mode 'none') takes no guidance input: use 'cfg'")
        s = self.spatial_compression
        if s < 1 or s & (s - 1):
            raise ValueError(f"spatial_compression must be a power of 2, got {s}")
        if not self.vae and (s != 1 or self.latent_channels != 3 or self.temporal_compression != 1):
            raise ValueError("pixel space needs latent_channels 3 and compression 1")
        if self.temporal_compression != 1:
            raise ValueError(f"temporal_compression {self.temporal_compression} is not supported by this VAE; use 1 (frames are encoded one by one)")
        cl = list(self.context_layers)
        if not cl or cl != sorted(set(cl)) or cl[0] < 0 or cl[-1] >= self.layers:
            raise ValueError(f"bad context_layers {self.context_layers} for {self.layers} layers")
        if self.heads * self.head_dim != self.dim:
            raise ValueError("heads × head_dim must equal dim")
        if self.image_multiple % self.patch[2]:
            raise ValueError("image multiple must also be a multiple of the patch width")
        if self.format_version not in (1, 2):
            raise ValueError(f"format_version must be 1 or 2, got {self.format_version}")
        v2 = {
            "per-channel latent_scale": not isinstance(self.latent_scale, (int, float)),
            "per-channel latent_shift": not isinstance(self.latent_shift, (int, float)),
            "text_attention_mask": self.text_attention_mask,
            "text_mask": self.text_mask,
            "pooled_dim": self.pooled_dim > 0,
            "text_overflow": self.text_overflow is not None,
            "text_unknown": self.text_unknown is not None,
            "text_clean": self.text_clean is not None,
            "negative_prompt": self.negative_prompt is not None,
        }
        used = [k for k, on in v2.items() if on]
        if used and self.format_version != 2:
            raise ValueError(f"{', '.join(used)} need format_version 2")
        for name in ("latent_scale", "latent_shift"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) and len(v) != self.latent_channels:
                raise ValueError(f"{name} needs one value per latent channel ({self.latent_channels}), got {len(v)}")
        if not self.has_text and (self.text_attention_mask or self.text_mask or self.pooled_dim or self.text_eos):
            raise ValueError("an unconditional model has no text to mask, pool or end")

    @property
    def has_text(self) -> bool:
        """False for an unconditional model: no text encoder, tokenizer or `text` input."""
        return self.text_mode != "none"

    @property
    def vocab_size(self) -> int:
        return len(self.specials) + len(self.vocab)  # [PAD], [UNK] (, [EOS]), then the words

    @property
    def specials(self) -> Tuple[str, ...]:
        """The tokenizer's special tokens, ids 0, 1, ..."""
        from .tokenizer import specials_of

        return specials_of(self.text_eos)

    @property
    def image_multiple(self) -> int:
        """Working height/width multiple: s · ph."""
        return self.spatial_compression * self.patch[1]


def tiny() -> PackConfig:
    """Latent-space test model: s = 4 VAE, joint text, classifier-free guidance."""
    return PackConfig(
        name="tiny",
        latent_channels=4,
        vae=True,
        spatial_compression=4,
        patch=(1, 2, 2),
        dim=32,
        layers=3,
        heads=2,
        head_dim=16,
        context_layers=(0, 1, 2),
        text_mode="joint",
        guidance="cfg",
        max_tokens=8,
        text_dim=32,
        frames_max=9,
        frames_step=1,
    )


def tiny_pixel() -> PackConfig:
    """Pixel-space test model: no VAE, cross-attention text, distilled guidance."""
    return PackConfig(
        name="tiny-pixel",
        latent_channels=3,
        vae=False,
        spatial_compression=1,
        patch=(1, 8, 8),
        dim=32,
        layers=2,
        heads=2,
        head_dim=16,
        context_layers=(0, 1),
        text_mode="cross",
        guidance="distilled",
        max_tokens=8,
        text_dim=32,
    )


def tiny_uncond() -> PackConfig:
    """Unconditional pixel-space test model: no VAE, no text encoder, no guidance input."""
    return PackConfig(
        name="tiny-uncond",
        latent_channels=3,
        vae=False,
        spatial_compression=1,
        patch=(1, 4, 4),
        dim=32,
        layers=2,
        heads=2,
        head_dim=16,
        context_layers=(0, 1),
        text_mode="none",
        guidance="cfg",
        max_pixels=65536,
        default_size=(64, 64),
    )


def flowedit_tiny(dim: int = 128, layers: int = 8, conv_head_channels: int = 0, latent_channels: int = 4,
                  patch: Tuple[int, int, int] = (1, 4, 4)) -> PackConfig:
    """The built-in model: 128×128 stills and clips of the scene world (scenes/world.json).

    VAE s = 4 with `latent_channels` latent channels (32×32×4 per frame for the committed pack,
    frames encoded one by one), a DiT
    with `patch` (the committed [1, 4, 4]: 64 tokens per frame) of `layers` blocks `dim` wide (heads
    of 32, all of them context layers), joint text of up to 16 words, CFG.
    """
    from flowedit_scenes.world import vocabulary  # the caption grammar's words

    return PackConfig(
        name="flowedit-tiny",
        latent_channels=latent_channels,
        vae=True,
        spatial_compression=4,
        vae_channels=48,
        vae_blocks=1,
        vae_refine_blocks=2,
        patch=patch,
        dim=dim,
        layers=layers,
        heads=dim // 32,
        head_dim=32,
        mlp_ratio=4.0,
        freq_dim=128,
        context_layers=tuple(range(layers)),
        conv_head_channels=conv_head_channels,
        text_mode="joint",
        guidance="cfg",
        max_tokens=16,
        text_dim=128,
        text_layers=2,
        text_heads=4,
        vocab=tuple(vocabulary()),
        max_pixels=128 * 128,  # trained at 128×128: larger inputs are scaled down to it and back
        default_size=(128, 128),
        frames_max=17,
        frames_step=1,
    )


def flowedit_tiny_wide() -> PackConfig:
    """flowedit-tiny's VAE, text encoder and token grid with a transformer 192 wide and 10 deep
    (2.6 times the parameters) and a convolutional head of 48 channels: for CUDA runs, where a larger
    transformer learns more from each sample (docs/lab/built-in-model.md, "Trials on the shape words")."""
    return flowedit_tiny(dim=192, layers=10, conv_head_channels=48)


def flowedit_tiny_convhead() -> PackConfig:
    """flowedit-tiny with a convolutional head of 48 channels (dit.ConvHead) after its patch
    projection: a checkpoint of flowedit-tiny loads into it with the head at zero."""
    return flowedit_tiny(conv_head_channels=48)


def flowedit_tiny_c8() -> PackConfig:
    """flowedit-tiny with 8 latent channels at the same compression (32×32×8 per frame): a VAE that
    keeps more of each 4 × 4 pixel cell (docs/lab/built-in-model.md, "The VAE: what the round trip loses"). Its
    patches are 4 × 4 × 8 = 128 numbers, the transformer's width."""
    return flowedit_tiny(latent_channels=8)


def flowedit_tiny_p2() -> PackConfig:
    """flowedit-tiny with patches of 2 × 2 latent cells, 8 × 8 pixels (256 tokens per frame), so an
    object 23 to 44 pixels across spans 3 to 6 tokens a side instead of 1.5 to 3
    (docs/lab/built-in-model.md, "Finer patches")."""
    return flowedit_tiny(patch=(1, 2, 2))


def flowedit_pixel(size: int = 64, patch: int = 4, dim: int = 256, layers: int = 6) -> PackConfig:
    """The pixel-space scene-world model: no VAE (the transformer sees the image in [-1, 1]),
    `size`×`size` stills and clips of up to 9 frames a pass (longer ones in overlapping windows), patches of `patch` × `patch` pixels ((size/patch)² tokens a frame:
    256 at 64×64 with patch 4), joint text of up to 16 words whose mean (the pooled caption, format 2)
    is added to the conditioning, adaLN-Zero. dim 256 × 6 layers keeps the EMA weights in half
    precision under 16 MiB (what a remote run may bring back in one file)."""
    from flowedit_scenes.world import vocabulary  # the caption grammar's words

    name = "flowedit-pixel" if size == 64 else f"flowedit-pixel-{size}"
    return PackConfig(
        name=name,
        latent_channels=3,
        vae=False,
        spatial_compression=1,
        patch=(1, patch, patch),
        dim=dim,
        layers=layers,
        heads=dim // 32,
        head_dim=32,
        mlp_ratio=4.0,
        freq_dim=128,
        context_layers=tuple(range(layers)),
        text_mode="joint",
        guidance="cfg",
        max_tokens=16,
        text_dim=128,
        text_layers=2,
        text_heads=4,
        vocab=tuple(vocabulary()),
        max_pixels=size * size,  # trained at size×size: larger inputs are scaled down to it and back
        default_size=(size, size),
        frames_max=9,  # 2 304 tokens a pass: the explicit attention of 17 frames (4 352) outgrows a CPU's memory
        frames_step=1,
        format_version=2,
        pooled_dim=128,
        zero_init=True,
    )


def flowedit_pixel_32() -> PackConfig:
    """The CPU pilot of flowedit-pixel: 32×32 stills, patch 4 (64 tokens a frame), a transformer 128
    wide and 4 deep. Patch 4 rather than 2 (256 tokens, the token count of flowedit-pixel): on one
    CPU thread it trains 10 times as many samples a second (docs/lab/built-in-model.md, "Pixel-space pilot")."""
    return flowedit_pixel(size=32, patch=4, dim=128, layers=4)


def tiny_v2() -> PackConfig:
    """Format 2 test model: tiny's latent-space DiT with joint text, plus a text attention_mask
    input, a text_mask transformer input, a pooled text vector, an [EOS] token, per-channel latent
    normalisation, long prompts truncated and unknown words refused."""
    return replace(
        tiny(),
        name="tiny-v2",
        latent_scale=(0.8, 1.25, 0.5, 2.0),
        latent_shift=(0.1, -0.2, 0.3, 0.0),
        schedule_shift=2.0,
        format_version=2,
        text_attention_mask=True,
        text_mask=True,
        pooled_dim=24,
        text_eos=True,
        text_overflow="truncate",
        text_unknown="refuse",
        text_clean="wan",
        negative_prompt="gray stripes",
    )


CONFIGS: Dict[str, Callable[[], PackConfig]] = {
    "tiny": tiny,
    "tiny-v2": tiny_v2,
    "tiny-pixel": tiny_pixel,
    "tiny-uncond": tiny_uncond,
    "flowedit-tiny": flowedit_tiny,
    "flowedit-tiny-wide": flowedit_tiny_wide,
    "flowedit-tiny-convhead": flowedit_tiny_convhead,
    "flowedit-tiny-c8": flowedit_tiny_c8,
    "flowedit-tiny-p2": flowedit_tiny_p2,
    "flowedit-pixel": flowedit_pixel,
    "flowedit-pixel-32": flowedit_pixel_32,
}
