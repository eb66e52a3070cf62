"""The Wan2.1 text-to-video diffusion transformer, written for ONNX export with context ports.

Architecture and parameter names follow the reference (Wan-Video/Wan2.1, wan/modules/model.py),
so a released state dict loads strictly:
- a 3-D patch embedding (Conv3d, kernel = stride = patch), tokens in the order (f·Hp + y)·Wp + x;
- the time t ∈ [0, 1] scaled by 1000, sinusoidal features, a time MLP giving e, and a projection
  giving the six modulation vectors (shift, scale, gate) × (attention, feed-forward) per block;
- per block: self-attention with RMSNorm on q and k over the full width and a 3-D rotary
  position embedding (head channels split between frames, height and width), cross-attention
  to the embedded text, a GELU(tanh) feed-forward network, each modulated by e and the block's
  own `modulation` parameter;
- a head with its own two-way modulation, then unpatchify.

Two things differ from the reference, both numerically checked (python/wan_checks.py):
- RoPE and the time features are computed in real float32 (the reference uses complex float64);
  the rotary cos/sin tables are built in float64 once and stored as float32 constants;
- every self-attention layer has the context ports of docs/model-pack.md section 4: the keys
  and values `ctx_k.i`, `ctx_v.i` are appended after RoPE and an additive bias `ctx_bias.i`
  [B, S + Sc] is broadcast over heads and queries; the layer returns its own K and V. The
  attention is written as explicit matmul and softmax so the tracer records it.
"""

import math
import os
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..checkpoint import CheckpointError, load_strict, read_safetensors, read_safetensors_index
from .config import DiTConfig

# Positions per axis the rotary tables cover (the reference's 1024).
ROPE_POSITIONS = 1024
ROPE_THETA = 10000.0
# t ∈ [0, 1] of the pack contract -> the reference's timestep in [0, 1000].
TIME_SCALE = 1000.0

Context = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # ctx_k, ctx_v, ctx_bias of one layer


def rope_angles(positions: int, channels: int) -> torch.Tensor:
    """Angles p·θ^(−2j/channels), p < positions, j < channels/2, in float64: [positions, channels/2]."""
    inv_freq = ROPE_THETA ** (-torch.arange(0, channels, 2, dtype=torch.float64) / channels)  # [channels/2]
    return torch.outer(torch.arange(positions, dtype=torch.float64), inv_freq)


def rope_tables(head_dim: int, positions: int = ROPE_POSITIONS) -> Tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the frames | height | width angles side by side, float32 [positions, d/2].

    As in the reference, frames use a frequency ladder over d − 4⌊d/6⌋ channels and height and
    width one over 2⌊d/6⌋ channels each."""
    sixth = head_dim // 6
    angles = torch.cat(
        [rope_angles(positions, head_dim - 4 * sixth), rope_angles(positions, 2 * sixth), rope_angles(positions, 2 * sixth)],
        dim=1,
    )  # [P, d/2] float64
    return torch.cos(angles).float(), torch.sin(angles).float()


def time_frequencies(freq_dim: int) -> torch.Tensor:
    """10000^(−j/half), j < half = freq_dim/2, computed in float64, stored as float32: [half]."""
    half = freq_dim // 2
    return (10000.0 ** (-torch.arange(half, dtype=torch.float64) / half)).float()


def time_features(t: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Sinusoidal features of t ∈ [0, 1] at timestep 1000·t: [cos | sin], float32 [B, freq_dim]."""
    angle = (t * TIME_SCALE)[:, None] * freqs[None, :]  # [B, half]
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=1)  # [B, freq_dim]


