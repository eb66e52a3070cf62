"""The FLUX.1 flow transformer, written for ONNX export with context ports.

Architecture and parameter names follow the reference (black-forest-labs/flux, src/flux/model.py
and src/flux/modules/layers.py), so flux1-dev.safetensors / flux1-schnell.safetensors load
strictly:
- the latent [B, 16, H', W'] packed into 2×2 patches: token (y, x) of the (H'/2)×(W'/2) grid
  holds channels (c, dy, dx) in that order (64 values); text tokens come first in the joint
  sequence, so image token (y, x) sits at L + y·(W'/2) + x;
- the conditioning vector vec = time_in(φ(1000 t)) [+ guidance_in(φ(1000 g)), dev only]
  + vector_in(pooled), with φ the 256-wide sinusoidal features [cos | sin];
- double-stream blocks: text and image keep their own modulation, QKV, QK-RMSNorm, projection
  and MLP, and attend jointly over [text; image];
- single-stream blocks over the joint sequence: one Linear gives QKV and the MLP input, one
  Linear maps [attention | GELU(mlp)] back, gated by a 3-way modulation;
- the final layer (adaLN shift and scale, then a Linear to 64 packed channels), unpacked.

Rotary embedding: each token has ids (a0, a1, a2) = (0, 0, 0) for text and (0, row, column) for
image tokens; rotation pair j of a head belongs to one id axis (axes_dim channels each) and turns
by id·θ^(−2j'/axes_dim), j' its index inside the axis. Consecutive channels (x₂ⱼ, x₂ⱼ₊₁) rotate
as a 2×2 rotation, as the reference does. Unlike the reference (float64 angles), the ids and
angles are built in float32 inside the graph from the latent's and the text's shapes, so the
graph has no float64 or complex tensor (checked against float64 in python/flux_checks.py).

Every attention (double and single) has the context ports of docs/model-pack.md section 4:
`ctx_k.i`, `ctx_v.i` appended to the keys and values after RMSNorm and RoPE, an additive bias
`ctx_bias.i` [B, S + Sc] broadcast over heads and queries, and the layer's own K and V returned.
Layers are numbered double blocks first (0 … depth−1), then single blocks (depth + j).

Every Linear is applied to a 3-D tensor (the conditioning vector as [B, 1, D]) so that it exports
as MatMul and weight-only quantisation reaches the modulation layers too: they hold about a
quarter of the 12B weights.
"""

import json
import math
import os
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import CheckpointError, check_safetensors_complete, check_state_dict, require_file
from .config import PATCH, FluxConfig

# t ∈ [0, 1] of the pack contract (and the guidance scale) -> the reference's 1000·t.
TIME_FACTOR = 1000.0
TIME_DIM = 256  # width of the sinusoidal features of t and of the guidance
MAX_PERIOD = 10000.0
EPS = 1e-6  # LayerNorm and RMSNorm

Context = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # ctx_k, ctx_v, ctx_bias of one layer


# ---------------------------------------------------------------- positions and time

def time_frequencies(dim: int = TIME_DIM) -> torch.Tensor:
    """e^(−ln(10000)·j/half), j < half = dim/2: [half]. Computed in float32 as the reference does,
    not in float64: the guidance reaches 1000·g ≈ 10⁴ rad, where the two roundings of a frequency
    part by 10⁻³ rad."""
    half = dim // 2
    return torch.exp(-math.log(MAX_PERIOD) * torch.arange(half, dtype=torch.float32) / half)


