"""Small transformer text encoder: token ids [B, L] -> embeddings [B, L, D].

Token embedding plus a learned position embedding, then pre-LN encoder layers whose
self-attention ignores padding keys, then a final LayerNorm.

Format 2 options (config): with `text_attention_mask` the padding comes from an attention_mask
input [B, L] (1 real token, 0 padding) instead of the pad id, and the output rows of padding are
zero; with `pooled_dim` P > 0 it also returns the mean of the real tokens' rows projected to P,
pooled = W_p · (Σ_j m_j x_j / Σ_j m_j)  [B, P].
"""

from typing import Optional

import torch
from torch import nn

from .config import PackConfig
from .layers import MLP, attention, init_weights, layer_norm, merge_heads, split_heads

PAD_ID = 0
MASKED = -1e4  # logit bias that removes a key


class EncoderLayer(nn.Module):
    """Pre-LN transformer encoder layer."""

    def __init__(self, width: int, heads: int, hidden: int):
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.norm1 = layer_norm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = layer_norm(width)
        self.mlp = MLP(width, hidden)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        """x: [B, L, D], key_bias: [B, 1, 1, L] -> [B, L, D]."""
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)  # 3 × [B, L, D]
        q = split_heads(q, self.heads, self.head_dim)  # [B, h, L, d]
        k = split_heads(k, self.heads, self.head_dim)  # [B, h, L, d]
        v = split_heads(v, self.heads, self.head_dim)  # [B, h, L, d]
        x = x + self.proj(merge_heads(attention(q, k, v, self.head_dim, key_bias)))  # [B, L, D]
        return x + self.mlp(self.norm2(x))  # [B, L, D]


class TextEncoder(nn.Module):
    def __init__(self, cfg: PackConfig):
        super().__init__()
        width = cfg.text_dim
        self.token = nn.Embedding(cfg.vocab_size, width)
        self.position = nn.Parameter(torch.randn(cfg.max_tokens, width) * 0.5)
        self.layers = nn.ModuleList(
            [EncoderLayer(width, cfg.text_heads, 2 * width) for _ in range(cfg.text_layers)]
        )
        self.norm = layer_norm(width)
        self.uses_mask = cfg.text_attention_mask
        self.pool = nn.Linear(width, cfg.pooled_dim) if cfg.pooled_dim > 0 else None
        init_weights(self)

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None):
        """input_ids: [B, L] int64 (, attention_mask: [B, L] int64 with text_attention_mask)
        -> text: [B, L, D], or (text, pooled [B, P]) with pooled_dim."""
        x = self.token(input_ids) + self.position[None]  # [B, L, D]
        if self.uses_mask:
            if attention_mask is None:
                raise ValueError("this text encoder needs an attention_mask input")
            real = attention_mask.to(torch.float32)  # [B, L]
            key_bias = ((1.0 - real) * MASKED)[:, None, None, :]  # [B, 1, 1, L]
        else:
            pad = (input_ids == PAD_ID).to(torch.float32)  # [B, L]
            real = 1.0 - pad if self.pool is not None else None  # [B, L]
            key_bias = (pad * MASKED)[:, None, None, :]  # [B, 1, 1, L]
        for layer in self.layers:
            x = layer(x, key_bias)  # [B, L, D]
        x = self.norm(x)  # [B, L, D]
        if self.uses_mask:
            x = x * real[:, :, None]  # [B, L, D]: padding rows are zero
        if self.pool is None:
            return x
        mean = (x * real[:, :, None]).sum(dim=1) / real.sum(dim=1, keepdim=True).clamp(min=1.0)  # [B, D]
        return x, self.pool(mean)  # [B, L, D], [B, P]
