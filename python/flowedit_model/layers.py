"""Building blocks shared by the DiT and the text encoder.

Everything here runs as plain matmul / softmax / elementwise ops in PyTorch, and every size is
read from tensor shapes at run time (the traced graph then works for any batch, grid and
sequence length). While torch.onnx traces a module (`exporting()`), three blocks are written as
the operators onnxruntime runs in one kernel each, with the same math (docs/performance.md):
attention as com.microsoft::MultiHeadAttention, the MLP's bias and GELU(tanh) as
com.microsoft::FastGelu, and RMSNorm in the form onnxruntime fuses into
SimplifiedLayerNormalization; head reshapes use fixed shapes ([0, -1, h, d]) instead of shape
arithmetic. A call of the built-in pack's transformer then runs about half as many operators.
"""

import contextlib
import math
from typing import Dict, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

MAX_PERIOD = 10000.0


@contextlib.contextmanager
def _switched(flag: Dict[str, bool], on: bool):
    """Within it, flag["on"] is `on`; restored after."""
    before = flag["on"]
    flag["on"] = on
    try:
        yield
    finally:
        flag["on"] = before


ORT_OPERATORS = {"on": True}  # off inside standard_operators()


def standard_operators():
    """Within it, an export writes standard ONNX operators only: the form of packs exported before
    the fused operators (python/reexport_pack.py reads their weights through it)."""
    return _switched(ORT_OPERATORS, False)


def exporting() -> bool:
    """True while torch.onnx traces a module outside standard_operators(): the blocks below then
    write onnxruntime's operators."""
    return ORT_OPERATORS["on"] and bool(torch.onnx.is_in_onnx_export())


def _optional_input(g):
    """An absent optional input of an ONNX node, for a symbolic function."""
    try:  # torch >= 2.9 keeps the TorchScript exporter's helpers here
        from torch.onnx._internal.torchscript_exporter import symbolic_helper
    except ImportError:
        from torch.onnx import symbolic_helper
    return symbolic_helper._optional_input_placeholder_tensor(g)


def _ints(g, values):
    return g.op("Constant", value_t=torch.tensor(values, dtype=torch.int64))


class _FixedReshape(torch.autograd.Function):
    """Reshape to a fixed ONNX shape (0 copies a size, -1 infers one): one Reshape node with a
    constant shape instead of the Shape/Gather/Unsqueeze/Concat the exporter writes for x.shape."""

    @staticmethod
    def forward(ctx, x, shape):
        return x.reshape(*[x.shape[i] if size == 0 else size for i, size in enumerate(shape)])

    @staticmethod
    def symbolic(g, x, shape):
        return g.op("Reshape", x, _ints(g, list(shape)))


def view_heads(x: torch.Tensor, heads: int, head_dim: int) -> torch.Tensor:
    """[B, S, h·d] -> [B, S, h, d]."""
    if exporting():
        return _FixedReshape.apply(x, (0, -1, heads, head_dim))
    return x.unflatten(-1, (heads, head_dim))  # [B, S, h, d]


def join_heads(x: torch.Tensor) -> torch.Tensor:
    """[B, S, h, d] -> [B, S, h·d]."""
    if exporting():
        return _FixedReshape.apply(x, (0, 0, -1))
    return x.flatten(-2)  # [B, S, h·d]


class _FastGelu(torch.autograd.Function):
    """GELU(tanh)(x + b), as com.microsoft::FastGelu with its bias input."""

    @staticmethod
    def forward(ctx, x, bias):
        return F.gelu(x + bias, approximate="tanh")

    @staticmethod
    def symbolic(g, x, bias):
        return g.op("com.microsoft::FastGelu", x, bias).setType(x.type())


class _MultiHeadAttention(torch.autograd.Function):
    """softmax(Q Kᵀ / √d + bias) V over heads, as com.microsoft::MultiHeadAttention with key and
    value already split into heads ([B, h, T, d]) and the key bias broadcast to [B, 1, S, T]."""

    @staticmethod
    def forward(ctx, q, k, v, bias, heads):
        return _attend(q, k, v, heads, bias)

    @staticmethod
    def symbolic(g, q, k, v, bias, heads):
        if bias is None or bias.node().mustBeNone():
            bias4 = _optional_input(g)
        else:
            b4 = g.op("Unsqueeze", bias, _ints(g, [1, 2]))  # [B, 1, 1, T]
            rows = g.op("Shape", q, start_i=1, end_i=2)  # [S]
            bias4 = g.op("Expand", b4, g.op("Concat", _ints(g, [1, 1]), rows, _ints(g, [1]), axis_i=0))  # [B, 1, S, T]
        none = _optional_input(g)
        return g.op("com.microsoft::MultiHeadAttention", q, k, v, none, none, bias4, num_heads_i=heads).setType(q.type())