def token_rope(cos: torch.Tensor, sin: torch.Tensor, split: Tuple[int, int, int], grid: Tuple) -> Tuple[torch.Tensor, torch.Tensor]:
    """cos and sin per image token [S, d/2] for a patch grid (Fp, Hp, Wp), S = Fp·Hp·Wp in token
    order: channels [0, a) rotate by the frame index, [a, a+b) by the row, the rest by the column."""
    fp, hp, wp = grid
    a, b, c = split

    def per_token(table: torch.Tensor) -> torch.Tensor:
        f = table[:fp, :a].reshape(fp, 1, 1, a).expand(fp, hp, wp, a)  # [Fp, Hp, Wp, a]
        y = table[:hp, a : a + b].reshape(1, hp, 1, b).expand(fp, hp, wp, b)  # [Fp, Hp, Wp, b]
        x = table[:wp, a + b : a + b + c].reshape(1, 1, wp, c).expand(fp, hp, wp, c)  # [Fp, Hp, Wp, c]
        return torch.cat([f, y, x], dim=-1).reshape(-1, a + b + c)  # [S, d/2]

    return per_token(cos), per_token(sin)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive channel pairs (x₂ⱼ, x₂ⱼ₊₁) of x [B, S, h, d] by the token's angles
    (cos, sin [S, d/2]): the reference's complex product written in real arithmetic."""
    pairs = x.unflatten(-1, (-1, 2))  # [B, S, h, d/2, 2]
    re, im = pairs[..., 0], pairs[..., 1]  # [B, S, h, d/2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]  # [1, S, 1, d/2]
    return torch.stack([re * c - im * s, re * s + im * c], dim=-1).flatten(-2)  # [B, S, h, d]


class WanRMSNorm(nn.Module):
    """RMSNorm over the last axis with a learnt gain (`weight`)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


def layer_norm(dim: int, eps: float, affine: bool = False) -> nn.LayerNorm:
    return nn.LayerNorm(dim, eps=eps, elementwise_affine=affine)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """softmax(Q Kᵀ/√d + bias) V with q [B, h, S, d], k and v [B, h, Sk, d], bias [B, Sk] or None."""
    logits = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)  # [B, h, S, Sk]
    if bias is not None:
        logits = logits + bias[:, None, None, :]
    return torch.matmul(torch.softmax(logits, dim=-1), v)  # [B, h, S, d]


class AttentionProjections(nn.Module):
    """The q, k, v, o projections and the RMSNorms on q and k (full width) that Wan's self- and
    cross-attention share, with the release's parameter names."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        dim, self.heads = cfg.dim, cfg.heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = WanRMSNorm(dim, cfg.eps) if cfg.qk_norm else nn.Identity()
        self.norm_k = WanRMSNorm(dim, cfg.eps) if cfg.qk_norm else nn.Identity()

    def heads_of(self, y: torch.Tensor) -> torch.Tensor:
        """[B, S, dim] -> [B, S, h, d]."""
        return y.unflatten(2, (self.heads, -1))

    def out(self, y: torch.Tensor) -> torch.Tensor:
        """[B, h, S, d] -> the output projection [B, S, dim]."""
        return self.o(y.transpose(1, 2).flatten(2))


