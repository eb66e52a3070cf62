"""FLUX.1's two text encoders as its reference runs them (black-forest-labs/flux, HFEmbedder):
transformers' T5EncoderModel (google/t5-v1_1-xxl, the release's text_encoder_2/) and
CLIPTextModel (openai/clip-vit-large-patch14, text_encoder/), both without an attention mask,
loaded strictly from a transformers folder in float32 and exported as the pack's graphs:

  t5_encoder.onnx    input_ids int64 [B, L] → text float32 [B, L, 4096]   (last_hidden_state;
                     the pad tokens are attended, as the reference does)
  clip_encoder.onnx  input_ids int64 [B, 77] → pooled float32 [B, 768]    (pooler_output: the
                     final-layer-normed hidden state at the first <|endoftext|>)

A transformers folder: config.json and the weights (model.safetensors, or
model.safetensors.index.json and its shards, or pytorch_model.bin). Keys the model does not have
are refused except the other halves of a full checkpoint: T5's decoder and lm_head
(T5ForConditionalGeneration), CLIP's vision tower, projections and logit scale (CLIPModel).
"""

import json
import os
from dataclasses import dataclass
from typing import List

import torch
from torch import nn

from ..checkpoint import (
    CheckpointError,
    StateDict,
    check_safetensors_complete,
    check_torch_file_complete,
    file_shapes,
    read_json,
    read_safetensors,
    read_safetensors_index,
    read_torch_file,
    refuse_mismatches,
)
from ..onnx_export import export_graph

KINDS = ("t5", "clip")
SINGLE_FILE, INDEX_FILE, BIN_FILE = "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"
WHAT = {
    "t5": "FLUX.1's T5 text encoder (text_encoder_2/, google/t5-v1_1-xxl: T5EncoderModel)",
    "clip": "FLUX.1's CLIP text encoder (text_encoder/, openai/clip-vit-large-patch14: CLIPTextModel)",
}
# config.json model types each kind accepts (a full CLIP config holds the text model's in text_config)
MODEL_TYPES = {"t5": ("t5",), "clip": ("clip_text_model", "clip")}


@dataclass(frozen=True)
class T5Size:
    vocab: int
    d_model: int
    d_kv: int
    d_ff: int
    layers: int
    heads: int


@dataclass(frozen=True)
class ClipSize:
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    positions: int = 77
    projection: int = 768


# 'xxl' / 'large' as the release's; 'tiny' for tests (vocabularies of the test tokenizers).
T5_SIZES = {"xxl": T5Size(32128, 4096, 64, 10240, 24, 64), "tiny": T5Size(2100, 32, 8, 64, 2, 4)}
CLIP_SIZES = {"large": ClipSize(49408, 768, 3072, 12, 12), "tiny": ClipSize(2048, 32, 64, 2, 4, projection=32)}


def t5_config(size: T5Size):
    """T5 v1.1's encoder settings (gated GELU, no tied head, 32 buckets up to distance 128)."""
    from transformers import T5Config

    return T5Config(
        vocab_size=size.vocab, d_model=size.d_model, d_kv=size.d_kv, d_ff=size.d_ff, num_layers=size.layers, num_heads=size.heads,
        feed_forward_proj="gated-gelu", relative_attention_num_buckets=32, relative_attention_max_distance=128,
        dropout_rate=0.0, layer_norm_epsilon=1e-6, tie_word_embeddings=False, is_encoder_decoder=False, use_cache=False,
    )


def clip_config(size: ClipSize):
    """CLIP ViT-L/14's text settings (quick GELU; eos_token_id 2 as the release's config has it,
    which makes the pooler take the position of the largest id: <|endoftext|>, CLIP's last id)."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=size.vocab, hidden_size=size.hidden, intermediate_size=size.intermediate, num_hidden_layers=size.layers,
        num_attention_heads=size.heads, max_position_embeddings=size.positions, hidden_act="quick_gelu", layer_norm_eps=1e-5,
        projection_dim=size.projection, bos_token_id=0, eos_token_id=2, pad_token_id=1, attention_dropout=0.0,
    )


def _module(kind: str, config) -> nn.Module:
    from transformers import CLIPTextModel, T5EncoderModel

    config._attn_implementation = "eager"
    model = (T5EncoderModel if kind == "t5" else CLIPTextModel)(config)
    return model.float().eval()


def build_random(kind: str, size: str, seed: int = 0) -> nn.Module:
    """A float32 encoder of the given size with transformers' random initialisation."""
    sizes = T5_SIZES if kind == "t5" else CLIP_SIZES
    if size not in sizes:
        raise ValueError(f"unknown {kind} size {size!r}: expected one of {sorted(sizes)}")
    torch.manual_seed(seed)
    return _module(kind, t5_config(sizes[size]) if kind == "t5" else clip_config(sizes[size]))


# ---------------------------------------------------------------------------------------------
# Folders: config and weights