def load_fitting(module: nn.Module, state: Dict[str, torch.Tensor]) -> None:
    """Loads a state dict whose tensors are exactly the module's; raises KeyError saying how
    many are missing, unexpected or of another size (with an example) when they are not."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    resized = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or extra or resized:
        raise KeyError(f"{len(missing)} tensors missing, {len(extra)} unexpected, {len(resized)} of another size"
                       f"{', e.g. ' + resized[0] if resized else ''}")
    module.load_state_dict(state)


def sinusoid(pos: torch.Tensor, width: int) -> torch.Tensor:
    """Sinusoidal features [sin(pos·ω_j), cos(pos·ω_j)] with ω_j = 10000^(−j/half).

    pos: [N] float positions (any N) -> [N, width].
    """
    half = width // 2
    j = torch.arange(half, dtype=torch.float32, device=pos.device)  # [half]
    omega = torch.exp(j * (-math.log(MAX_PERIOD) / half))  # [half]
    angle = pos.to(torch.float32)[:, None] * omega[None, :]  # [N, half]
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)  # [N, width]


def grid_position_embedding(fp, hp, wp, dim: int, device: Optional[torch.device] = None) -> torch.Tensor:
    """Factorised 3-D sinusoidal position embedding of a patch grid of Fp × Hp × Wp tokens.

    The channels are split into (f, y, x) groups, each the 1-D sinusoid of that coordinate,
    and the result is flattened in token order (f·Hp + y)·Wp + x. fp, hp, wp may be traced
    sizes, so the embedding follows the input's grid at run time. It is built on `device`
    (the CPU when None), the device of the tokens it is added to.
    Returns [Fp·Hp·Wp, dim].
    """
    d_yx = 2 * (dim // 6)  # even width per spatial axis
    d_f = dim - 2 * d_yx  # the rest goes to time
    e_f = sinusoid(torch.arange(fp, dtype=torch.float32, device=device), d_f)  # [Fp, d_f]
    e_y = sinusoid(torch.arange(hp, dtype=torch.float32, device=device), d_yx)  # [Hp, d_yx]
    e_x = sinusoid(torch.arange(wp, dtype=torch.float32, device=device), d_yx)  # [Wp, d_yx]
    e = torch.cat(
        [
            e_f[:, None, None, :].expand(fp, hp, wp, d_f),  # [Fp, Hp, Wp, d_f]
            e_y[None, :, None, :].expand(fp, hp, wp, d_yx),  # [Fp, Hp, Wp, d_yx]
            e_x[None, None, :, :].expand(fp, hp, wp, d_yx),  # [Fp, Hp, Wp, d_yx]
        ],
        dim=-1,
    )  # [Fp, Hp, Wp, dim]
    return e.reshape(-1, dim)  # [n, dim]


class ScalarEmbedder(nn.Module):
    """DiT's timestep embedder: sinusoid of 1000·t, then a two-layer MLP (also used for guidance)."""

    def __init__(self, freq_dim: int, dim: int):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        f = sinusoid(1000.0 * s, self.freq_dim)  # [B, freq_dim]
        return self.mlp(f)  # [B, dim]


