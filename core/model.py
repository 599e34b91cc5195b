"""The liquid language model.

Glossary (tensor dimensions):
    b  batch            t  time (tokens)          d  model width (d_model)
    h  heads            k  key width per head     v  value width per head (k = v = d_head)
    c  chunks           l  chunk length           f  MLP hidden width
    w  conv kernel      V  vocabulary

Each mixer solves the leaky ODE  tau * dh/dt = -h + u  between tokens with an input-dependent
time step dt (the "liquid time constant" of LTC/CfC, in its linear form). The exact zero-order-hold
solution is

    a_t = exp(-dt_t / tau),   h_t = a_t * h_{t-1} + (1 - a_t) * u_t,

a linear recurrence with a_t in (0, 1), so it has two forms of one computation:
  * `forward` (training, prefill): a chunked parallel scan over a whole sequence;
  * `step` (decoding): one token at a time on an explicit state.
Both take and return the state: `y, state = mixer(x, state)`, `state=None` meaning the zero state.

Optionally (LiquidConfig.attn_layers) a few blocks use `WindowAttention` instead: softmax
attention over the last `attn_window` tokens. A recurrent state blurs what it stores, so a small
liquid model finds exact copying (a name from the <|memory|> block) hard; one attention block
gives it an exact copy path while the state stays bounded (the window's keys and values).

Two state kinds (LiquidConfig.state_kind):
  * "diagonal": one number per channel, h in (b, d). Scan: log-space (logcumsumexp) within chunks.
  * "matrix":   a (k, v) key-value memory per head, S in (b, h, k, v):
                    S_t = a_t S_{t-1} + (1 - a_t) k_t v_t^T,   o_t = q_t^T S_t
                Scan: decay-masked products inside a chunk, states carried between chunks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from core.config import LiquidConfig
from core.lora import LoRALinear

LayerState = dict[str, torch.Tensor]
_NEG = -1e4  # stands in for log(0) in the log-space scan: finite, so gradients stay finite


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class CausalConv(nn.Module):
    """Depthwise causal convolution over time; its state is the last w-1 inputs, (b, ch, w-1)."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.weight = nn.Parameter(torch.empty(channels, kernel))  # (ch, w)
        self.bias = nn.Parameter(torch.zeros(channels))
        nn.init.uniform_(self.weight, -1 / math.sqrt(kernel), 1 / math.sqrt(kernel))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, ch = x.shape
        xt = x.transpose(1, 2)  # (b, ch, t)
        if state is None:
            state = xt.new_zeros(b, ch, self.kernel - 1)
        xp = torch.cat([state.to(xt.dtype), xt], dim=2)  # (b, ch, t + w - 1)
        y = F.conv1d(xp, self.weight.unsqueeze(1).to(xt.dtype), self.bias.to(xt.dtype), groups=ch)  # (b, ch, t)
        new_state = xp[:, :, xp.shape[2] - (self.kernel - 1) :]
        return y.transpose(1, 2), new_state

    def step(self, x: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (b, ch)
        if state is None:
            state = x.new_zeros(x.shape[0], x.shape[1], self.kernel - 1)
        window = torch.cat([state, x.unsqueeze(2)], dim=2)  # (b, ch, w)
        y = (window * self.weight).sum(-1) + self.bias
        return y, window[:, :, 1:]


def _init_dt_bias(n: int, cfg: LiquidConfig) -> torch.Tensor:
    """softplus(dt_bias) log-uniform in [dt_min, dt_max]: memories from ~1/dt_max to ~1/dt_min tokens."""
    dt = torch.exp(torch.rand(n) * (math.log(cfg.dt_max) - math.log(cfg.dt_min)) + math.log(cfg.dt_min))
    return dt + torch.log(-torch.expm1(-dt))  # inverse softplus


def diagonal_scan(
    log_a: torch.Tensor, x: torch.Tensor, h0: torch.Tensor | None, chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """h_t = exp(log_a_t) * h_{t-1} + x_t for all t, in chunks; returns (h (b, t, d), h_last (b, d)).

    Inside a chunk, with A_t = sum_{s<=t} log_a_s,
        h_t = exp(A_t) h_0 + sum_{s<=t} exp(A_t - A_s) x_s
            = exp(A_t) h_0 + exp(A_t + logcumsumexp_s(log x_s - A_s)),
    with x split into its positive and negative parts so every logarithm is of a positive number.
    Chunks bound |A|, which bounds the cancellation in A_t + logcumsumexp(...).
    """
    b, t, d = x.shape
    pad = (-t) % chunk
    if pad:
        log_a = F.pad(log_a, (0, 0, 0, pad))
        x = F.pad(x, (0, 0, 0, pad))
    c = (t + pad) // chunk
    log_a = log_a.view(b, c, chunk, d)
    x = x.view(b, c, chunk, d)
    A = torch.cumsum(log_a, dim=2)  # (b, c, l, d), <= 0

    def part(v: torch.Tensor) -> torch.Tensor:
        pos = v > 0
        log_v = torch.where(pos, torch.log(torch.where(pos, v, torch.ones_like(v))), torch.full_like(v, _NEG))
        return torch.exp(A + torch.logcumsumexp(log_v - A, dim=2))

    intra = part(x) - part(-x)  # (b, c, l, d): each chunk started from zero
    decay = torch.exp(A)  # (b, c, l, d)
    h = x.new_zeros(b, d) if h0 is None else h0.to(x.dtype)
    starts = []
    for i in range(c):  # carry the state across chunks
        starts.append(h)
        h = decay[:, i, -1] * h + intra[:, i, -1]
    out = intra + decay * torch.stack(starts, dim=1).unsqueeze(2)  # (b, c, l, d)
    out = out.reshape(b, c * chunk, d)[:, :t]
    return out, out[:, -1]


def chunk_states(
    k: torch.Tensor, v: torch.Tensor, w: torch.Tensor, A: torch.Tensor, S: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The state at the start of every chunk and after the last, for S_t = a_t S_{t-1} + w_t k_t v_t^T.

    k (*lk, c, l, k), v (*lk, c, l, v), w (*lk, c, l) the write weights (1 - a), A (*lk, c, l) the
    cumulative log decay inside each chunk, S (*lk, k, v) the state before the first chunk.
    Returns (S_starts (*lk, c, k, v), S_end (*lk, k, v))."""
    to_end = torch.exp(A[..., -1:] - A) * w  # (*lk, c, l): what each step still weighs at its chunk's end
    dS = (k * to_end.unsqueeze(-1)).transpose(-1, -2) @ v  # (*lk, c, k, v): what each chunk adds
    chunk_decay = torch.exp(A[..., -1])  # (*lk, c)
    starts = []
    for i in range(k.shape[-3]):
        starts.append(S)
        S = chunk_decay[..., i, None, None] * S + dS[..., i, :, :]
    return torch.stack(starts, dim=-3), S


def matrix_scan(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, log_a: torch.Tensor, S0: torch.Tensor | None, chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """S_t = a_t S_{t-1} + (1 - a_t) k_t v_t^T,  o_t = q_t^T S_t, for all t, in chunks.

    q: (*lq, t, k); k, v: (*lk, t, k|v); log_a: (*lk, t), with the leading dims lk broadcastable
    to lq (usually both (b, h); a key/value head shared by several query heads is lk = (b, g, 1),
    lq = (b, g, r)). Returns (o (*lq, t, v), S_last (*lk, k, v)).
    Inside a chunk the contribution of s to t is exp(A_t - A_s) (1 - a_s) (q_t . k_s) v_s for s <= t
    (all exponents <= 0, so nothing overflows); the chunk's start state adds exp(A_t) q_t^T S_start.
    """
    *lq, t, dk = q.shape
    lk = k.shape[:-2]
    dv = v.shape[-1]
    pad = (-t) % chunk
    if pad:
        q, k, v = (F.pad(z, (0, 0, 0, pad)) for z in (q, k, v))
        log_a = F.pad(log_a, (0, pad))
    c = (t + pad) // chunk
    q = q.reshape(*lq, c, chunk, dk)
    k = k.reshape(*lk, c, chunk, dk)
    v = v.reshape(*lk, c, chunk, dv)
    log_a = log_a.reshape(*lk, c, chunk)
    w = -torch.expm1(log_a)  # 1 - a, (*lk, c, l)
    A = torch.cumsum(log_a, dim=-1)  # (*lk, c, l)
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    seg = (A.unsqueeze(-1) - A.unsqueeze(-2)).masked_fill(~causal, float("-inf"))  # (*lk, c, l_t, l_s)
    scores = (q @ k.transpose(-1, -2)) * torch.exp(seg) * w.unsqueeze(-2)  # (*lq, c, l, l)
    o = scores @ v  # (*lq, c, l, v)
    S = q.new_zeros(*lk, dk, dv) if S0 is None else S0.to(q.dtype)
    S_starts, S = chunk_states(k, v, w, A, S)
    o = o + torch.exp(A).unsqueeze(-1) * (q @ S_starts)
    # padded steps have log_a = 0 (a = 1) and w = 0, so S passes through them unchanged
    return o.reshape(*lq, c * chunk, dv)[..., :t, :], S


class DiagonalMixer(nn.Module):
    """Liquid mixer with one state number per channel: h in (b, d)."""

    def __init__(self, cfg: LiquidConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.in_proj = LoRALinear(d, 3 * d)  # u, g, s
        self.conv = CausalConv(d, cfg.conv_kernel)
        self.dt_bias = nn.Parameter(_init_dt_bias(d, cfg))
        self.log_tau = nn.Parameter(torch.zeros(d))  # tau = exp(log_tau) > 0
        self.out_proj = LoRALinear(d, d)

    def _gates(self, s: torch.Tensor) -> torch.Tensor:
        dt = F.softplus(s + self.dt_bias)
        return -dt * torch.exp(-self.log_tau)  # log a, < 0

    def forward(self, x: torch.Tensor, state: LayerState | None) -> tuple[torch.Tensor, LayerState]:
        u, g, s = self.in_proj(x).chunk(3, dim=-1)  # (b, t, d) each
        u, conv_state = self.conv(u, None if state is None else state["conv"])
        log_a = self._gates(s)
        h, h_last = diagonal_scan(log_a, -torch.expm1(log_a) * u, None if state is None else state["h"], self.cfg.chunk_size)
        return self.out_proj(h * F.silu(g)), {"conv": conv_state, "h": h_last}

    def step(self, x: torch.Tensor, state: LayerState | None) -> tuple[torch.Tensor, LayerState]:
        u, g, s = self.in_proj(x).chunk(3, dim=-1)  # (b, d) each
        u, conv_state = self.conv.step(u, None if state is None else state["conv"])
        log_a = self._gates(s)
        a = torch.exp(log_a)
        h = u * (1 - a) if state is None else a * state["h"] + (1 - a) * u
        return self.out_proj(h * F.silu(g)), {"conv": conv_state, "h": h}


class MatrixMixer(nn.Module):
    """Liquid mixer with a (k, v) key-value memory per head: S in (b, h, k, v)."""

    def __init__(self, cfg: LiquidConfig) -> None:
        super().__init__()
        d, nh = cfg.d_model, cfg.n_heads
        self.cfg = cfg
        self.in_proj = LoRALinear(d, 4 * d + nh)  # q, k, v, g (d each), s (h)
        self.conv = CausalConv(3 * d, cfg.conv_kernel)  # over q, k, v
        self.dt_bias = nn.Parameter(_init_dt_bias(nh, cfg))
        self.log_tau = nn.Parameter(torch.zeros(nh))
        self.out_norm = RMSNorm(cfg.d_head, cfg.norm_eps)
        self.out_proj = LoRALinear(d, d)

    def _split(self, z: torch.Tensor):
        d, nh = self.cfg.d_model, self.cfg.n_heads
        qkv, g, s = z.split([3 * d, d, nh], dim=-1)
        return qkv, g, s

    def _heads(self, qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # (..., 3d) -> three (..., h, k), q and k unit-length per head so the state stays bounded
        nh, dh = self.cfg.n_heads, self.cfg.d_head
        q, k, v = qkv.unflatten(-1, (3, nh, dh)).unbind(-3)
        return F.normalize(q, dim=-1), F.normalize(k, dim=-1), v

    def _log_a(self, s: torch.Tensor) -> torch.Tensor:
        return -F.softplus(s + self.dt_bias) * torch.exp(-self.log_tau)

    def _readout(self, o: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.out_norm(o).flatten(-2) * F.silu(g))

    def forward(self, x: torch.Tensor, state: LayerState | None) -> tuple[torch.Tensor, LayerState]:
        qkv, g, s = self._split(self.in_proj(x))
        qkv, conv_state = self.conv(qkv, None if state is None else state["conv"])
        q, k, v = (z.transpose(1, 2) for z in self._heads(qkv))  # (b, h, t, k)
        log_a = self._log_a(s).transpose(1, 2)  # (b, h, t)
        o, S = matrix_scan(q, k, v, log_a, None if state is None else state["S"], self.cfg.chunk_size)
        return self._readout(o.transpose(1, 2), g), {"conv": conv_state, "S": S}

    def step(self, x: torch.Tensor, state: LayerState | None) -> tuple[torch.Tensor, LayerState]:
        qkv, g, s = self._split(self.in_proj(x))
        qkv, conv_state = self.conv.step(qkv, None if state is None else state["conv"])
        q, k, v = self._heads(qkv)  # (b, h, k)
        log_a = self._log_a(s)  # (b, h)
        a = torch.exp(log_a)[..., None, None]
        kv = k.unsqueeze(-1) * v.unsqueeze(-2)  # (b, h, k, v)
        S = (1 - a) * kv if state is None else a * state["S"] + (1 - a) * kv
        o = (q.unsqueeze(-2) @ S).squeeze(-2)  # (b, h, v)
        return self._readout(o, g), {"conv": conv_state, "S": S}


class WindowAttention(nn.Module):
    """Causal softmax attention over the last W = attn_window tokens, with a learned sink.

    Keys carry no positions (the liquid blocks below already encode order), so what a query sees
    is the set of the last W keys. The state keeps them oldest-first, right-aligned, with n (b,)
    the number of valid slots: k, v (b, W, h, k). Each head has a learned sink logit (a key with a
    zero value), so a head that finds nothing relevant can attend to nothing.
    """

    def __init__(self, cfg: LiquidConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.qkv_proj = LoRALinear(d, 3 * d)
        self.sink = nn.Parameter(torch.zeros(cfg.n_heads))
        self.out_proj = LoRALinear(d, d)

    def forward(self, x: torch.Tensor, state: LayerState | None) -> tuple[torch.Tensor, LayerState]:
        b, t, d = x.shape
        nh, dh, W = self.cfg.n_heads, self.cfg.d_head, self.cfg.attn_window
        q, k, v = self.qkv_proj(x).view(b, t, 3, nh, dh).unbind(2)  # (b, t, h, k) each
        if state is None:
            past_k = past_v = x.new_zeros(b, 0, nh, dh)
            n = torch.zeros(b, dtype=torch.long, device=x.device)
        else:
            past_k, past_v, n = state["k"].to(x.dtype), state["v"].to(x.dtype), state["n"]
        keys, values = torch.cat([past_k, k], 1), torch.cat([past_v, v], 1)  # (b, p + t, h, k)
        p = past_k.shape[1]
        kpos = torch.arange(-p, t, device=x.device)  # past slot s sits at position s - p
        block = max(W, 64)  # queries in blocks, each against its own keys only: memory stays O(t W)
        outs = []
        for i0 in range(0, t, block):
            i1 = min(t, i0 + block)
            lo = max(0, p + i0 - W + 1)
            outs.append(self._attend(q[:, i0:i1], keys[:, lo : p + i1], values[:, lo : p + i1],
                                     torch.arange(i0, i1, device=x.device), kpos[lo : p + i1], n))
        o = torch.cat(outs, 1).reshape(b, t, d)
        if keys.shape[1] < W:  # left-pad to the fixed window size
            pad = W - keys.shape[1]
            keys, values = F.pad(keys, (0, 0, 0, 0, pad, 0)), F.pad(values, (0, 0, 0, 0, pad, 0))
        new_state = {"k": keys[:, -W:], "v": values[:, -W:], "n": torch.clamp(n + t, max=W)}
        return self.out_proj(o), new_state

    def _attend(self, q, keys, values, qpos, kpos, n) -> torch.Tensor:
        """q (b, tq, h, k) at positions qpos against keys/values (b, s, h, k) at kpos -> (b, tq, h, k)."""
        b, _, nh, dh = q.shape
        in_window = (kpos[None, :] <= qpos[:, None]) & (kpos[None, :] > qpos[:, None] - self.cfg.attn_window)
        valid = kpos[None, :] >= -n[:, None]  # (b, s): past slots beyond n were never written
        mask = in_window[None, None] & valid[:, None, None]  # (b, 1, tq, s)
        scores = torch.einsum("bthk,bshk->bhts", q, keys) * dh**-0.5
        scores = scores.masked_fill(~mask, float("-inf"))
        sink = self.sink.to(scores.dtype).view(1, nh, 1, 1).expand(b, nh, q.shape[1], 1)
        probs = torch.softmax(torch.cat([scores, sink], -1).float(), -1)[..., :-1].to(values.dtype)
        return torch.einsum("bhts,bshk->bthk", probs, values)

    def step(self, x: torch.Tensor, state: LayerState | None) -> tuple[torch.Tensor, LayerState]:
        y, state = self.forward(x.unsqueeze(1), state)
        return y.squeeze(1), state


class SwiGLU(nn.Module):
    def __init__(self, cfg: LiquidConfig) -> None:
        super().__init__()
        self.gate_proj = LoRALinear(cfg.d_model, cfg.d_ff)
        self.up_proj = LoRALinear(cfg.d_model, cfg.d_ff)
        self.down_proj = LoRALinear(cfg.d_ff, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    """Pre-norm: x + mixer(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: LiquidConfig, index: int = 0) -> None:
        super().__init__()
        self.mixer_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        if index in cfg.attn_layers:
            self.mixer: nn.Module = WindowAttention(cfg)
        else:
            self.mixer = MatrixMixer(cfg) if cfg.state_kind == "matrix" else DiagonalMixer(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x: torch.Tensor, state: LayerState | None) -> tuple[torch.Tensor, LayerState]:
        y, state = self.mixer(self.mixer_norm(x), state)
        x = x + y
        return x + self.mlp(self.mlp_norm(x)), state

    def step(self, x: torch.Tensor, state: LayerState | None) -> tuple[torch.Tensor, LayerState]:
        y, state = self.mixer.step(self.mixer_norm(x), state)
        x = x + y
        return x + self.mlp(self.mlp_norm(x)), state


class LiquidLM(nn.Module):
    """Embedding, a stack of liquid blocks, a final norm and the tied output head."""

    def __init__(self, cfg: LiquidConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.decode_head: nn.Module | None = None  # an inference-only head for `step` (see core/fast.py)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        std = self.cfg.init_std
        nn.init.normal_(self.embed.weight, std=std)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, std=std)
                if name.endswith(("out_proj.weight", "down_proj.weight")):
                    p.mul_(1 / math.sqrt(2 * self.cfg.n_layers))

    def forward(
        self, ids: torch.Tensor, state: list[LayerState] | None = None
    ) -> tuple[torch.Tensor, list[LayerState]]:
        """ids (b, t) -> logits (b, t, V) and the state after the last token."""
        x = self.embed(ids)  # (b, t, d)
        new_state = []
        for i, block in enumerate(self.blocks):
            x, s = block(x, None if state is None else state[i])
            new_state.append(s)
        return F.linear(self.norm(x), self.embed.weight), new_state

    def hidden(self, ids: torch.Tensor, state: list[LayerState] | None = None) -> torch.Tensor:
        """The final normed hidden states (b, t, d), for losses that avoid full logits."""
        x = self.embed(ids)
        for i, block in enumerate(self.blocks):
            x, _ = block(x, None if state is None else state[i])
        return self.norm(x)

    def step(self, ids: torch.Tensor, state: list[LayerState] | None = None) -> tuple[torch.Tensor, list[LayerState]]:
        """One token per sequence: ids (b,) -> logits (b, V) and the new state."""
        x = self.embed(ids)  # (b, d)
        new_state = []
        for i, block in enumerate(self.blocks):
            x, s = block.step(x, None if state is None else state[i])
            new_state.append(s)
        x = self.norm(x)
        return (self.decode_head(x) if self.decode_head is not None else F.linear(x, self.embed.weight)), new_state

    def num_parameters(self) -> int:
        return sum(p.numel() for n, p in self.named_parameters() if "lora_" not in n)


def zero_state(cfg: LiquidConfig, batch: int = 1, dtype: torch.dtype = torch.float32) -> list[LayerState]:
    """The state before any token: what `state=None` means, made explicit (for shapes and storage)."""
    if not isinstance(cfg, LiquidConfig):  # another model kind (core/lfm2.py) knows its own state
        return cfg.zero_state(batch, dtype)
    w = cfg.conv_kernel - 1
    attention = lambda: {  # noqa: E731
        "k": torch.zeros(batch, cfg.attn_window, cfg.n_heads, cfg.d_head, dtype=dtype),
        "v": torch.zeros(batch, cfg.attn_window, cfg.n_heads, cfg.d_head, dtype=dtype),
        "n": torch.zeros(batch, dtype=torch.long),
    }
    if cfg.state_kind == "diagonal":
        layer = lambda: {"conv": torch.zeros(batch, cfg.d_model, w, dtype=dtype), "h": torch.zeros(batch, cfg.d_model, dtype=dtype)}  # noqa: E731
    else:
        layer = lambda: {  # noqa: E731
            "conv": torch.zeros(batch, 3 * cfg.d_model, w, dtype=dtype),
            "S": torch.zeros(batch, cfg.n_heads, cfg.d_head, cfg.d_head, dtype=dtype),
        }
    return [attention() if i in cfg.attn_layers else layer() for i in range(cfg.n_layers)]


@torch.no_grad()
def insert_attention_block(model: LiquidLM, at: int) -> LiquidLM:
    """A copy of `model` with a new `WindowAttention` block at index `at` (later blocks move up).

    The new block's two output projections start at zero, so the grown model computes exactly
    what the old one did; training then teaches the new block what to add.
    """
    from dataclasses import replace

    cfg = model.cfg
    if not 0 <= at <= cfg.n_layers:
        raise ValueError(f"--at must be in 0..{cfg.n_layers}, got {at}")
    moved = [i + 1 if i >= at else i for i in cfg.attn_layers]
    grown_cfg = replace(cfg, n_layers=cfg.n_layers + 1, attn_layers=sorted(moved + [at]))
    grown = LiquidLM(grown_cfg)
    grown.embed.load_state_dict(model.embed.state_dict())
    grown.norm.load_state_dict(model.norm.state_dict())
    for i, block in enumerate(model.blocks):
        grown.blocks[i + 1 if i >= at else i].load_state_dict(block.state_dict())
    new = grown.blocks[at]
    new.mixer.out_proj.weight.zero_()
    new.mlp.down_proj.weight.zero_()
    return grown