def _read_config(folder: str, kind: str):
    """The folder's config.json as the transformers config of `kind` (checked model type)."""
    from transformers import CLIPTextConfig, T5Config

    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: missing; expected {WHAT[kind]}'s config.json")
    raw = read_json(path)
    model_type = raw.get("model_type")
    if model_type not in MODEL_TYPES[kind]:
        other = next((k for k in KINDS if model_type in MODEL_TYPES[k]), None)
        hint = f" (a {other.upper()} model: is this the other text encoder's folder?)" if other else ""
        raise CheckpointError(f"{path}: model_type {model_type!r}{hint}; expected {WHAT[kind]} (model_type {' or '.join(map(repr, MODEL_TYPES[kind]))})")
    if kind == "t5":
        config = T5Config.from_dict(raw)
        if config.is_gated_act is not True:
            raise CheckpointError(f"{path}: feed_forward_proj {config.feed_forward_proj!r}; expected T5 v1.1's 'gated-gelu'")
        config.dropout_rate, config.use_cache, config.is_encoder_decoder = 0.0, False, False
        return config
    text = raw.get("text_config", {}) if model_type == "clip" else raw
    return CLIPTextConfig.from_dict({k: v for k, v in text.items() if k != "model_type"})


def weight_file(folder: str, kind: str) -> str:
    """The folder's weights: model.safetensors.index.json (sharded), model.safetensors or pytorch_model.bin."""
    for name in (INDEX_FILE, SINGLE_FILE, BIN_FILE):
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    shards = [n for n in os.listdir(folder) if n.startswith("model-") and n.endswith(".safetensors")] if os.path.isdir(folder) else []
    if shards:
        raise CheckpointError(f"{os.path.join(folder, INDEX_FILE)}: missing; the folder holds {len(shards)} shards but not the index naming each key's shard: download it")
    raise CheckpointError(f"{folder}: has no {SINGLE_FILE}, {INDEX_FILE} or {BIN_FILE}; expected {WHAT[kind]}'s weights")


def _check_complete(path: str) -> None:
    """Every byte the weight files promise is there (headers and zip directories only)."""
    if path.endswith(".index.json"):
        try:
            with open(path, encoding="utf-8") as f:
                shards = sorted(set(json.load(f)["weight_map"].values()))
        except Exception as e:
            raise CheckpointError(f"{path}: not a safetensors index with a weight_map ({e})") from e
        for shard in shards:
            shard_path = os.path.join(os.path.dirname(path), shard)
            if not os.path.isfile(shard_path):
                raise CheckpointError(f"{shard_path}: missing; {os.path.basename(path)} names it as a shard: download it")
            check_safetensors_complete(shard_path)
    elif path.endswith(".safetensors"):
        check_safetensors_complete(path)
    else:
        check_torch_file_complete(path)


def _read_weights(path: str) -> StateDict:
    if path.endswith(".index.json"):
        return read_safetensors_index(path)
    if path.endswith(".safetensors"):
        return read_safetensors(path)
    return read_torch_file(path)


# ---------------------------------------------------------------------------------------------
# Strict key matching


def _other_half(kind: str, key: str) -> bool:
    """Keys of a full checkpoint that are not the text encoder's (and an old buffer)."""
    if kind == "t5":
        return key.startswith(("decoder.", "lm_head."))
    return key.startswith(("vision_model.", "visual_projection.", "text_projection.")) or key in ("logit_scale", "embeddings.position_ids")


def _renamed(kind: str, state: StateDict) -> StateDict:
    """Release key names → the module's: CLIP's text keys lose their "text_model." prefix
    (transformers 5's CLIPTextModel has none); T5's token embedding may be saved under either of
    its tied names."""
    if kind == "clip":
        return {k[len("text_model.") :] if k.startswith("text_model.") else k: v for k, v in state.items()}
    state = dict(state)
    for a, b in (("shared.weight", "encoder.embed_tokens.weight"), ("encoder.embed_tokens.weight", "shared.weight")):
        if a in state and b not in state:
            state[b] = state[a]
    return state


def match_keys(kind: str, module: nn.Module, state: StateDict, source: str) -> StateDict:
    """`state` renamed to the module's keys, with the other half of a full checkpoint dropped;
    one CheckpointError names every missing key, unexpected key and shape mismatch."""
    state = _renamed(kind, state)
    expected = {k: v for k, v in module.state_dict().items()}
    buffers = {n for n, _ in module.named_buffers()}
    missing = [k for k in expected if k not in state and k not in buffers]
    unexpected = [k for k in state if k not in expected and not _other_half(kind, k)]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})" for k, v in expected.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    refuse_mismatches(source, f"{WHAT[kind]} as its config.json describes it", missing, unexpected, wrong)
    return {k: state[k] for k in expected if k in state}


