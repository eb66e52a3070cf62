"""Diffusion transformer (DiT, Peebles & Xie 2023) predicting rectified-flow velocity, with
the context ports of the flowedit model pack (docs/model-pack.md, section 4).

Notation: latents x_t [B, C, F', H', W'], patch (pt, ph, pw), grid Fp × Hp × Wp of n image
tokens, width `dim`, h heads of size d, text [B, L, D]. The self-attention sequence holds
S = L + n tokens with joint text (text first, as in FLUX/SD3) and S = n with cross text
(text enters through cross-attention, as in Wan). An unconditional model (text mode 'none')
has no text input, no text embedding and no cross-attention: S = n.

Each block is conditioned by adaLN on c = emb(t) (+ emb(guidance) when guidance is distilled).
With cfg.conv_head_channels > 0 a convolutional head (ConvHead) adds convolutions at latent resolution
after the patch projection.
Self-attention of a context layer i computes, with its own Q, K, V [B, h, S, d]:

    K̂ = [K; ctx_k.i],  V̂ = [V; ctx_v.i]                        # [B, h, S + Sc, d]
    out = softmax(Q K̂ᵀ / √d + ctx_bias.i[:, None, None, :]) V̂   # [B, h, S, d]

and hands K and V back so that another pass can use them as its context.

Format 2 options (config): with `text_mask` the graph takes text_mask [B, L] (1 real token,
0 padding) and adds MASKED to the logits of padded text keys, in self-attention (joint text: the
first L keys) or cross-attention; with `pooled_dim` P > 0 it takes the text encoder's pooled
vector [B, P] and adds an MLP of it to the conditioning, c = emb(t) + MLP(pooled) (as FLUX adds
its pooled CLIP vector).
"""

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .config import PackConfig
from .layers import (
    MLP,
    RMSNorm,
    ScalarEmbedder,
    attend,
    grid_position_embedding,
    init_weights,
    layer_norm,
    load_fitting,
    modulate,
    norm_heads,
    split_heads,
    split_rows,
)
from .patches import patch_grid, patchify, unpatchify

# (ctx_k [B, h, Sc, d], ctx_v [B, h, Sc, d], ctx_bias [B, S + Sc]) for one context layer.
Context = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]

MASKED = -1e4  # logit bias that removes a key


class ContextSelfAttention(nn.Module):
    """Multi-head self-attention with QK-norm and optional extra keys/values and key bias."""

    def __init__(self, dim: int, heads: int, head_dim: int):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.q_norm = RMSNorm(head_dim)
        self.k_norm = RMSNorm(head_dim)
        self.proj = nn.Linear(heads * head_dim, dim)

    def forward(self, x: torch.Tensor, context: Optional[Context] = None, key_bias: Optional[torch.Tensor] = None):
        """x: [B, S, dim], key_bias: [B, S] on the own keys (padded text) or None
        -> (out [B, S, dim], K [B, h, S, d], V [B, h, S, d])."""
        h, d = self.heads, self.head_dim
        q, k, v = torch.split(self.qkv(x), [h * d] * 3, dim=-1)  # 3 × [B, S, h·d]
        q = norm_heads(q, self.q_norm, h, d)  # [B, S, h·d]
        k = self.k_norm(split_heads(k, h, d))  # [B, h, S, d]
        v = split_heads(v, h, d)  # [B, h, S, d]
        if context is None:
            out = attend(q, k, v, h, key_bias)  # [B, S, h·d]
        else:
            ctx_k, ctx_v, ctx_bias = context
            k_hat = torch.cat([k, ctx_k], dim=2)  # [B, h, S + Sc, d]
            v_hat = torch.cat([v, ctx_v], dim=2)  # [B, h, S + Sc, d]
            if key_bias is not None:
                s = k.shape[2]
                ctx_bias = torch.cat([ctx_bias[:, :s] + key_bias, ctx_bias[:, s:]], dim=1)  # [B, S + Sc]
            out = attend(q, k_hat, v_hat, h, ctx_bias)  # [B, S, h·d]
        return self.proj(out), k, v  # [B, S, dim], [B, h, S, d], [B, h, S, d]


