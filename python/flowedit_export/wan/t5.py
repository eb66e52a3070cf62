"""Wan2.1's text encoder: the UMT5 encoder as the release writes it (`wan/modules/t5.py`,
parameter names of `models_t5_umt5-xxl-enc-bf16.pth`), in float32 for ONNX.

Architecture (T5 v1.1 / UMT5 encoder):
  x⁰ = E[ids]                                                    token embedding, no scaling
  per layer l:  x ← x + Wₒ·Attn(RMS(x) W_q, RMS(x) W_k, RMS(x) W_v; b_l + mask)
                x ← x + W₂·(GELU_tanh(RMS(x) W_g) ⊙ RMS(x) W₁)
  y = RMS(x)                                                     final norm
  Attn(q, k, v; b) = softmax(q kᵀ + b) v                        no 1/√d scaling (T5)
  RMS(x) = x / √(mean(x²) + ε) · w,  ε = 1e-6
b_l [h, L, L] is layer l's own relative position bias (UMT5: not shared between layers), looked
up by the bidirectional T5 bucket of j − i (32 buckets, max distance 128). Key positions where the
attention mask is 0 get the float32 minimum instead of b_l (as the reference's masked_fill does).

Parameter names (those of the release file):
  token_embedding.weight [V, D]
  blocks.{l}.norm1.weight, blocks.{l}.attn.{q,k,v}.weight [D_attn, D], blocks.{l}.attn.o.weight [D, D_attn]
  blocks.{l}.norm2.weight, blocks.{l}.ffn.gate.0.weight, blocks.{l}.ffn.fc1.weight [F, D], blocks.{l}.ffn.fc2.weight [D, F]
  blocks.{l}.pos_embedding.embedding.weight [buckets, h]
  norm.weight [D]
"""

import math
import os
from dataclasses import dataclass, replace
from typing import Optional

import torch
from torch import nn

from ..checkpoint import CheckpointError, load_strict, read_torch_file
from ..onnx_export import export_graph


@dataclass(frozen=True)
class T5Config:
    vocab: int
    dim: int
    dim_attn: int
    dim_ffn: int
    heads: int
    layers: int
    buckets: int = 32
    max_dist: int = 128
    eps: float = 1e-6


# 'xxl' as the reference's umt5_xxl(); 'tiny' for tests (its vocabulary: the test tokenizer's).
T5_SIZES = {
    "xxl": T5Config(vocab=256384, dim=4096, dim_attn=4096, dim_ffn=10240, heads=64, layers=24),
    "tiny": T5Config(vocab=4096, dim=32, dim_attn=32, dim_ffn=64, heads=2, layers=2),
}

T5_FILE_WHAT = "Wan2.1's UMT5-XXL encoder (models_t5_umt5-xxl-enc-bf16.pth)"


def relative_bucket(rel: torch.Tensor, buckets: int, max_dist: int) -> torch.Tensor:
    """T5's bidirectional bucket of relative positions rel = j − i (int64 → int64): half the buckets
    for keys after the query, exact buckets up to max_exact = buckets/4, then logarithmic ones up to
    max_dist, the last one beyond. float32 log as the reference computes it."""
    half = buckets // 2
    max_exact = half // 2
    offset = (rel > 0).long() * half  # keys after the query use the upper half
    dist = rel.abs()
    # log(0) of the exact range is never selected; clamping keeps it finite. Same operation order as
    # the reference (float32 log, then ÷ log(max_dist/max_exact), then × the log buckets' count).
    far = max_exact + (torch.log(dist.float().clamp(min=1) / max_exact) / math.log(max_dist / max_exact) * (half - max_exact)).long()
    far = far.clamp(max=half - 1)
    return offset + torch.where(dist < max_exact, dist, far)


def bucket_table(buckets: int, max_dist: int) -> torch.Tensor:
    """relative_bucket for rel = −max_dist … max_dist (int64 [2·max_dist + 1]); every |rel| ≥ max_dist
    falls in the last bucket of its side, so clamping rel to ±max_dist and looking up is exact."""
    return relative_bucket(torch.arange(-max_dist, max_dist + 1), buckets, max_dist)