def check_text_folder(folder: str, kind: str) -> List[str]:
    """What is wrong with a text-encoder folder of `kind` ('t5' or 'clip'), read from config.json
    and the weights' headers only (nothing is loaded): the config's model type, missing or
    incomplete weight files, keys and shapes against the model the config describes."""
    if kind not in KINDS:
        raise ValueError(f"unknown text encoder {kind!r}: expected one of {KINDS}")
    if not os.path.isdir(folder):
        return [f"{folder}: not a folder; expected {WHAT[kind]}"]
    try:
        config = _read_config(folder, kind)
        path = weight_file(folder, kind)
        _check_complete(path)
        with torch.device("meta"):
            module = _module(kind, config)
        match_keys(kind, module, file_shapes(path), path)
    except CheckpointError as e:
        return [str(e)]
    except Exception as e:  # an unreadable header
        return [f"{folder}: the weights cannot be read ({e})"]
    return []


def load_text_encoder(folder: str, kind: str) -> nn.Module:
    """The encoder of a transformers folder, strictly loaded, in float32 (built on the meta device
    and given the file's tensors, so the weights are held once)."""
    problems = check_text_folder(folder, kind)
    if problems:
        raise CheckpointError(problems[0])
    config = _read_config(folder, kind)
    path = weight_file(folder, kind)
    with torch.device("meta"):
        module = _module(kind, config)
    state = match_keys(kind, module, _read_weights(path), path)
    tied: dict = {}  # keys of one tensor (T5's token embedding under both names) get one float32 copy
    for k, v in state.items():
        tied.setdefault(id(v), []).append(k)
    for keys in tied.values():
        v = state[keys[0]]
        v = v.float() if v.is_floating_point() else v
        for k in keys:
            state[k] = v  # the file's tensor is released as it is replaced
    module.load_state_dict(state, strict=False, assign=True)
    _restore_buffers(module)
    return module.float().eval()


def _restore_buffers(module: nn.Module) -> None:
    """Non-persistent buffers stay on the meta device after an assigning load: rebuild them."""
    emb = getattr(module, "embeddings", None)
    if emb is not None and getattr(emb, "position_ids", None) is not None and emb.position_ids.is_meta:
        n = emb.position_embedding.weight.shape[0]
        emb.register_buffer("position_ids", torch.arange(n).expand((1, -1)), persistent=False)
    left = [n for n, b in module.named_buffers() if b.is_meta] + [n for n, p in module.named_parameters() if p.is_meta]
    if left:
        raise CheckpointError(f"tensors left unloaded: {left[:5]}")


# ---------------------------------------------------------------------------------------------
# Graphs


class T5TextGraph(nn.Module):
    """input_ids int64 [B, L] → text float32 [B, L, D]: the encoder's last hidden state, run
    without an attention mask as the reference runs it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids).last_hidden_state  # [B, L, D]


class ClipPooledGraph(nn.Module):
    """input_ids int64 [B, 77] → pooled float32 [B, P]: CLIPTextModel's pooler_output (the
    final-layer-normed hidden state at <|endoftext|>), run without an attention mask."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids).pooler_output  # [B, P]


def text_width(model: nn.Module) -> int:
    return model.config.d_model if hasattr(model.config, "d_model") else model.config.hidden_size


def export_t5_encoder(model: nn.Module, out_dir: str, trace_tokens: int = 16) -> str:
    """Write `out_dir`/t5_encoder.onnx (batch and token count dynamic). Returns its path."""
    vocab = model.config.vocab_size
    ids = torch.randint(3, vocab, (2, trace_tokens), generator=torch.Generator().manual_seed(0))  # [2, L]
    ids[:, -1] = 1  # </s>
    path = os.path.join(out_dir, "t5_encoder.onnx")
    export_graph(T5TextGraph(model), (ids,), path, inputs={"input_ids": ["batch", "tokens"]}, outputs={"text": ["batch", "tokens", text_width(model)]})
    return path


def export_clip_encoder(model: nn.Module, out_dir: str, eos_id: int) -> str:
    """Write `out_dir`/clip_encoder.onnx (batch dynamic, the 77 positions fixed). Traced with
    prompts of different lengths padded with `eos_id`. Returns its path."""
    L = model.config.max_position_embeddings
    vocab = model.config.vocab_size
    ids = torch.randint(1, eos_id, (2, L), generator=torch.Generator().manual_seed(0))  # [2, L]
    ids[0, 5:] = eos_id
    ids[1, L // 2 :] = eos_id
    path = os.path.join(out_dir, "clip_encoder.onnx")
    width = model.config.hidden_size
    if vocab <= eos_id:
        raise CheckpointError(f"<|endoftext|> is id {eos_id} but CLIP's token embedding has {vocab} rows")
    export_graph(ClipPooledGraph(model), (ids,), path, inputs={"input_ids": ["batch", L]}, outputs={"pooled": ["batch", width]})
    return path