class CrossAttention(nn.Module):
    """Image tokens attend to the projected text tokens (cross text mode)."""

    def __init__(self, dim: int, heads: int, head_dim: int):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.q = nn.Linear(dim, heads * head_dim)
        self.kv = nn.Linear(dim, 2 * heads * head_dim)
        self.q_norm = RMSNorm(head_dim)
        self.k_norm = RMSNorm(head_dim)
        self.proj = nn.Linear(heads * head_dim, dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor, text_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: [B, n, dim], y: [B, L, dim], text_bias: [B, L] on padded text keys or None -> [B, n, dim]."""
        h, d = self.heads, self.head_dim
        q = norm_heads(self.q(x), self.q_norm, h, d)  # [B, n, h·d]
        k, v = torch.split(self.kv(y), [h * d] * 2, dim=-1)  # 2 × [B, L, h·d]
        k = self.k_norm(split_heads(k, h, d))  # [B, h, L, d]
        v = split_heads(v, h, d)  # [B, h, L, d]
        return self.proj(attend(q, k, v, h, text_bias))  # [B, n, dim]


class DiTBlock(nn.Module):
    """adaLN-modulated block: self-attention (+ cross-attention to text) + MLP."""

    def __init__(self, cfg: PackConfig):
        super().__init__()
        dim = self.dim = cfg.dim
        self.norm1 = layer_norm(dim)
        self.attn = ContextSelfAttention(dim, cfg.heads, cfg.head_dim)
        self.cross = None
        if cfg.text_mode == "cross":
            self.norm_cross = layer_norm(dim)
            self.cross = CrossAttention(dim, cfg.heads, cfg.head_dim)
        self.norm2 = layer_norm(dim)
        self.mlp = MLP(dim, int(dim * cfg.mlp_ratio))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x, c, y, context: Optional[Context] = None, key_bias=None, text_bias=None):
        """x: [B, S, dim], c: [B, dim], y: [B, L, dim] (None without cross text), key_bias: [B, S]
        and text_bias: [B, L] (padded text keys, or None) -> (x [B, S, dim], K, V [B, h, S, d])."""
        shift1, scale1, gate1, shift2, scale2, gate2 = split_rows(self.ada(c), self.dim, 6)  # 6 × [B, 1, dim]
        a, k, v = self.attn(modulate(self.norm1(x), shift1, scale1), context, key_bias)  # [B, S, dim]
        x = x + gate1 * a  # [B, S, dim]
        if self.cross is not None:
            x = x + self.cross(self.norm_cross(x), y, text_bias)  # [B, S, dim]
        m = self.mlp(modulate(self.norm2(x), shift2, scale2))  # [B, S, dim]
        return x + gate2 * m, k, v  # [B, S, dim]


class FinalLayer(nn.Module):
    """adaLN + linear projection of each token back to a patch of velocity."""

    def __init__(self, dim: int, patch_width: int):
        super().__init__()
        self.dim = dim
        self.norm = layer_norm(dim)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, patch_width)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """x: [B, n, dim] -> (patches [B, n, C·pt·ph·pw], the modulated features h [B, n, dim])."""
        shift, scale = split_rows(self.ada(c), self.dim, 2)  # 2 × [B, 1, dim]
        h = modulate(self.norm(x), shift, scale)  # [B, n, dim]
        return self.linear(h), h


class ConvHead(nn.Module):
    """Convolutions at latent resolution after the patch projection, added to the velocity.

    Each token's patch comes out of one linear map of that token alone, so an outline that
    crosses a token border is drawn in pieces that do not see each other. Here every latent cell
    sees x_t, the transformer's velocity and k features of its token (a linear map of h,
    unpatchified) in a 3 × 3 neighbourhood, three convolutions deep, frame by frame:

        z = [x_t; v; unpatchify(W_f h)]                    # [B·F', 2C + k, H', W']
        r = conv3(σ(conv2(σ(conv1(z) · (1 + γ(c)) + β(c)))))
        v' = v + r
    """

    def __init__(self, cfg: PackConfig):
        super().__init__()
        pt, ph, pw = cfg.patch
        c, k, ch = cfg.latent_channels, cfg.conv_head_features, cfg.conv_head_channels
        self.patch, self.k = cfg.patch, k
        self.features = nn.Linear(cfg.dim, k * pt * ph * pw)
        self.film = nn.Sequential(nn.SiLU(), nn.Linear(cfg.dim, 2 * ch))
        self.conv1 = nn.Conv2d(2 * c + k, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv3 = nn.Conv2d(ch, c, 3, padding=1)

    def forward(self, h: torch.Tensor, grid, latents: torch.Tensor, velocity: torch.Tensor,
                c: torch.Tensor) -> torch.Tensor:
        """h [B, n, dim], latents and velocity [B, C, F', H', W'], c [B, dim] -> velocity [B, C, F', H', W']."""
        f = unpatchify(self.features(h), grid, self.k, self.patch)  # [B, k, F', H', W']
        z = torch.cat([latents, velocity, f], dim=1)  # [B, 2C + k, F', H', W']
        b, width, frames, hh, ww = z.shape
        z = z.transpose(1, 2).reshape(-1, width, hh, ww)  # [B·F', 2C + k, H', W']
        y = self.conv1(z)  # [B·F', ch, H', W']
        shift, scale = self.film(c).chunk(2, dim=-1)  # 2 × [B, ch]
        y = y.reshape(b, frames, -1, hh, ww)  # [B, F', ch, H', W']
        y = y * (1.0 + scale[:, None, :, None, None]) + shift[:, None, :, None, None]  # [B, F', ch, H', W']
        y = self.conv2(nn.functional.silu(y).reshape(-1, y.shape[2], hh, ww))  # [B·F', ch, H', W']
        r = self.conv3(nn.functional.silu(y))  # [B·F', C, H', W']
        r = r.reshape(b, frames, -1, hh, ww).transpose(1, 2)  # [B, C, F', H', W']
        return velocity + r  # [B, C, F', H', W']


class DiT(nn.Module):
    """Velocity network v(x_t, t[, text][, guidance]) with context ports on `context_layers`."""

    def __init__(self, cfg: PackConfig):
        super().__init__()
        self.cfg = cfg
        pt, ph, pw = cfg.patch
        patch_width = cfg.latent_channels * pt * ph * pw
        self.patch_embed = nn.Linear(patch_width, cfg.dim)
        self.t_embed = ScalarEmbedder(cfg.freq_dim, cfg.dim)
        self.g_embed = ScalarEmbedder(cfg.freq_dim, cfg.dim) if cfg.guidance == "distilled" else None
        self.text_embed = nn.Linear(cfg.text_dim, cfg.dim) if cfg.has_text else None
        self.pooled_embed = (
            nn.Sequential(nn.Linear(cfg.pooled_dim, cfg.dim), nn.SiLU(), nn.Linear(cfg.dim, cfg.dim))
            if cfg.pooled_dim > 0 else None
        )
        self.blocks = nn.ModuleList([DiTBlock(cfg) for _ in range(cfg.layers)])
        self.final = FinalLayer(cfg.dim, patch_width)
        self.conv_head = ConvHead(cfg) if cfg.conv_head_channels > 0 else None
        init_weights(self)
        for ada in [blk.ada for blk in self.blocks] + [self.final.ada]:
            init_weights(ada, gain=2.0)  # gates/scales of order 1: every input matters
        init_weights(self.final.linear, gain=0.5)  # velocity RMS of order 0.5 at init
        if cfg.zero_init:  # adaLN-Zero: blocks start as the identity, the velocity at 0
            for m in [blk.ada[-1] for blk in self.blocks] + [self.final.ada[-1], self.final.linear]:
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(
        self,
        latents: torch.Tensor,
        t: torch.Tensor,
        text: Optional[torch.Tensor],
        guidance: Optional[torch.Tensor] = None,
        context: Optional[Sequence[Optional[Context]]] = None,
        text_mask: Optional[torch.Tensor] = None,
        pooled: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, List[Tuple[torch.Tensor, torch.Tensor]]]:
        """latents [B, C, F', H', W'], t [B], text [B, L, D] (None for text mode 'none'),
        guidance [B] (distilled only),
        context: one (ctx_k, ctx_v, ctx_bias) or None per entry of cfg.context_layers,
        text_mask [B, L] (cfg.text_mask only), pooled [B, P] (cfg.pooled_dim > 0 only).

        Returns velocity [B, C, F', H', W'] and (K, V) [B, h, S, d] per context layer.
        """
        cfg = self.cfg
        grid = patch_grid(latents, cfg.patch)  # (Fp, Hp, Wp), traced sizes
        x = self.patch_embed(patchify(latents, cfg.patch))  # [B, n, dim]
        x = x + grid_position_embedding(*grid, cfg.dim, x.device)[None]  # [B, n, dim]

        c = self.t_embed(t)  # [B, dim]
        if self.g_embed is not None:
            if guidance is None:
                raise ValueError("this model needs a guidance input")
            c = c + self.g_embed(guidance)  # [B, dim]
        if self.pooled_embed is not None:
            if pooled is None:
                raise ValueError("this model needs a pooled text input")
            c = c + self.pooled_embed(pooled)  # [B, dim]

        y = None
        if self.text_embed is not None:
            if text is None:
                raise ValueError("this model needs a text input")
            y = self.text_embed(text)  # [B, L, dim]
        key_bias, text_bias = None, None
        if cfg.text_mask:
            if text_mask is None:
                raise ValueError("this model needs a text_mask input")
            text_bias = (1.0 - text_mask) * MASKED  # [B, L]
            if cfg.text_mode == "joint":
                key_bias = torch.cat([text_bias, torch.zeros_like(x[:, :, 0])], dim=1)  # [B, S = L + n]
                text_bias = None
        if cfg.text_mode == "joint":
            x = torch.cat([y, x], dim=1)  # [B, S = L + n, dim]

        slots = {layer: j for j, layer in enumerate(cfg.context_layers)}
        kv: List[Tuple[torch.Tensor, torch.Tensor]] = []
        for i, block in enumerate(self.blocks):
            ctx = None
            if i in slots and context is not None:
                ctx = context[slots[i]]
            x, k, v = block(x, c, y, ctx, key_bias, text_bias)  # [B, S, dim], [B, h, S, d], [B, h, S, d]
            if i in slots:
                kv.append((k, v))

        if cfg.text_mode == "joint":
            x = x[:, text.shape[1] :]  # [B, n, dim]: image tokens only
        out, h = self.final(x, c)  # [B, n, C·pt·ph·pw], [B, n, dim]
        velocity = unpatchify(out, grid, cfg.latent_channels, cfg.patch)  # [B, C, F', H', W']
        if self.conv_head is not None:
            velocity = self.conv_head(h, grid, latents, velocity, c)  # [B, C, F', H', W']
        return velocity, kv


def load_dit_state(dit: DiT, state: Dict[str, torch.Tensor]) -> bool:
    """Loads a transformer state dict, also one saved before the config's convolutional head existed:
    the head then starts with its last convolution at zero, so the transformer predicts exactly
    what it did, and training grows the head from there. Returns True when the head was added;
    raises KeyError naming what does not fit otherwise."""
    own = dit.state_dict()
    missing = [k for k in own if k not in state]
    grown = bool(missing) and all(k.startswith("conv_head.") for k in missing)
    if grown:
        state = {**state, **{k: own[k] for k in missing}}
        state["conv_head.conv3.weight"] = torch.zeros_like(own["conv_head.conv3.weight"])
        state["conv_head.conv3.bias"] = torch.zeros_like(own["conv_head.conv3.bias"])
    load_fitting(dit, state)
    return grown
