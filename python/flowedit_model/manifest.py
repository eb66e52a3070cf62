"""The pack manifest (`manifest.json`, docs/model-pack.md section 2) of a config: format 1, or
format 2 when the config says so (its format 2 fields are written only then)."""

from typing import Optional

from .config import PackConfig
from .tokenizer import PAD_ID

TRANSFORMER_FILE = "transformer.onnx"
TEXT_ENCODER_FILE = "text_encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
VAE_ENCODER_FILE = "vae_encoder.onnx"
VAE_DECODER_FILE = "vae_decoder.onnx"


def build_manifest(
    cfg: PackConfig,
    pack_id: str,
    name: str,
    defaults: Optional[dict] = None,
    description: Optional[str] = None,
    license: Optional[str] = None,
) -> dict:
    image = {"multiple": cfg.image_multiple}
    if cfg.max_pixels is not None:
        image["maxPixels"] = cfg.max_pixels
    if cfg.default_size is not None:
        image["defaultSize"] = list(cfg.default_size)

    manifest = {"format": "flowedit.pack", "formatVersion": cfg.format_version, "id": pack_id, "name": name}
    if description is not None:
        manifest["description"] = description
    if license is not None:
        manifest["license"] = license
    manifest["image"] = image
    if cfg.frames_max is not None:
        manifest["frames"] = {"max": cfg.frames_max, "step": cfg.frames_step}
    manifest["latent"] = {
        "channels": cfg.latent_channels,
        "spatialCompression": cfg.spatial_compression,
        "temporalCompression": cfg.temporal_compression,
        "scale": _channel_values(cfg.latent_scale),
        "shift": _channel_values(cfg.latent_shift),
    }
    manifest["schedule"] = {"shift": {"kind": "static", "value": cfg.schedule_shift}}
    manifest["transformer"] = {
        "file": TRANSFORMER_FILE,
        "patchSize": list(cfg.patch),
        "layers": cfg.layers,
        "heads": cfg.heads,
        "headDim": cfg.head_dim,
        "contextLayers": list(cfg.context_layers),
        "text": cfg.text_mode,
        "guidance": cfg.guidance,
    }
    if cfg.text_mask:
        manifest["transformer"]["textMask"] = True
    if cfg.has_text:  # an unconditional pack (transformer.text "none") has no text section
        manifest["text"] = {
            "encoder": TEXT_ENCODER_FILE,
            "tokenizer": TOKENIZER_FILE,
            "maxTokens": cfg.max_tokens,
            "dim": cfg.text_dim,
            "padId": PAD_ID,
        }
        text = manifest["text"]
        if cfg.text_attention_mask:
            text["attentionMask"] = True
        for key, value in (("overflow", cfg.text_overflow), ("unknown", cfg.text_unknown), ("clean", cfg.text_clean),
                           ("negativePrompt", cfg.negative_prompt)):
            if value is not None:
                text[key] = value
        if cfg.pooled_dim > 0:
            text["pooledDim"] = cfg.pooled_dim
    if cfg.vae:
        manifest["vae"] = {"encoder": VAE_ENCODER_FILE, "decoder": VAE_DECODER_FILE}
    if defaults:
        share = defaults.get("shareLayers", [])
        if not set(share) <= set(cfg.context_layers):
            raise ValueError(
                f"defaults.shareLayers {share} must be a subset of {list(cfg.context_layers)}"
            )
        if "shareText" in defaults and cfg.format_version != 2:
            raise ValueError("defaults.shareText is a format 2 field: set format_version 2")
        manifest["defaults"] = dict(defaults)
    return manifest


def _channel_values(v):
    """A latent scale or shift as the manifest writes it: a number, or a list per channel."""
    return v if isinstance(v, (int, float)) else [float(x) for x in v]
