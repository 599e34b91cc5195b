"""Grouped-query softmax attention over a bounded cache: what LFM2 (core/lfm2.py) and the
converted hybrid (core/hybrid.py) share.

The cache of one layer: {"k": (b, g, c, e), "v": (b, g, c, e), "pos": (b, c) int64}, slots
0 .. sinks-1 holding the first tokens for good, the rest a ring of the last `window` (see the
module doc of core/lfm2.py). A config used here has num_attention_heads, num_key_value_heads,
head_dim, hidden_size, attention_window, attention_sinks, cache_slots, norm_eps and rope_theta.
"""

from __future__ import annotations

import hashlib
import json

import torch
import torch.nn.functional as F
from torch import nn

from core.lora import LoRALinear

LayerState = dict[str, torch.Tensor]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in fp32 as transformers does, also under the learner's bf16 autocast (a bf16 input
        # with the fp32 weight would take torch's slower unfused path, with a warning)
        return F.rms_norm(x.float(), (x.shape[-1],), self.weight, self.eps).to(x.dtype)


def check_attention_sizes(cfg) -> None:
    """Grouped-query heads that divide evenly, and an even head width for RoPE (any config with
    num_attention_heads, num_key_value_heads and head_dim)."""
    if cfg.num_attention_heads % cfg.num_key_value_heads:
        raise ValueError(
            f"num_attention_heads ({cfg.num_attention_heads}) must be a multiple of "
            f"num_key_value_heads ({cfg.num_key_value_heads})"
        )
    if cfg.head_dim % 2:
        raise ValueError(f"head_dim must be even for RoPE, got {cfg.head_dim}")


def attention_cache(cfg, batch: int, dtype: torch.dtype) -> LayerState:
    """An empty bounded cache of one attention layer: slots for the sinks and the window."""
    kv = (batch, cfg.num_key_value_heads, cfg.cache_slots, cfg.head_dim)
    return {
        "k": torch.zeros(kv, dtype=dtype),
        "v": torch.zeros(kv, dtype=dtype),
        "pos": torch.full((batch, cfg.cache_slots), -1, dtype=torch.long),
    }


def config_digest(model_type: str, cfg, keys) -> str:
    """A short digest of the named config fields (what decides the shapes of weights and states)."""
    blob = json.dumps({"model_type": model_type, **{k: getattr(cfg, k) for k in keys}}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def rope(x: torch.Tensor, pos: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    """Rotate x (b, heads, t, e) by positions pos (b, t); halves layout (rotate_half)."""
    freqs = pos.unsqueeze(-1).float() * inv_freq  # (b, t, e/2)
    cos, sin = freqs.cos().unsqueeze(1).to(x.dtype), freqs.sin().unsqueeze(1).to(x.dtype)  # (b, 1, t, e/2)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    """Grouped-query attention with per-head RMSNorm on q and k, RoPE, and the bounded cache."""

    def __init__(self, cfg) -> None:  # an Lfm2Config or a HybridConfig
        super().__init__()
        d, h, g, e = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.h, self.g, self.e = h, g, e
        self.sinks, self.window = cfg.attention_sinks, cfg.attention_window
        self.q_proj = LoRALinear(d, h * e)
        self.k_proj = LoRALinear(d, g * e)
        self.v_proj = LoRALinear(d, g * e)
        self.out_proj = LoRALinear(h * e, d)
        self.q_layernorm = RMSNorm(e, cfg.norm_eps)
        self.k_layernorm = RMSNorm(e, cfg.norm_eps)
        self.rope_theta = cfg.rope_theta
        self.register_buffer("inv_freq", self._inv_freq(), persistent=False)

    def _inv_freq(self) -> torch.Tensor:
        return 1.0 / (self.rope_theta ** (torch.arange(0, self.e, 2, dtype=torch.float) / self.e))  # (e/2,)

    def _qkv(self, x: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (b, t, d), pos (b, t) -> q (b, h, t, e), k and v (b, g, t, e), rotated."""
        q = self.q_layernorm(self.q_proj(x).unflatten(-1, (self.h, self.e))).transpose(1, 2)
        k = self.k_layernorm(self.k_proj(x).unflatten(-1, (self.g, self.e))).transpose(1, 2)
        v = self.v_proj(x).unflatten(-1, (self.g, self.e)).transpose(1, 2)
        return rope(q, pos, self.inv_freq), rope(k, pos, self.inv_freq), v

    def _slot(self, p: int) -> int:
        return p if p < self.sinks else self.sinks + (p - self.sinks) % self.window

    def forward(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        """x (b, t, d); writes the new keys into state's slots (in place: the caller owns the copy)."""
        b, t, _ = x.shape
        n = int(state["pos"][0].max()) + 1  # tokens read so far (slots fill in order: a prefix is used)
        pos = torch.arange(n, n + t, device=x.device).expand(b, t)  # (b, t)
        q, k, v = self._qkv(x, pos)
        used = min(n, state["pos"].shape[1])
        if used == 0 and t <= self.sinks + self.window:  # nothing cached, window not exceeded: plain causal
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.g != self.h)
        else:
            keys = torch.cat([state["k"][:, :, :used].to(k.dtype), k], dim=2)  # (b, g, used + t, e)
            vals = torch.cat([state["v"][:, :, :used].to(v.dtype), v], dim=2)
            kpos = torch.cat([state["pos"][:, :used], pos], dim=1)  # (b, used + t)
            qp, kp = pos.unsqueeze(2), kpos.unsqueeze(1)  # (b, t, 1), (b, 1, used + t)
            mask = (kp <= qp) & ((kp < self.sinks) | (kp > qp - self.window))  # (b, t, used + t)
            o = F.scaled_dot_product_attention(q, keys, vals, attn_mask=mask.unsqueeze(1), enable_gqa=self.g != self.h)
        self._write(state, k, v, n, t)
        return self.out_proj(o.transpose(1, 2).flatten(2))  # (b, t, h*e) -> (b, t, d)

    def _write(self, state: LayerState, k: torch.Tensor, v: torch.Tensor, n: int, t: int) -> None:
        """Store the keys a later query can still see: the sinks and the last `window` tokens."""
        ps = [p for p in range(n, n + t) if p < self.sinks or p > n + t - 1 - self.window]
        if not ps:
            return
        idx = torch.tensor([p - n for p in ps], device=k.device)
        slots = torch.tensor([self._slot(p) for p in ps], device=k.device)
        state["k"].index_copy_(2, slots, k.detach().index_select(2, idx).to(state["k"].dtype))
        state["v"].index_copy_(2, slots, v.detach().index_select(2, idx).to(state["v"].dtype))
        state["pos"][:, slots] = torch.tensor(ps, device=k.device)

    def step(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        """x (b, d); one token, written into its slot in place; attends to every used slot."""
        b = x.shape[0]
        p = int(state["pos"][0].max()) + 1
        q, k, v = self._qkv(x.unsqueeze(1), torch.full((b, 1), p, device=x.device))  # (b, h|g, 1, e)
        slot = self._slot(p)
        state["k"][:, :, slot] = k[:, :, 0]
        state["v"][:, :, slot] = v[:, :, 0]
        state["pos"][:, slot] = p
        used = min(p + 1, state["pos"].shape[1])  # after the write, every used slot is in the window
        o = F.scaled_dot_product_attention(
            q, state["k"][:, :, :used], state["v"][:, :, :used], enable_gqa=self.g != self.h
        )  # (b, h, 1, e)
        return self.out_proj(o.flatten(1))