class WanSelfAttention(AttentionProjections):
    """Self-attention with RMSNorm on q and k (full width), 3-D RoPE and the context ports."""

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, ctx: Context) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [B, S, dim] -> (out [B, S, dim], K [B, h, S, d], V [B, h, S, d])."""
        ctx_k, ctx_v, ctx_bias = ctx
        q = apply_rope(self.heads_of(self.norm_q(self.q(x))), cos, sin).transpose(1, 2)  # [B, h, S, d]
        k = apply_rope(self.heads_of(self.norm_k(self.k(x))), cos, sin).transpose(1, 2)  # [B, h, S, d]
        v = self.heads_of(self.v(x)).transpose(1, 2)  # [B, h, S, d]
        k_all = torch.cat([k, ctx_k], dim=2)  # [B, h, S + Sc, d]
        v_all = torch.cat([v, ctx_v], dim=2)  # [B, h, S + Sc, d]
        return self.out(attention(q, k_all, v_all, ctx_bias)), k, v  # [B, S, dim]


class WanCrossAttention(AttentionProjections):
    """Attention from the image tokens to all text tokens (padding rows included, as the
    reference's text-to-video pipeline does)."""

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """x [B, S, dim], context [B, L, dim] -> [B, S, dim]."""
        q = self.heads_of(self.norm_q(self.q(x))).transpose(1, 2)  # [B, h, S, d]
        k = self.heads_of(self.norm_k(self.k(context))).transpose(1, 2)  # [B, h, L, d]
        v = self.heads_of(self.v(context)).transpose(1, 2)  # [B, h, L, d]
        return self.out(attention(q, k, v))  # [B, S, dim]


class WanAttentionBlock(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        dim = cfg.dim
        self.norm1 = layer_norm(dim, cfg.eps)
        self.self_attn = WanSelfAttention(cfg)
        self.norm3 = layer_norm(dim, cfg.eps, affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.cross_attn = WanCrossAttention(cfg)
        self.norm2 = layer_norm(dim, cfg.eps)
        self.ffn = nn.Sequential(nn.Linear(dim, cfg.ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(cfg.ffn_dim, dim))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim**0.5)

    def forward(self, x, e0, cos, sin, context, ctx: Context):
        """x [B, S, dim], e0 [B, 6, dim], context [B, L, dim] -> (x, K, V)."""
        shift_a, scale_a, gate_a, shift_f, scale_f, gate_f = (self.modulation + e0).chunk(6, dim=1)  # 6 × [B, 1, dim]
        y, k, v = self.self_attn(self.norm1(x) * (1 + scale_a) + shift_a, cos, sin, ctx)
        x = x + y * gate_a
        x = x + self.cross_attn(self.norm3(x), context)
        x = x + self.ffn(self.norm2(x) * (1 + scale_f) + shift_f) * gate_f
        return x, k, v


class Head(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.norm = layer_norm(cfg.dim, cfg.eps)
        self.head = nn.Linear(cfg.dim, math.prod(cfg.patch) * cfg.out_dim)
        self.modulation = nn.Parameter(torch.randn(1, 2, cfg.dim) / cfg.dim**0.5)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """x [B, S, dim], e [B, dim] -> [B, S, pt·ph·pw·C]."""
        shift, scale = (self.modulation + e[:, None, :]).chunk(2, dim=1)  # 2 × [B, 1, dim]
        return self.head(self.norm(x) * (1 + scale) + shift)


class WanDiT(nn.Module):
    """Velocity network v(x_t, t, text) with context ports in every self-attention layer."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.cfg = cfg.validate()
        dim = cfg.dim
        self.patch_embedding = nn.Conv3d(cfg.in_dim, dim, kernel_size=cfg.patch, stride=cfg.patch)
        self.text_embedding = nn.Sequential(nn.Linear(cfg.text_dim, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim))
        self.time_embedding = nn.Sequential(nn.Linear(cfg.freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, dim * 6))
        self.blocks = nn.ModuleList([WanAttentionBlock(cfg) for _ in range(cfg.layers)])
        self.head = Head(cfg)
        # Constants, not weights: kept out of the state dict so released checkpoints load strictly.
        cos, sin = rope_tables(cfg.head_dim)
        self.register_buffer("rope_cos", cos, persistent=False)  # [P, d/2]
        self.register_buffer("rope_sin", sin, persistent=False)  # [P, d/2]
        self.register_buffer("time_freqs", time_frequencies(cfg.freq_dim), persistent=False)  # [freq_dim/2]

    def forward(
        self, latents: torch.Tensor, t: torch.Tensor, text: torch.Tensor, ctx: Sequence[Context]
    ) -> Tuple[torch.Tensor, List[Tuple[torch.Tensor, torch.Tensor]]]:
        """latents [B, C, F', H', W'], t [B] in [0, 1], text [B, L, text_dim], one context triple
        per layer -> (velocity [B, C, F', H', W'], [(K, V) [B, h, S, d] per layer])."""
        cfg = self.cfg
        if len(ctx) != cfg.layers:
            raise ValueError(f"expected a context (ctx_k, ctx_v, ctx_bias) for each of {cfg.layers} layers, got {len(ctx)}")
        x = self.patch_embedding(latents)  # [B, dim, Fp, Hp, Wp]
        grid = x.shape[2:]
        x = x.flatten(2).transpose(1, 2)  # [B, S, dim]
        cos, sin = token_rope(self.rope_cos, self.rope_sin, cfg.rope_split, grid)  # [S, d/2]

        e = self.time_embedding(time_features(t, self.time_freqs))  # [B, dim]
        e0 = self.time_projection(e).unflatten(1, (6, cfg.dim))  # [B, 6, dim]
        context = self.text_embedding(text)  # [B, L, dim]

        kv = []
        for block, layer_ctx in zip(self.blocks, ctx):
            x, k, v = block(x, e0, cos, sin, context, layer_ctx)
            kv.append((k, v))
        x = self.head(x, e)  # [B, S, pt·ph·pw·C]
        return self.unpatchify(x, latents.shape), kv

    def unpatchify(self, x: torch.Tensor, shape) -> torch.Tensor:
        """[B, S, pt·ph·pw·C] in token order -> [B, C, F', H', W'] of the input's `shape`."""
        b, _, f, h, w = shape
        pt, ph, pw = self.cfg.patch
        c = self.cfg.out_dim
        x = x.reshape(b, f // pt, h // ph, w // pw, pt, ph, pw, c)  # [B, Fp, Hp, Wp, pt, ph, pw, C]
        x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)  # [B, C, Fp, pt, Hp, ph, Wp, pw]
        return x.reshape(b, c, f, h, w)

    def empty_context(self, batch: int, tokens: int) -> List[Context]:
        """Sc = 0 in every layer: what flowedit feeds when nothing is shared."""
        h, d = self.cfg.heads, self.cfg.head_dim
        empty = torch.zeros(batch, h, 0, d)  # [B, h, 0, d]
        return [(empty, empty, torch.zeros(batch, tokens)) for _ in range(self.cfg.layers)]


class TransformerGraph(nn.Module):
    """WanDiT with the transformer graph's flat ports: inputs latents, t, text, then ctx_k.i,
    ctx_v.i, ctx_bias.i per layer; outputs velocity, then k.i, v.i per layer."""

    def __init__(self, model: WanDiT):
        super().__init__()
        self.model = model

    def forward(self, latents, t, text, *flat):
        layers = self.model.cfg.layers
        if len(flat) != 3 * layers:
            raise ValueError(f"expected {3 * layers} context inputs, got {len(flat)}")
        ctx = [tuple(flat[3 * i : 3 * i + 3]) for i in range(layers)]
        velocity, kv = self.model(latents, t, text, ctx)
        return (velocity,) + tuple(z for pair in kv for z in pair)


# ---------------------------------------------------------------- random weights

def init_random(model: WanDiT, seed: int) -> WanDiT:
    """Random weights that keep every path active (the reference zeroes the head's weight, which
    would make the velocity constant): Xavier-uniform matrices, small random biases, norm gains
    near 1, and modulations ~ N(0, 1/dim)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("modulation"):
                p.copy_(torch.randn(p.shape, generator=g) / model.cfg.dim**0.5)
            elif p.ndim >= 2:
                fan_out, fan_in = p.shape[0], p[0].numel()
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
    return model


def build_dit(cfg: DiTConfig, seed: Optional[int] = None) -> WanDiT:
    """A WanDiT in eval mode, with random weights from `seed` when given."""
    model = WanDiT(cfg).eval()
    return init_random(model, seed) if seed is not None else model


# ---------------------------------------------------------------- checkpoint

SINGLE_FILE = "diffusion_pytorch_model.safetensors"
INDEX_FILE = "diffusion_pytorch_model.safetensors.index.json"


def dit_checkpoint_files(folder: str) -> List[str]:
    """The weight files of a release folder (the index first when sharded); a CheckpointError
    naming what is missing otherwise."""
    index = os.path.join(folder, INDEX_FILE)
    single = os.path.join(folder, SINGLE_FILE)
    if os.path.isfile(index):
        return [index]
    if os.path.isfile(single):
        return [single]
    shards = sorted(n for n in os.listdir(folder) if n.startswith("diffusion_pytorch_model-") and n.endswith(".safetensors")) if os.path.isdir(folder) else []
    if shards:
        raise CheckpointError(f"{index}: missing; the folder holds shards ({shards[0]} …) but not the index that names each key's shard: download it too")
    raise CheckpointError(f"{folder}: no transformer weights; expected {SINGLE_FILE} (1.3B) or {INDEX_FILE} with its shards (14B)")


def load_dit_checkpoint(model: WanDiT, folder: str) -> None:
    """Load a release's transformer weights strictly (every key, every shape), cast to float32."""
    (path,) = dit_checkpoint_files(folder)
    state = read_safetensors_index(path) if path.endswith(".index.json") else read_safetensors(path)
    load_strict(model, state, path, f"the Wan2.1 transformer ({model.cfg.name}: {model.cfg.layers} layers, width {model.cfg.dim})")


# ---------------------------------------------------------------- export

# Trace sizes: batch 2, 2 latent frames, a 3 × 4 patch grid (non-square), Sc = 3, 5, 7, ... per layer.
TRACE_BATCH, TRACE_FRAMES, TRACE_GRID = 2, 2, (3, 4)
BATCH, SEQ = "batch", "seq"
LATENT_AXES = ["latent_frames", "latent_height", "latent_width"]


def transformer_ports(cfg: DiTConfig):
    """(inputs, outputs): port name -> shape (ints fixed, strings dynamic) in the contract's order."""
    latent = [BATCH, cfg.in_dim, *LATENT_AXES]
    inputs = {"latents": latent, "t": [BATCH], "text": [BATCH, cfg.text_len, cfg.text_dim]}
    outputs = {"velocity": [BATCH, cfg.out_dim, *LATENT_AXES]}
    for i in range(cfg.layers):
        sc = f"ctx_seq_{i}"
        inputs[f"ctx_k.{i}"] = [BATCH, cfg.heads, sc, cfg.head_dim]
        inputs[f"ctx_v.{i}"] = [BATCH, cfg.heads, sc, cfg.head_dim]
        inputs[f"ctx_bias.{i}"] = [BATCH, f"seq_plus_ctx_seq_{i}"]
        outputs[f"k.{i}"] = [BATCH, cfg.heads, SEQ, cfg.head_dim]
        outputs[f"v.{i}"] = [BATCH, cfg.heads, SEQ, cfg.head_dim]
    return inputs, outputs


def example_inputs(cfg: DiTConfig, batch: int, frames: int, grid: Tuple[int, int], context: Sequence[int], seed: int = 0, bias_scale: float = 1.0) -> List[torch.Tensor]:
    """Graph inputs in port order: `frames` latent frames, a patch `grid` (Hp, Wp), and Sc =
    context[i] keys in layer i with a random bias (× bias_scale)."""
    from ..onnx_export import example_context

    g = torch.Generator().manual_seed(seed)
    pt, ph, pw = cfg.patch
    hp, wp = grid
    s = (frames // pt) * hp * wp
    args = [
        torch.randn(batch, cfg.in_dim, frames, hp * ph, wp * pw, generator=g),  # [B, C, F', H', W']
        torch.rand(batch, generator=g),  # [B]
        torch.randn(batch, cfg.text_len, cfg.text_dim, generator=g),  # [B, L, D]
    ]
    return args + example_context(g, batch, cfg.heads, cfg.head_dim, s, context, bias_scale)


def export_transformer(model: WanDiT, cfg: DiTConfig, path: str) -> None:
    """Write the transformer graph to `path` (weights beside it in `<path>.data` when large).
    Traced with a different Sc > 0 in each layer so that Sc = 0 runs through the same graph."""
    from ..onnx_export import export_graph

    inputs, outputs = transformer_ports(cfg)
    args = example_inputs(cfg, TRACE_BATCH, TRACE_FRAMES * cfg.patch[0], TRACE_GRID, [3 + 2 * i for i in range(cfg.layers)])
    export_graph(TransformerGraph(model), args, path, inputs, outputs)
