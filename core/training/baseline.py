"""An equal-size transformer, used only by benchmarks and the equal-budget training comparison.

Same width, depth, vocabulary and MLP as `LiquidLM` (diagonal sizing), with multi-head causal
self-attention, rotary positions and a preallocated KV cache, so speed and quality claims about
the liquid model are ratios measured against it in one run.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from core.config import LiquidConfig
from core.model import RMSNorm, SwiGLU


def rope(x: torch.Tensor, pos: torch.Tensor, theta: float = 10000.0) -> torch.Tensor:
    """Rotary embedding. x: (b, h, t, k), pos: (t,)."""
    half = x.shape[-1] // 2
    freqs = theta ** (-torch.arange(half, dtype=torch.float32, device=x.device) / half)  # (k/2,)
    ang = pos.to(torch.float32)[:, None] * freqs  # (t, k/2)
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class KVCache:
    """Preallocated keys and values for every layer: (layers, b, h, max_len, k) each."""

    def __init__(self, cfg: LiquidConfig, batch: int, max_len: int, dtype: torch.dtype = torch.float32) -> None:
        shape = (cfg.n_layers, batch, cfg.n_heads, max_len, cfg.d_head)
        self.k = torch.zeros(shape, dtype=dtype)
        self.v = torch.zeros(shape, dtype=dtype)
        self.pos = 0
        self.max_len = max_len

    def nbytes(self) -> int:
        return self.k.numel() * self.k.element_size() * 2


class Attention(nn.Module):
    def __init__(self, cfg: LiquidConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.qkv_proj = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, layer: int, cache: KVCache | None) -> torch.Tensor:
        b, t, _ = x.shape
        nh, dh = self.cfg.n_heads, self.cfg.d_head
        q, k, v = self.qkv_proj(x).view(b, t, 3, nh, dh).permute(2, 0, 3, 1, 4)  # (b, h, t, k) each
        start = cache.pos if cache is not None else 0
        pos = torch.arange(start, start + t, device=x.device)
        q, k = rope(q, pos), rope(k, pos)
        if cache is None:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            if start + t > cache.max_len:
                raise RuntimeError(f"KV cache full: {start + t} tokens > max_len {cache.max_len}")
            cache.k[layer, :, :, start : start + t] = k
            cache.v[layer, :, :, start : start + t] = v
            keys, vals = cache.k[layer, :, :, : start + t], cache.v[layer, :, :, : start + t]
            if t == 1:  # one new token sees everything cached
                o = F.scaled_dot_product_attention(q, keys, vals)
            elif start == 0:
                o = F.scaled_dot_product_attention(q, keys, vals, is_causal=True)
            else:
                o = F.scaled_dot_product_attention(q, keys, vals, attn_mask=_prefix_causal_mask(t, start, x.device))
        return self.out_proj(o.transpose(1, 2).reshape(b, t, -1))

    def step_static(self, x: torch.Tensor, layer: int, cache: KVCache, pos: torch.Tensor) -> torch.Tensor:
        """One token x (b, 1, d) at position `pos` (a 0-d long tensor), attending over the whole
        preallocated cache with the slots after `pos` masked: every shape is fixed."""
        b = x.shape[0]
        nh, dh = self.cfg.n_heads, self.cfg.d_head
        q, k, v = self.qkv_proj(x).view(b, 1, 3, nh, dh).permute(2, 0, 3, 1, 4)  # (b, h, 1, k) each
        p = pos.view(1)
        q, k = rope(q, p), rope(k, p)
        cache.k[layer].index_copy_(2, p, k)
        cache.v[layer].index_copy_(2, p, v)
        mask = (torch.arange(cache.max_len, device=x.device) <= pos)[None, :]  # (1, max_len)
        o = F.scaled_dot_product_attention(q, cache.k[layer], cache.v[layer], attn_mask=mask)  # (b, h, 1, k)
        return self.out_proj(o.transpose(1, 2).reshape(b, 1, -1))


def _prefix_causal_mask(t: int, start: int, device) -> torch.Tensor:
    q_pos = torch.arange(start, start + t, device=device)[:, None]
    k_pos = torch.arange(start + t, device=device)[None, :]
    return k_pos <= q_pos


class TransformerBlock(nn.Module):
    def __init__(self, cfg: LiquidConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x: torch.Tensor, layer: int, cache: KVCache | None) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), layer, cache)
        return x + self.mlp(self.mlp_norm(x))

    def step_static(self, x: torch.Tensor, layer: int, cache: KVCache, pos: torch.Tensor) -> torch.Tensor:
        x = x + self.attn.step_static(self.attn_norm(x), layer, cache, pos)
        return x + self.mlp(self.mlp_norm(x))


class TransformerLM(nn.Module):
    """The baseline: `logits = model(ids, cache)`; with a cache, `cache.pos` advances by t."""

    def __init__(self, cfg: LiquidConfig) -> None:
        super().__init__()
        if cfg.state_kind != "diagonal":  # the diagonal sizing has the full 8/3 d MLP
            from dataclasses import replace

            cfg = replace(cfg, state_kind="diagonal", d_ff=0)
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    nn.init.normal_(p, std=cfg.init_std)
                    if name.endswith(("out_proj.weight", "down_proj.weight")):
                        p.mul_(1 / math.sqrt(2 * cfg.n_layers))

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        x = self.embed(ids)
        for i, block in enumerate(self.blocks):
            x = block(x, i, cache)
        if cache is not None:
            cache.pos += ids.shape[1]
        return F.linear(self.norm(x), self.embed.weight)

    def step_static(self, ids: torch.Tensor, cache: KVCache, pos: torch.Tensor) -> torch.Tensor:
        """One decoding step with fixed shapes (what `torch.compile` compiles once): ids (b,) at
        position `pos` (0-d long tensor, the cache's fill); returns logits (b, v). Writes the cache
        slot `pos` but leaves `cache.pos` to the caller. Equal to `forward(ids[:, None], cache)`."""
        x = self.embed(ids)[:, None]  # (b, 1, d)
        for i, block in enumerate(self.blocks):
            x = block.step_static(x, i, cache, pos)
        return F.linear(self.norm(x[:, 0]), self.embed.weight)

    def hidden(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for i, block in enumerate(self.blocks):
            x = block(x, i, None)
        return self.norm(x)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