def reference_bucket(rel: torch.Tensor, buckets: int, max_dist: int) -> torch.Tensor:
    """The reference's formula written out as it is (for checks): float32 log of rel/max_exact."""
    half = buckets // 2
    out = (rel > 0).long() * half
    rel = rel.abs()
    max_exact = half // 2
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_dist / max_exact) * (half - max_exact)).long()
    large = torch.min(large, torch.full_like(large, half - 1))
    return out + torch.where(rel < max_exact, rel, large)


class T5LayerNorm(nn.Module):
    """RMS norm without mean subtraction or bias."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps))


class GELUTanh(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


class RelativeBias(nn.Module):
    """One layer's relative position bias: [1, h, L, L] from the bucket of j − i."""

    def __init__(self, cfg: T5Config):
        super().__init__()
        self.max_dist = cfg.max_dist
        self.embedding = nn.Embedding(cfg.buckets, cfg.heads)
        self.register_buffer("table", bucket_table(cfg.buckets, cfg.max_dist), persistent=False)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        rel = positions[None, :] - positions[:, None]  # [L, L] j − i
        idx = self.table[rel.clamp(-self.max_dist, self.max_dist) + self.max_dist]  # [L, L]
        return self.embedding(idx).permute(2, 0, 1).unsqueeze(0)  # [1, h, L, L]