class RMSNorm(nn.Module):
    """x / rms(x) · w over the last axis (used as QK-norm on each head)."""

    def __init__(self, width: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if exporting():  # the pattern onnxruntime fuses into one SimplifiedLayerNormalization
            return x / torch.sqrt(torch.mean(x.pow(2), dim=-1, keepdim=True) + self.eps) * self.weight
        ms = torch.mean(x * x, dim=-1, keepdim=True)  # [..., 1]
        return x * torch.rsqrt(ms + self.eps) * self.weight  # [..., width]


def layer_norm(width: int) -> nn.LayerNorm:
    """LayerNorm with affine weights (exports as one LayerNormalization op at opset 17)."""
    return nn.LayerNorm(width, eps=1e-6, elementwise_affine=True)


def split_heads(x: torch.Tensor, heads: int, head_dim: int) -> torch.Tensor:
    """[B, S, h·d] -> [B, h, S, d]."""
    return view_heads(x, heads, head_dim).transpose(1, 2)  # [B, h, S, d]


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[B, h, S, d] -> [B, S, h·d]."""
    return join_heads(x.transpose(1, 2))  # [B, S, h·d]


def norm_heads(x: torch.Tensor, norm: nn.Module, heads: int, head_dim: int) -> torch.Tensor:
    """A per-head norm (QK-norm) of x [B, S, h·d], kept as [B, S, h·d]."""
    return join_heads(norm(view_heads(x, heads, head_dim)))  # [B, S, h·d]


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
           bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Multi-head attention of q [B, S, h·d] over k, v [B, h, T, d] with an additive key bias
    [B, T] (or None) -> [B, S, h·d]; one MultiHeadAttention node in an exported graph."""
    if exporting():
        return _MultiHeadAttention.apply(q, k, v, bias, heads)
    return _attend(q, k, v, heads, bias)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """attend() in PyTorch's own operators (also what the exported node's trace computes)."""
    d = k.shape[-1]
    b4 = None if bias is None else bias[:, None, None, :]  # [B, 1, 1, T]
    out = attention(q.unflatten(-1, (heads, d)).transpose(1, 2), k, v, d, b4)  # [B, h, S, d]
    return out.transpose(1, 2).flatten(-2)  # [B, S, h·d]


FUSED = {"on": False}  # training only: attention() through F.scaled_dot_product_attention


def fused_attention(on: bool = True):
    """Within it, attention() runs as one fused kernel (F.scaled_dot_product_attention: flash or
    memory-efficient attention on a GPU), for training. The export runs outside it and writes
    attention as onnxruntime's MultiHeadAttention (attend)."""
    return _switched(FUSED, on)


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    head_dim: int,
    bias: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """softmax(Q Kᵀ / √d + bias) V with explicit matmuls (d = head_dim), or fused inside
    fused_attention().

    q: [B, h, S, d], k and v: [B, h, T, d], bias: broadcastable to [B, h, S, T].
    Returns [B, h, S, d].
    """
    if FUSED["on"]:
        # under autocast the QK-norm's weights make q and k float32 while v comes out of a linear map
        # in the autocast type: one type for the kernel
        dtype = torch.get_autocast_dtype(q.device.type) if torch.is_autocast_enabled(q.device.type) else q.dtype
        mask = None if bias is None else bias.to(dtype)  # [B, 1, 1, T] or broadcastable
        out = F.scaled_dot_product_attention(q.to(dtype), k.to(dtype), v.to(dtype), attn_mask=mask,
                                             scale=1.0 / math.sqrt(head_dim))  # [B, h, S, d]
        return out
    a = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(head_dim)  # [B, h, S, T]
    if bias is not None:
        a = a + bias  # [B, h, S, T]
    p = torch.softmax(a, dim=-1)  # [B, h, S, T]
    return torch.matmul(p, v)  # [B, h, S, d]


class MLP(nn.Module):
    """Position-wise feed-forward: Linear -> GELU(tanh) -> Linear."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if exporting():  # fc1's bias enters FastGelu
            return self.fc2(_FastGelu.apply(torch.matmul(x, self.fc1.weight.t()), self.fc1.bias))  # [B, S, dim]
        return self.fc2(self.act(self.fc1(x)))  # [B, S, dim]


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: x · (1 + scale) + shift, with per-sample shift/scale [B, 1, dim] over [B, S, dim]."""
    return x * (1.0 + scale) + shift  # [B, S, dim]


def split_rows(x: torch.Tensor, width: int, parts: int) -> Tuple[torch.Tensor, ...]:
    """[B, parts·width] -> parts × [B, 1, width]: adaLN's shifts, scales and gates, ready to
    broadcast over tokens (one Unsqueeze and one Split of fixed sizes in an exported graph)."""
    return torch.split(x[:, None, :], [width] * parts, dim=-1)


def init_weights(module: nn.Module, gain: float = 1.0, bias_std: float = 0.02) -> None:
    """Random init with unit-variance-preserving linears (std gain/√fan_in) and small biases.

    Nothing is zero-initialised, so a random-weight model responds to every input.
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            fan_in = m.weight[0].numel()  # in_features, or in_channels · kH · kW
            nn.init.normal_(m.weight, std=gain / math.sqrt(fan_in))
            if m.bias is not None:
                nn.init.normal_(m.bias, std=bias_std)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=1.0)