def time_features(t: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Sinusoidal features of 1000·t: [cos | sin], float32 [B, 2·half] from t [B]."""
    angle = (t * TIME_FACTOR)[:, None] * freqs[None, :]  # [B, half]
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=1)  # [B, dim]


def rope_frequencies(axes_dim: Sequence[int], theta: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """(ω, axis): per rotation pair of a head, its frequency θ^(−2j'/axes_dim[a]) (float64 → float32)
    and the id axis a it turns with, both [d/2]."""
    omegas, axes = [], []
    for a, dim in enumerate(axes_dim):
        omegas.append(theta ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim))  # [dim/2]
        axes.append(torch.full((dim // 2,), a, dtype=torch.long))
    return torch.cat(omegas).float(), torch.cat(axes)


def token_ids(text_tokens, rows, cols) -> torch.Tensor:
    """Position ids of the joint sequence, float32 [L + rows·cols, 3]: (0, 0, 0) for each text
    token, then (0, y, x) for image token (y, x) in row-major order. Sizes may be traced values."""
    y = torch.arange(rows, dtype=torch.float32)[:, None].expand(-1, cols)  # [Hp, Wp]
    x = torch.arange(cols, dtype=torch.float32)[None, :].expand(rows, -1)  # [Hp, Wp]
    image = torch.stack([torch.zeros_like(y), y, x], dim=-1).reshape(-1, 3)  # [n, 3]
    text = torch.zeros(text_tokens, 3, dtype=torch.float32)  # [L, 3]
    return torch.cat([text, image], dim=0)  # [S, 3]


class EmbedND(nn.Module):
    """The rotary tables of a joint sequence from its position ids (no parameters)."""

    def __init__(self, axes_dim: Sequence[int], theta: float):
        super().__init__()
        omega, axis = rope_frequencies(axes_dim, theta)
        self.register_buffer("omega", omega, persistent=False)  # [d/2]
        self.register_buffer("axis", axis, persistent=False)  # [d/2]

    def forward(self, ids: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """ids [S, 3] -> (cos, sin) [S, d/2], float32."""
        angles = ids.index_select(1, self.axis) * self.omega[None, :]  # [S, d/2]
        return torch.cos(angles), torch.sin(angles)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each channel pair (x₂ⱼ, x₂ⱼ₊₁) of x [B, h, S, d] by its token's angle (cos, sin [S, d/2])."""
    pairs = x.unflatten(-1, (-1, 2))  # [B, h, S, d/2, 2]
    x0, x1 = pairs[..., 0], pairs[..., 1]  # [B, h, S, d/2]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)  # [B, h, S, d]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """softmax(Q Kᵀ/√d + bias) V with q [B, h, S, d], k and v [B, h, Sk, d], bias [B, Sk] or None -> [B, S, h·d]."""
    logits = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)  # [B, h, S, Sk]
    if bias is not None:
        logits = logits + bias[:, None, None, :]
    out = torch.matmul(torch.softmax(logits, dim=-1), v)  # [B, h, S, d]
    return out.transpose(1, 2).flatten(2)  # [B, S, h·d]


def attend_with_context(q, k, v, cos, sin, ctx: Context) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RoPE on q and k [B, h, S, d], the context keys/values appended after it, the bias added:
    (out [B, S, h·d], K [B, h, S, d], V [B, h, S, d]), K and V as the attention used them."""
    ctx_k, ctx_v, ctx_bias = ctx
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)  # [B, h, S, d]
    k_all = torch.cat([k, ctx_k], dim=2)  # [B, h, S + Sc, d]
    v_all = torch.cat([v, ctx_v], dim=2)  # [B, h, S + Sc, d]
    return attention(q, k_all, v_all, ctx_bias), k, v


# ---------------------------------------------------------------- layers

class MLPEmbedder(nn.Module):
    def __init__(self, in_dim: int, hidden: int):
        super().__init__()
        self.in_layer = nn.Linear(in_dim, hidden)
        self.silu = nn.SiLU()
        self.out_layer = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_layer(self.silu(self.in_layer(x)))


class RMSNorm(nn.Module):
    """RMSNorm over the head channels with a learnt gain (`scale`)."""

    def __init__(self, dim: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + EPS) * self.scale


class QKNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.query_norm = RMSNorm(dim)
        self.key_norm = RMSNorm(dim)


class SelfAttention(nn.Module):
    """One stream's QKV projection, QK-RMSNorm and output projection (the reference's names)."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.norm = QKNorm(dim // heads)
        self.proj = nn.Linear(dim, dim)

    def qkv_heads(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [B, L, dim] -> q, k (normalised), v, each [B, h, L, d]."""
        return split_qkv(self.qkv(x), self.heads, self.norm)


def split_qkv(qkv: torch.Tensor, heads: int, norm: QKNorm) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[B, L, 3·h·d] laid out (3, h, d) -> normalised q, k and v, each [B, h, L, d]."""
    q, k, v = qkv.unflatten(-1, (3, heads, -1)).permute(2, 0, 3, 1, 4)  # 3 × [B, h, L, d]
    return norm.query_norm(q), norm.key_norm(k), v


def layer_norm(dim: int) -> nn.LayerNorm:
    return nn.LayerNorm(dim, eps=EPS, elementwise_affine=False)


class Modulation(nn.Module):
    """(shift, scale, gate) × 1 or 2 from the conditioning vector, each [B, 1, dim]."""

    def __init__(self, dim: int, double: bool):
        super().__init__()
        self.count = 6 if double else 3
        self.lin = nn.Linear(dim, self.count * dim)

    def forward(self, vec: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return self.lin(F.silu(vec)[:, None, :]).chunk(self.count, dim=-1)  # count × [B, 1, dim]


def mlp(dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))


class DoubleStreamBlock(nn.Module):
    def __init__(self, cfg: FluxConfig):
        super().__init__()
        dim, hidden = cfg.hidden_size, cfg.mlp_hidden
        self.img_mod = Modulation(dim, double=True)
        self.img_norm1 = layer_norm(dim)
        self.img_attn = SelfAttention(dim, cfg.num_heads, cfg.qkv_bias)
        self.img_norm2 = layer_norm(dim)
        self.img_mlp = mlp(dim, hidden)
        self.txt_mod = Modulation(dim, double=True)
        self.txt_norm1 = layer_norm(dim)
        self.txt_attn = SelfAttention(dim, cfg.num_heads, cfg.qkv_bias)
        self.txt_norm2 = layer_norm(dim)
        self.txt_mlp = mlp(dim, hidden)

    def forward(self, img, txt, vec, cos, sin, ctx: Context):
        """img [B, n, dim], txt [B, L, dim], vec [B, dim] -> (img, txt, K, V [B, h, L + n, d])."""
        i_shift1, i_scale1, i_gate1, i_shift2, i_scale2, i_gate2 = self.img_mod(vec)  # 6 × [B, 1, dim]
        t_shift1, t_scale1, t_gate1, t_shift2, t_scale2, t_gate2 = self.txt_mod(vec)  # 6 × [B, 1, dim]
        iq, ik, iv = self.img_attn.qkv_heads((1 + i_scale1) * self.img_norm1(img) + i_shift1)  # [B, h, n, d]
        tq, tk, tv = self.txt_attn.qkv_heads((1 + t_scale1) * self.txt_norm1(txt) + t_shift1)  # [B, h, L, d]
        q = torch.cat([tq, iq], dim=2)  # [B, h, S, d]
        k = torch.cat([tk, ik], dim=2)  # [B, h, S, d]
        v = torch.cat([tv, iv], dim=2)  # [B, h, S, d]
        out, k, v = attend_with_context(q, k, v, cos, sin, ctx)  # [B, S, dim]
        length = txt.shape[1]
        txt_out, img_out = out[:, :length], out[:, length:]
        img = img + i_gate1 * self.img_attn.proj(img_out)
        img = img + i_gate2 * self.img_mlp((1 + i_scale2) * self.img_norm2(img) + i_shift2)
        txt = txt + t_gate1 * self.txt_attn.proj(txt_out)
        txt = txt + t_gate2 * self.txt_mlp((1 + t_scale2) * self.txt_norm2(txt) + t_shift2)
        return img, txt, k, v


class SingleStreamBlock(nn.Module):
    def __init__(self, cfg: FluxConfig):
        super().__init__()
        dim = cfg.hidden_size
        self.heads, self.dim, self.hidden = cfg.num_heads, dim, cfg.mlp_hidden
        self.linear1 = nn.Linear(dim, 3 * dim + self.hidden)  # QKV and the MLP's input
        self.linear2 = nn.Linear(dim + self.hidden, dim)  # output projection and the MLP's output
        self.norm = QKNorm(cfg.head_dim)
        self.pre_norm = layer_norm(dim)
        self.mlp_act = nn.GELU(approximate="tanh")
        self.modulation = Modulation(dim, double=False)

    def forward(self, x, vec, cos, sin, ctx: Context):
        """x [B, S, dim] (text then image), vec [B, dim] -> (x, K, V [B, h, S, d])."""
        shift, scale, gate = self.modulation(vec)  # 3 × [B, 1, dim]
        qkv, hidden = self.linear1((1 + scale) * self.pre_norm(x) + shift).split([3 * self.dim, self.hidden], dim=-1)
        q, k, v = split_qkv(qkv, self.heads, self.norm)  # [B, h, S, d]
        out, k, v = attend_with_context(q, k, v, cos, sin, ctx)  # [B, S, dim]
        return x + gate * self.linear2(torch.cat([out, self.mlp_act(hidden)], dim=2)), k, v


class LastLayer(nn.Module):
    def __init__(self, cfg: FluxConfig):
        super().__init__()
        dim = cfg.hidden_size
        self.norm_final = layer_norm(dim)
        self.linear = nn.Linear(dim, cfg.out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
        """x [B, n, dim], vec [B, dim] -> [B, n, 64]."""
        shift, scale = self.adaLN_modulation(vec[:, None, :]).chunk(2, dim=-1)  # 2 × [B, 1, dim]
        return self.linear((1 + scale) * self.norm_final(x) + shift)


# ---------------------------------------------------------------- packing

def pack_latents(latents: torch.Tensor) -> torch.Tensor:
    """[B, C, 1, H', W'] -> tokens [B, (H'/2)(W'/2), C·2·2], channels in (c, dy, dx) order."""
    b, c, _, h, w = latents.shape
    x = latents.reshape(b, c, h // PATCH, PATCH, w // PATCH, PATCH)  # [B, C, Hp, 2, Wp, 2]; fails unless F' = 1
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, (h // PATCH) * (w // PATCH), c * PATCH * PATCH)


def unpack_tokens(x: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
    """tokens [B, n, C·2·2] -> [B, C, 1, H', W'] of `latents`' shape."""
    b, c, f, h, w = latents.shape
    x = x.reshape(b, h // PATCH, w // PATCH, c, PATCH, PATCH)  # [B, Hp, Wp, C, 2, 2]
    return x.permute(0, 3, 1, 4, 2, 5).reshape(b, c, f, h, w)


# ---------------------------------------------------------------- the model

class FluxDiT(nn.Module):
    """Velocity network v(x_t, t, text, pooled[, guidance]) with context ports in every attention."""

    def __init__(self, cfg: FluxConfig):
        super().__init__()
        self.cfg = cfg.validate()
        dim = cfg.hidden_size
        self.pe_embedder = EmbedND(cfg.axes_dim, cfg.theta)
        self.img_in = nn.Linear(cfg.in_channels, dim)
        self.time_in = MLPEmbedder(TIME_DIM, dim)
        self.vector_in = MLPEmbedder(cfg.vec_in_dim, dim)
        if cfg.guidance_embed:
            self.guidance_in = MLPEmbedder(TIME_DIM, dim)
        self.txt_in = nn.Linear(cfg.context_in_dim, dim)
        self.double_blocks = nn.ModuleList([DoubleStreamBlock(cfg) for _ in range(cfg.depth)])
        self.single_blocks = nn.ModuleList([SingleStreamBlock(cfg) for _ in range(cfg.depth_single_blocks)])
        self.final_layer = LastLayer(cfg)
        # A constant, not a weight: kept out of the state dict so released checkpoints load strictly.
        self.register_buffer("time_freqs", time_frequencies(), persistent=False)  # [128]

    def embed(self, latents, t, text, pooled, guidance=None):
        """The blocks' inputs: (img [B, n, dim], txt [B, L, dim], vec [B, dim], cos, sin [S, d/2])."""
        img = self.img_in(pack_latents(latents))  # [B, n, dim]
        vec = self.time_in(time_features(t, self.time_freqs)[:, None, :])  # [B, 1, dim]
        if self.cfg.guidance_embed:
            if guidance is None:
                raise ValueError("FLUX.1 [dev] takes a guidance input")
            vec = vec + self.guidance_in(time_features(guidance, self.time_freqs)[:, None, :])
        vec = (vec + self.vector_in(pooled[:, None, :]))[:, 0]  # [B, dim]
        txt = self.txt_in(text)  # [B, L, dim]
        ids = token_ids(text.shape[1], latents.shape[3] // PATCH, latents.shape[4] // PATCH)  # [S, 3]
        cos, sin = self.pe_embedder(ids)  # [S, d/2]
        return img, txt, vec, cos, sin

    def head(self, x: torch.Tensor, vec: torch.Tensor, text_tokens, latents: torch.Tensor) -> torch.Tensor:
        """Joint x [B, S, dim] -> velocity [B, C, 1, H', W'] from its image tokens."""
        return unpack_tokens(self.final_layer(x[:, text_tokens:], vec), latents)

    def forward(self, latents, t, text, pooled, guidance, ctx: Sequence[Context]):
        """latents [B, C, 1, H', W'], t [B] in [0, 1], text [B, L, 4096], pooled [B, 768], guidance [B]
        (dev; None for schnell), one context triple per layer -> (velocity, [(K, V) [B, h, S, d] per layer])."""
        cfg = self.cfg
        if len(ctx) != cfg.layers:
            raise ValueError(f"expected a context (ctx_k, ctx_v, ctx_bias) for each of {cfg.layers} layers, got {len(ctx)}")
        img, txt, vec, cos, sin = self.embed(latents, t, text, pooled, guidance)
        kv = []
        for block, layer_ctx in zip(self.double_blocks, ctx):
            img, txt, k, v = block(img, txt, vec, cos, sin, layer_ctx)
            kv.append((k, v))
        x = torch.cat([txt, img], dim=1)  # [B, S, dim]
        for block, layer_ctx in zip(self.single_blocks, ctx[cfg.depth :]):
            x, k, v = block(x, vec, cos, sin, layer_ctx)
            kv.append((k, v))
        return self.head(x, vec, text.shape[1], latents), kv

    def empty_context(self, batch: int, tokens: int) -> List[Context]:
        """Sc = 0 in every layer (`tokens` = S = L + n): what flowedit feeds when nothing is shared."""
        h, d = self.cfg.num_heads, self.cfg.head_dim
        empty = torch.zeros(batch, h, 0, d)  # [B, h, 0, d]
        return [(empty, empty, torch.zeros(batch, tokens)) for _ in range(self.cfg.layers)]


class TransformerGraph(nn.Module):
    """FluxDiT with the transformer graph's flat ports: inputs latents, t, text, pooled,
    guidance (dev only), then ctx_k.i, ctx_v.i, ctx_bias.i per layer; outputs velocity, then
    k.i, v.i per layer."""

    def __init__(self, model: FluxDiT):
        super().__init__()
        self.model = model

    def forward(self, latents, t, text, pooled, *rest):
        cfg = self.model.cfg
        guidance, flat = (rest[0], rest[1:]) if cfg.guidance_embed else (None, rest)
        if len(flat) != 3 * cfg.layers:
            raise ValueError(f"expected {3 * cfg.layers} context inputs, got {len(flat)}")
        ctx = [tuple(flat[3 * i : 3 * i + 3]) for i in range(cfg.layers)]
        velocity, kv = self.model(latents, t, text, pooled, guidance, ctx)
        return (velocity,) + tuple(z for pair in kv for z in pair)


# ---------------------------------------------------------------- random weights

def random_parameter(name: str, shape: Sequence[int], seed: int) -> torch.Tensor:
    """The random value of parameter `name` (its full state-dict name) from `seed` alone, so a
    block built on its own gets the same weights as inside the whole model: Xavier-uniform
    matrices, RMSNorm gains near 1, small biases (the reference zero-initialises some layers,
    which would leave paths inactive)."""
    g = torch.Generator().manual_seed(zlib.crc32(f"{seed}/{name}".encode()))
    if len(shape) >= 2:
        bound = math.sqrt(6.0 / (shape[0] + math.prod(shape[1:])))
        return (torch.rand(shape, generator=g) * 2 - 1) * bound
    if name.endswith(".scale"):
        return 1 + 0.1 * torch.randn(shape, generator=g)
    return 0.02 * torch.randn(shape, generator=g)


def init_random(module: nn.Module, seed: int, prefix: str = "") -> nn.Module:
    """Fill every parameter of `module` (whose names in the whole model start with `prefix`)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(random_parameter(prefix + name, p.shape, seed))
    return module


def build_flux(cfg: FluxConfig, seed: Optional[int] = None) -> FluxDiT:
    """A FluxDiT in eval mode, with random weights from `seed` when given."""
    model = FluxDiT(cfg).eval()
    return init_random(model, seed) if seed is not None else model


# ---------------------------------------------------------------- checkpoint

CHECKPOINT_NAMES = {"dev": "flux1-dev.safetensors", "schnell": "flux1-schnell.safetensors"}
# Files of the release folder that are not the transformer.
OTHER_FILES = ("ae.safetensors",)
# A key every FLUX.1 transformer in the reference layout has.
PROBE_KEY = "double_blocks.0.img_attn.qkv.weight"


def flux_checkpoint_files(path: str) -> List[str]:
    """The .safetensors file(s) holding the transformer at `path`: a file, an index
    (`*.safetensors.index.json`, its shards returned), or a folder holding either one transformer
    .safetensors file (flux1-*.safetensors preferred, ae.safetensors ignored) or an index and its shards."""
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        indexes = [n for n in names if n.endswith(".safetensors.index.json")]
        files = [n for n in names if n.endswith(".safetensors")]
        if len(indexes) == 1:
            return flux_checkpoint_files(os.path.join(path, indexes[0]))
        if len(indexes) > 1:
            raise CheckpointError(f"{path}: holds several safetensors indexes ({', '.join(indexes)}): pass the transformer's index itself")
        preferred = [n for n in files if n.startswith("flux1-")] or [n for n in files if n not in OTHER_FILES]
        if len(preferred) == 1:
            return [os.path.join(path, preferred[0])]
        if any("-of-" in n for n in preferred):
            raise CheckpointError(f"{path}: holds {len(preferred)} shards ({preferred[0]} …) but no .safetensors.index.json naming each key's shard: download the index too")
        if preferred:
            raise CheckpointError(f"{path}: holds several .safetensors files ({', '.join(preferred[:6])}) and no index: pass the transformer's file itself")
        raise CheckpointError(f"{path}: no transformer weights; expected {CHECKPOINT_NAMES['dev']} or {CHECKPOINT_NAMES['schnell']}")
    if path.endswith(".index.json"):
        require_file(path, "a safetensors index (.safetensors.index.json)")
        try:
            with open(path, encoding="utf-8") as f:
                shards = sorted(set(json.load(f)["weight_map"].values()))
        except Exception as e:
            raise CheckpointError(f"{path}: not a safetensors index with a weight_map ({e})") from e
        folder = os.path.dirname(path)
        missing = [s for s in shards if not os.path.isfile(os.path.join(folder, s))]
        if missing:
            raise CheckpointError(f"{path}: names shards that are not in {folder or '.'}: {', '.join(missing)}; download them")
        return [os.path.join(folder, s) for s in shards]
    return [require_file(path, f"the FLUX.1 transformer weights ({CHECKPOINT_NAMES['dev']} or {CHECKPOINT_NAMES['schnell']})")]


def checkpoint_shapes(path: str) -> Dict[str, Tuple[Tuple[int, ...], str]]:
    """Each key's (shape, file) read from the safetensors headers alone (no weight is loaded);
    a truncated file is a CheckpointError."""
    from safetensors import safe_open

    out: Dict[str, Tuple[Tuple[int, ...], str]] = {}
    for file in flux_checkpoint_files(path):
        check_safetensors_complete(file)
        with safe_open(file, framework="pt") as f:
            for k in f.keys():
                out[k] = (tuple(f.get_slice(k).get_shape()), file)
    return out


def _variant_of(path: str, keys) -> str:
    if PROBE_KEY not in keys:
        hint = " (it looks like the diffusers layout: use flux1-dev.safetensors / flux1-schnell.safetensors from the release's top folder)" if any(k.startswith("transformer_blocks.") for k in keys) else ""
        raise CheckpointError(f"{path}: not a FLUX.1 transformer checkpoint: it lacks {PROBE_KEY}{hint}")
    return "dev" if any(k.startswith("guidance_in.") for k in keys) else "schnell"


def detect_variant(path: str) -> str:
    """'dev' when the checkpoint has the guidance embedding (guidance_in.*), else 'schnell'; read
    from the headers only."""
    return _variant_of(path, checkpoint_shapes(path))


def check_flux_keys(path: str, cfg: FluxConfig) -> List[str]:
    """Every problem of the checkpoint at `path` for `cfg`, one line each, from the safetensors
    headers alone (seconds even at full size): unreadable or truncated files, the other variant,
    missing and unexpected keys and shape mismatches."""
    try:
        shapes = checkpoint_shapes(path)
        found = _variant_of(path, shapes)
    except CheckpointError as e:
        return [str(e)]
    if found != cfg.variant:
        other = "it has the guidance embedding guidance_in.*" if found == "dev" else "it has no guidance embedding guidance_in.*"
        return [f"{path}: a FLUX.1 [{found}] checkpoint ({other}), but the export asks for FLUX.1 [{cfg.variant}]: pass --variant {found} or the {cfg.variant} checkpoint"]
    with torch.device("meta"):
        module = FluxDiT(cfg)
    try:
        check_state_dict(module, {k: torch.empty(s, device="meta") for k, (s, _) in shapes.items()}, path, _what(cfg))
    except CheckpointError as e:
        return [str(e)]
    return []


def _what(cfg: FluxConfig) -> str:
    return f"the FLUX.1 [{cfg.variant}] transformer ({cfg.name}: {cfg.depth} double + {cfg.depth_single_blocks} single blocks, width {cfg.hidden_size})"


def read_tensors_into(module: nn.Module, shapes: Dict[str, Tuple[Tuple[int, ...], str]], prefix: str = "") -> None:
    """Copy `module`'s weights from the checkpoint files that `shapes` (checkpoint_shapes) names,
    one tensor at a time, cast to float32. The module's parameter names in the whole model start
    with `prefix` (e.g. 'double_blocks.3.' for one block); keys must have been checked already."""
    from safetensors import safe_open

    targets = module.state_dict()
    by_file: Dict[str, List[str]] = {}
    for name in targets:
        by_file.setdefault(shapes[prefix + name][1], []).append(name)
    with torch.no_grad():
        for file, names in by_file.items():
            with safe_open(file, framework="pt") as f:
                for name in names:
                    targets[name].copy_(f.get_tensor(prefix + name).to(torch.float32))


def load_flux_checkpoint(model: FluxDiT, path: str) -> None:
    """Load the checkpoint at `path` (file, folder, or index) strictly: every key, every shape and
    the variant are checked from the headers first, then each tensor is read on its own and cast
    to float32, so the peak is the model plus one tensor."""
    problems = check_flux_keys(path, model.cfg)
    if problems:
        raise CheckpointError(" | ".join(problems))
    read_tensors_into(model, checkpoint_shapes(path))


# ---------------------------------------------------------------- export

# Trace sizes: batch 2, a 3 × 4 patch grid (non-square), 5 text tokens, Sc = 3, 5, 7, ... per layer.
TRACE_BATCH, TRACE_GRID, TRACE_TEXT = 2, (3, 4), 5
BATCH, SEQ, TEXT = "batch", "seq", "text_tokens"


def input_names(cfg: FluxConfig) -> List[str]:
    """The conditioning inputs after latents, in port order."""
    return ["t", "text", "pooled"] + (["guidance"] if cfg.guidance_embed else [])


def transformer_ports(cfg: FluxConfig, text_tokens: Optional[int] = None):
    """(inputs, outputs): port name -> shape (ints fixed, strings dynamic) in the contract's
    order. `text_tokens` fixes L (the T5 length); by default it is a dynamic axis."""
    latent = [BATCH, cfg.latent_channels, 1, "latent_height", "latent_width"]
    length = text_tokens if text_tokens is not None else TEXT
    inputs = {"latents": latent, "t": [BATCH], "text": [BATCH, length, cfg.context_in_dim], "pooled": [BATCH, cfg.vec_in_dim]}
    if cfg.guidance_embed:
        inputs["guidance"] = [BATCH]
    outputs = {"velocity": latent}
    h, d = cfg.num_heads, cfg.head_dim
    for i in range(cfg.layers):
        sc = f"ctx_seq_{i}"
        inputs[f"ctx_k.{i}"] = [BATCH, h, sc, d]
        inputs[f"ctx_v.{i}"] = [BATCH, h, sc, d]
        inputs[f"ctx_bias.{i}"] = [BATCH, f"seq_plus_ctx_seq_{i}"]
        outputs[f"k.{i}"] = [BATCH, h, SEQ, d]
        outputs[f"v.{i}"] = [BATCH, h, SEQ, d]
    return inputs, outputs


def example_inputs(cfg: FluxConfig, batch: int, grid: Tuple[int, int], text_tokens: int, context: Sequence[int], seed: int = 0, bias_scale: float = 1.0) -> List[torch.Tensor]:
    """Graph inputs in port order: a patch `grid` (Hp, Wp) (latent 2Hp × 2Wp), L = `text_tokens`,
    guidance in [1, 5] (dev), and Sc = context[i] keys in layer i with a random bias (× bias_scale)."""
    from ..onnx_export import example_context

    g = torch.Generator().manual_seed(seed)
    hp, wp = grid
    s = text_tokens + hp * wp
    args = [
        torch.randn(batch, cfg.latent_channels, 1, PATCH * hp, PATCH * wp, generator=g),  # [B, C, 1, H', W']
        torch.rand(batch, generator=g),  # [B]
        torch.randn(batch, text_tokens, cfg.context_in_dim, generator=g),  # [B, L, 4096]
        torch.randn(batch, cfg.vec_in_dim, generator=g),  # [B, 768]
    ]
    if cfg.guidance_embed:
        args.append(1 + 4 * torch.rand(batch, generator=g))  # [B]
    return args + example_context(g, batch, cfg.num_heads, cfg.head_dim, s, context, bias_scale)


def trace_inputs(cfg: FluxConfig, text_tokens: Optional[int] = None) -> List[torch.Tensor]:
    """The inputs export traces with: a different Sc > 0 in each layer, so that Sc = 0 runs
    through the same graph."""
    return example_inputs(cfg, TRACE_BATCH, TRACE_GRID, text_tokens or TRACE_TEXT, [3 + 2 * i for i in range(cfg.layers)])


def export_transformer(model: FluxDiT, cfg: FluxConfig, path: str, text_tokens: Optional[int] = None) -> None:
    """Write the transformer graph to `path` (weights beside it in `<path>.data` when large)."""
    from ..onnx_export import export_graph

    inputs, outputs = transformer_ports(cfg, text_tokens)
    export_graph(TransformerGraph(model), trace_inputs(cfg, text_tokens), path, inputs, outputs)