class T5Attention(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.heads = cfg.heads
        self.head_dim = cfg.dim_attn // cfg.heads
        self.q = nn.Linear(cfg.dim, cfg.dim_attn, bias=False)
        self.k = nn.Linear(cfg.dim, cfg.dim_attn, bias=False)
        self.v = nn.Linear(cfg.dim, cfg.dim_attn, bias=False)
        self.o = nn.Linear(cfg.dim_attn, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        h, d = self.heads, self.head_dim
        q = self.q(x).view(B, L, h, d).transpose(1, 2)  # [B, h, L, d]
        k = self.k(x).view(B, L, h, d).transpose(1, 2)  # [B, h, L, d]
        v = self.v(x).view(B, L, h, d).transpose(1, 2)  # [B, h, L, d]
        a = torch.softmax(q @ k.transpose(-1, -2) + bias, dim=-1)  # [B, h, L, L], no 1/√d
        return self.o((a @ v).transpose(1, 2).reshape(B, L, h * d))  # [B, L, D]


class T5FeedForward(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.gate = nn.Sequential(nn.Linear(cfg.dim, cfg.dim_ffn, bias=False), GELUTanh())
        self.fc1 = nn.Linear(cfg.dim, cfg.dim_ffn, bias=False)
        self.fc2 = nn.Linear(cfg.dim_ffn, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x) * self.gate(x))  # [B, L, D]


class T5Block(nn.Module):
    def __init__(self, cfg: T5Config):
        super().__init__()
        self.norm1 = T5LayerNorm(cfg.dim, cfg.eps)
        self.attn = T5Attention(cfg)
        self.norm2 = T5LayerNorm(cfg.dim, cfg.eps)
        self.ffn = T5FeedForward(cfg)
        self.pos_embedding = RelativeBias(cfg)

    def forward(self, x: torch.Tensor, key_pad: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        bias = torch.where(key_pad, torch.finfo(x.dtype).min, self.pos_embedding(positions))  # [B, h, L, L]
        x = x + self.attn(self.norm1(x), bias)
        return x + self.ffn(self.norm2(x))


class UMT5Encoder(nn.Module):
    """ids [B, L] int64, mask [B, L] (1 real token, 0 padding) → hidden states [B, L, D]."""

    def __init__(self, cfg: T5Config):
        super().__init__()
        self.cfg = cfg
        self.dim = cfg.dim
        self.token_embedding = nn.Embedding(cfg.vocab, cfg.dim)
        self.blocks = nn.ModuleList([T5Block(cfg) for _ in range(cfg.layers)])
        self.norm = T5LayerNorm(cfg.dim, cfg.eps)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(ids)  # [B, L, D]
        positions = torch.arange(ids.shape[1], device=ids.device)  # [L]
        key_pad = (mask == 0)[:, None, None, :]  # [B, 1, 1, L]
        for block in self.blocks:
            x = block(x, key_pad, positions)
        return self.norm(x)  # [B, L, D]


def build_t5(size: str, vocab_size: Optional[int] = None) -> UMT5Encoder:
    """A float32 encoder of the given size. `vocab_size` is the tokenizer's id count: 'tiny' gets that
    many embedding rows; 'xxl' keeps the release's 256384 rows and refuses a larger vocabulary."""
    if size not in T5_SIZES:
        raise ValueError(f"unknown UMT5 size {size!r}: expected one of {sorted(T5_SIZES)}")
    cfg = T5_SIZES[size]
    if vocab_size is not None:
        if size == "tiny":
            cfg = replace(cfg, vocab=vocab_size)
        elif vocab_size > cfg.vocab:
            raise CheckpointError(
                f"the tokenizer has {vocab_size} ids but UMT5-XXL's token embedding has {cfg.vocab} rows: "
                "use the tokenizer released with the encoder (google/umt5-xxl)"
            )
    with torch.no_grad():
        model = UMT5Encoder(cfg)
        _init_weights(model)
    return model.eval()


def _init_weights(model: UMT5Encoder) -> None:
    """Random weights scaled as the reference initialises them (outputs of a sensible size)."""
    cfg = model.cfg
    nn.init.normal_(model.token_embedding.weight, std=1.0)
    for b in model.blocks:
        nn.init.normal_(b.attn.q.weight, std=(cfg.dim * cfg.dim_attn) ** -0.5)
        nn.init.normal_(b.attn.k.weight, std=cfg.dim**-0.5)
        nn.init.normal_(b.attn.v.weight, std=cfg.dim**-0.5)
        nn.init.normal_(b.attn.o.weight, std=(cfg.heads * cfg.dim_attn) ** -0.5)
        nn.init.normal_(b.ffn.gate[0].weight, std=cfg.dim**-0.5)
        nn.init.normal_(b.ffn.fc1.weight, std=cfg.dim**-0.5)
        nn.init.normal_(b.ffn.fc2.weight, std=cfg.dim_ffn**-0.5)
        nn.init.normal_(b.pos_embedding.embedding.weight, std=(2 * cfg.buckets * cfg.heads) ** -0.5)


def load_t5_checkpoint(model: UMT5Encoder, path: str) -> None:
    """Load the release's encoder file (bf16 .pth) strictly into `model`, as float32."""
    state = read_torch_file(path)
    load_strict(model, state, path, T5_FILE_WHAT, dtype=torch.float32)


class TextEncoderGraph(nn.Module):
    """The pack's text-encoder graph: input_ids int64 [B, L], attention_mask int64 [B, L] → text
    float32 [B, L, D], rows where the mask is 0 set to zero (the reference cuts the output to the
    prompt's length and zero-pads it)."""

    def __init__(self, model: UMT5Encoder):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        y = self.model(input_ids, attention_mask)  # [B, L, D]
        return y * attention_mask.to(y.dtype)[:, :, None]  # [B, L, D]


# Tokens the graph is traced with; B and L stay dynamic in the graph.
TRACE_TOKENS = 16


def export_text_encoder(model: UMT5Encoder, out_dir: str, max_tokens: int) -> str:
    """Write `out_dir`/text_encoder.onnx. Batch and token count are dynamic axes (the pack's
    manifest fixes L = max_tokens and flowedit pads every prompt to it; a real token's output does
    not depend on how much padding follows). Returns the graph's path."""
    if max_tokens < 2:
        raise ValueError(f"max_tokens {max_tokens}: expected at least 2 (a token and EOS)")
    L = min(max_tokens, TRACE_TOKENS)
    ids = torch.randint(3, model.cfg.vocab, (2, L), generator=torch.Generator().manual_seed(0))  # [2, L]
    mask = torch.ones(2, L, dtype=torch.int64)  # [2, L]
    mask[1, L // 2 :] = 0
    path = os.path.join(out_dir, "text_encoder.onnx")
    export_graph(
        TextEncoderGraph(model),
        (ids, mask),
        path,
        inputs={"input_ids": ["batch", "tokens"], "attention_mask": ["batch", "tokens"]},
        outputs={"text": ["batch", "tokens", model.cfg.dim]},
    )
    return path
