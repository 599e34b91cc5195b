"""A pretrained Llama-family transformer made liquid: the converted default model.

Glossary (tensor dimensions):
    b  batch            t  time (new tokens)        d  width (hidden_size)
    h  query heads      g  key/value heads (GQA)    r  query heads per key/value head (h / g)
    e  head width       f  feature width of the liquid maps (2e: a softmax of +z and of -z)
    c  cache slots of an attention layer (sinks + window)          V  vocabulary

Every block is pre-norm: x + mixer(norm(x)), then x + mlp(norm(x)), with the embeddings, norms
and SwiGLU MLPs of the source model (SmolLM2-135M-Instruct by default, read from its GGUF by
core/gguf_reader.py). The mixer is one of two kinds (`HybridConfig.layer_types`):

  * "attention": the source layer's own grouped-query softmax attention with RoPE, over a
    bounded cache: `attention_sinks` first tokens plus a ring of the last `attention_window`
    (core/lfm2.py's `Attention`, without LFM2's q/k norms). With the window longer than the
    text it is exactly the source layer (tested against transformers' LlamaForCausalLM).
  * "liquid": the same q/k/v/o projections, but the softmax over the whole past is replaced by a
    matrix state per key/value head, shared by its r query heads, with an input-dependent decay:

        phi(z)  = [softmax(z W), softmax(-z W)]           W (e, e) per head, initialised to I
        a_t     = exp(-softplus(w_a . x_t + b_a))         one per key/value head, in (0, 1)
        S_t     = a_t S_{t-1} + (1 - a_t) phi(k_t) [v_t, 1]^T          (f, e + 1)
        o_t     = (phi(q_t)^T S_t)[:e] / (phi(q_t)^T S_t)[e]

    S_t is the exact zero-order-hold solution of the leaky ODE tau dS/dt = -S + phi(k) [v, 1]^T
    with an input-dependent time step (the liquid time constant, as in core/model.py's matrix
    mixer), and the last column is the running normaliser, so o_t is a decayed, feature-mapped
    version of softmax attention (Hedgehog / LoLCATs feature maps, a Mamba-2-like scalar gate).
    Liquid layers carry no RoPE: what they know of order comes from the decay, so nothing in
    them depends on how long the history is.

The state is a list with one dict per layer, fixed in size however long the history grows:
    attention:  {"k": (b, g, c, e), "v": (b, g, c, e), "pos": (b, c) int64}   (see core/lfm2.py)
    liquid:     {"S": (b, g, f, e + 1)}

Parameters new to the conversion (trained by core/training/convert.py): `q_map`, `k_map`,
`decay` of each liquid layer. Everything else is the source model's, optionally with low-rank
adapters merged in; a converted model ships as the source GGUF plus those tensors.

`HybridLM` has the interface of `core.lfm2.Lfm2LM` (it is one: same state handling, start ids,
chunked prefill, int8 decoding copy), so the session, generator and learner treat it alike.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from core.lfm2 import MLP, Attention, LayerState, Lfm2LM, RMSNorm, attention_cache, check_attention_sizes, config_digest
from core.lora import LoRALinear
from core.model import chunk_states, matrix_scan

MODEL_TYPE = "liquid-hybrid"
LAYER_KINDS = ("attention", "liquid")


@dataclass
class HybridConfig:
    """Sizes of the source model plus which layers are liquid and the attention layers' bounds."""

    vocab_size: int = 49152
    hidden_size: int = 576
    intermediate_size: int = 1536
    num_attention_heads: int = 9
    num_key_value_heads: int = 3
    head_dim: int = 64
    layer_types: list[str] = field(default_factory=lambda: ["attention"] * 30)
    norm_eps: float = 1e-5
    rope_theta: float = 100000.0
    tie_word_embeddings: bool = True
    attention_window: int = 1024
    attention_sinks: int = 4
    chunk_size: int = 64  # chunk length of the liquid layers' parallel form
    decay_min: float = 0.001  # initial range of softplus(b_a): memories of ~1/decay tokens
    decay_max: float = 0.1
    # > 0: each liquid layer also keeps exact softmax attention inside its current block of this
    # many tokens (LoLCATs' hybrid layer, in blocks): `LocalLiquidAttention`. 0: none.
    liquid_window: int = 0
    source: dict = field(default_factory=dict)  # the GGUF it was converted from: name, file, sha256

    def __post_init__(self) -> None:
        bad = sorted(set(self.layer_types) - set(LAYER_KINDS))
        if bad:
            raise ValueError(f"layer_types may hold only {LAYER_KINDS}, got {bad}")
        check_attention_sizes(self)
        if self.attention_window < 1 or self.attention_sinks < 0 or self.chunk_size < 1:
            raise ValueError("attention_window and chunk_size must be >= 1, attention_sinks >= 0")
        if self.liquid_window < 0:
            raise ValueError(f"liquid_window must be >= 0, got {self.liquid_window}")

    @property
    def num_hidden_layers(self) -> int:
        return len(self.layer_types)

    @property
    def cache_slots(self) -> int:
        return self.attention_sinks + self.attention_window

    @property
    def feature_dim(self) -> int:
        return 2 * self.head_dim

    @property
    def liquid_share(self) -> float:
        return self.layer_types.count("liquid") / len(self.layer_types)

    @property
    def state_kind(self) -> str:  # for reports (doctor, bench)
        n = self.layer_types.count("liquid")
        return f"hybrid: {n}/{self.num_hidden_layers} liquid, attention window {self.attention_window} + {self.attention_sinks} sinks"

    @classmethod
    def from_llama(cls, data: dict, layer_types: list[str] | None = None, **over) -> "HybridConfig":
        """From a Llama config dict (core.gguf_reader's or a Hugging Face `config.json`)."""
        n = int(data["num_hidden_layers"])
        heads = int(data["num_attention_heads"])
        kwargs = dict(
            vocab_size=int(data["vocab_size"]),
            hidden_size=int(data["hidden_size"]),
            intermediate_size=int(data["intermediate_size"]),
            num_attention_heads=heads,
            num_key_value_heads=int(data.get("num_key_value_heads", heads)),
            head_dim=int(data.get("head_dim") or int(data["hidden_size"]) // heads),
            layer_types=list(layer_types or ["attention"] * n),
            norm_eps=float(data.get("rms_norm_eps", 1e-5)),
            rope_theta=float(data.get("rope_theta", 10000.0)),
            tie_word_embeddings=bool(data.get("tie_word_embeddings", True)),
        )
        if len(kwargs["layer_types"]) != n:
            raise ValueError(f"layer_types has {len(kwargs['layer_types'])} entries, the model has {n} layers")
        return cls(**{**kwargs, **over})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "HybridConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - {"model_type"}
        if unknown:
            raise ValueError(f"unknown HybridConfig fields: {sorted(unknown)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"model_type": MODEL_TYPE, **self.to_dict()}, indent=2) + "\n")

    def zero_state(self, batch: int = 1, dtype: torch.dtype = torch.float32) -> list[LayerState]:
        """The empty state (nothing read), one dict per layer; see the module doc."""
        out: list[LayerState] = []
        for kind in self.layer_types:
            g, e, w = self.num_key_value_heads, self.head_dim, self.liquid_window
            if kind == "liquid":
                out.append({"S": torch.zeros(batch, g, self.feature_dim, e + 1, dtype=dtype)})
                if w:  # the current block: rotated keys, values, key features, log decays, count
                    out[-1].update(
                        k=torch.zeros(batch, g, w, e, dtype=dtype), v=torch.zeros(batch, g, w, e, dtype=dtype),
                        fk=torch.zeros(batch, g, w, self.feature_dim, dtype=dtype),
                        la=torch.zeros(batch, g, w, dtype=dtype), n=torch.zeros(batch, dtype=torch.long),
                    )
            else:
                out.append(attention_cache(self, batch, dtype))
        return out

    def hash(self) -> str:
        """A short digest of everything that decides the shapes of weights and states."""
        keys = (
            "vocab_size", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
            "head_dim", "layer_types", "tie_word_embeddings", "attention_window", "attention_sinks",
        )
        if self.liquid_window:  # (configs without it keep their hash)
            keys = (*keys, "liquid_window")
        return config_digest(MODEL_TYPE, self, keys)


# === mixers ======================================================================================


class LlamaAttention(Attention):
    """The source layer's attention over the bounded cache: core/lfm2.py's, with no q/k norms."""

    def __init__(self, cfg: HybridConfig) -> None:
        super().__init__(cfg)
        self.q_layernorm = nn.Identity()
        self.k_layernorm = nn.Identity()


def _init_decay_bias(n: int, lo: float, hi: float) -> torch.Tensor:
    """softplus(bias) spread log-evenly over [lo, hi] across heads: memories of 1/hi to 1/lo tokens."""
    dt = torch.exp(torch.linspace(math.log(lo), math.log(hi), n)) if n > 1 else torch.tensor([lo])
    return dt + torch.log(-torch.expm1(-dt))  # inverse softplus


class LiquidAttention(nn.Module):
    """The liquid replacement of a softmax attention layer (module doc); projections keep their names."""

    def __init__(self, cfg: HybridConfig) -> None:
        super().__init__()
        d, h, g, e = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.h, self.g, self.e, self.r = h, g, e, h // g
        self.chunk = cfg.chunk_size
        self.q_proj = LoRALinear(d, h * e)
        self.k_proj = LoRALinear(d, g * e)
        self.v_proj = LoRALinear(d, g * e)
        self.out_proj = LoRALinear(h * e, d)
        eye = torch.eye(e)
        self.q_map = nn.Parameter(eye.repeat(h, 1, 1))  # (h, e, e)
        self.k_map = nn.Parameter(eye.repeat(g, 1, 1))  # (g, e, e)
        self.decay = nn.Linear(d, g)
        nn.init.zeros_(self.decay.weight)
        with torch.no_grad():
            self.decay.bias.copy_(_init_decay_bias(g, cfg.decay_min, cfg.decay_max))

    @staticmethod
    def _phi(z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """z (b, heads, t, e), w (heads, e, e) -> (b, heads, t, 2e), each half a softmax."""
        y = torch.einsum("bnte,nef->bntf", z, w.to(z.dtype))
        return torch.cat([F.softmax(y, dim=-1), F.softmax(-y, dim=-1)], dim=-1)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (b, t, d) -> q (b, h, t, e), k and v (b, g, t, e): the source layer's projections."""
        q = self.q_proj(x).unflatten(-1, (self.h, self.e)).transpose(1, 2)
        k = self.k_proj(x).unflatten(-1, (self.g, self.e)).transpose(1, 2)
        v = self.v_proj(x).unflatten(-1, (self.g, self.e)).transpose(1, 2)
        return q, k, v

    def _inputs(self, x: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        """-> fq (b, g, r, t, f), fk (b, g, 1, t, f), v1 (b, g, 1, t, e+1), log_a (b, g, 1, t)."""
        fq = self._phi(q, self.q_map).unflatten(1, (self.g, self.r))  # (b, g, r, t, f)
        fk = self._phi(k, self.k_map).unsqueeze(2)  # (b, g, 1, t, f)
        v1 = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1).unsqueeze(2)  # (b, g, 1, t, e+1)
        log_a = -F.softplus(self.decay(x).float()).transpose(1, 2).unsqueeze(2)  # (b, g, 1, t)
        return fq, fk, v1, log_a

    def _readout(self, o: torch.Tensor) -> torch.Tensor:
        """o (b, g, r, t, e+1) -> normalised per query head, through out_proj: (b, t, d)."""
        num, den = o[..., : self.e], o[..., self.e :]
        y = num / den.clamp_min(1e-12)  # the denominator is > 0: softmax features, 1 - a > 0
        b, _, _, t, _ = y.shape
        return self.out_proj(y.reshape(b, self.h, t, self.e).transpose(1, 2).flatten(2))

    def forward(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        """x (b, t, d); state["S"] is replaced by the state after the last token."""
        return self.mix(x, *self.project(x), state)

    def mix(self, x: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, state: LayerState) -> torch.Tensor:
        """`forward` from projections already made (conversion reuses the teacher's)."""
        fq, fk, v1, log_a = self._inputs(x, q, k, v)
        S0 = state["S"].unsqueeze(2)  # (b, g, 1, f, e+1)
        dtype = fq.dtype
        o, S = matrix_scan(fq, fk.to(dtype), v1.to(dtype), log_a.to(dtype), S0.to(dtype), self.chunk)
        state["S"] = S.squeeze(2).detach().to(state["S"].dtype)
        return self._readout(o)

    def step(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        """x (b, d); one token; state["S"] updated in place."""
        x = x.unsqueeze(1)  # t = 1
        fq, fk, v1, log_a = self._inputs(x, *self.project(x))
        a = torch.exp(log_a[..., 0]).squeeze(2)[..., None, None].to(fk.dtype)  # (b, g, 1, 1)
        kv = fk[:, :, 0, 0].unsqueeze(-1) * v1[:, :, 0, 0].unsqueeze(-2)  # (b, g, f, e+1)
        S = state["S"]
        S.mul_(a.to(S.dtype)).add_(((1 - a) * kv).to(S.dtype))
        o = fq[:, :, :, 0] @ S.to(fq.dtype)  # (b, g, r, e+1)
        return self._readout(o.unsqueeze(3))[:, 0]  # (b, d)


def local_scan(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, fq: torch.Tensor, fk: torch.Tensor, log_a: torch.Tensor,
    beta: torch.Tensor, S0: torch.Tensor, block: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Exact softmax inside each block of `block` tokens plus the decayed linear state of the
    blocks before it, mixed in one normalisation:

        y_t = (sum_{s in block(t), s <= t} w_ts v_s + beta (phi(q_t)^T S_t-)[:e])
              / (sum_{s in block(t), s <= t} w_ts    + beta (phi(q_t)^T S_t-)[e]),
        w_ts = exp(q_t . k_s / sqrt(e) - max_s),  S_t- = the state at the block's start, decayed to t.

    q (b, g, r, t, e) and k (b, g, 1, t, e) are rotated by their position inside the block; v
    (b, g, 1, t, e); fq (b, g, r, t, f), fk (b, g, 1, t, f); log_a (b, g, 1, t); beta broadcasts
    to (b, g, r, 1, 1, 1); S0 (b, g, 1, f, e+1). Returns (y (b, g, r, t, e), the state at the start
    of every block (b, g, 1, c, f, e+1), the state after the last block)."""
    *lq, t, e = q.shape
    lk = k.shape[:-2]
    pad = (-t) % block
    if pad:
        q, k, v, fq, fk = (F.pad(z, (0, 0, 0, pad)) for z in (q, k, v, fq, fk))
        log_a = F.pad(log_a, (0, pad))
    c = (t + pad) // block
    q, fq = q.reshape(*lq, c, block, e), fq.reshape(*lq, c, block, -1)
    k, v, fk = k.reshape(*lk, c, block, e), v.reshape(*lk, c, block, e), fk.reshape(*lk, c, block, -1)
    log_a = log_a.reshape(*lk, c, block)
    v1 = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)  # (*lk, c, l, e+1)
    A = torch.cumsum(log_a, dim=-1)  # (*lk, c, l)
    S_starts, S = chunk_states(fk, v1, -torch.expm1(log_a), A, S0.to(q.dtype))  # (*lk, c, f, e+1), (*lk, f, e+1)
    lin = torch.exp(A).unsqueeze(-1) * (fq @ S_starts)  # (*lq, c, l, e+1)
    causal = torch.ones(block, block, dtype=torch.bool, device=q.device).tril()
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(e)  # (*lq, c, l, l)
    scores = scores.masked_fill(~causal, float("-inf"))
    w = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    num = w @ v + beta * lin[..., :e]
    den = w.sum(-1, keepdim=True) + beta * lin[..., e:]
    y = (num / den).reshape(*lq, c * block, e)[..., :t, :]
    return y, S_starts, S


class LocalLiquidAttention(LiquidAttention):
    """`LiquidAttention` plus exact softmax attention inside the current block of W tokens
    (`HybridConfig.liquid_window`): older blocks live only in the decayed matrix state, so the
    state stays bounded (S plus at most W keys and values). Within a block, q and k are rotated
    by their position in it, so the softmax scores are the source layer's (RoPE is relative).
    A learned weight beta per query head sets how much the state counts against the block."""

    def __init__(self, cfg: HybridConfig) -> None:
        super().__init__(cfg)
        self.block = cfg.liquid_window
        self.log_beta = nn.Parameter(torch.zeros(self.h))
        self.register_buffer("inv_freq", 1.0 / (cfg.rope_theta ** (torch.arange(0, self.e, 2).float() / self.e)), persistent=False)

    def _beta(self) -> torch.Tensor:
        return torch.exp(self.log_beta).view(self.g, self.r, 1, 1, 1)

    def mix(self, x: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, state: LayerState) -> torch.Tensor:
        """x (b, t, d); reads the block in progress from `state` and leaves the new one there."""
        from core.gqa import rope

        b, t = x.shape[0], x.shape[1]
        n = int(state["n"][0])  # tokens of the current block already read
        fq, fk, _, log_a = self._inputs(x, q, k, v)
        pos = ((n + torch.arange(t, device=x.device)) % self.block).expand(b, t)
        qr = rope(q, pos, self.inv_freq).unflatten(1, (self.g, self.r))  # (b, g, r, t, e)
        kr = rope(k, pos, self.inv_freq).unsqueeze(2)  # (b, g, 1, t, e)
        dtype = fq.dtype
        if n:  # the block in progress goes first; its queries' outputs are not wanted again
            qr = torch.cat([qr.new_zeros(*qr.shape[:3], n, self.e), qr], dim=3)
            fq = torch.cat([fq.new_zeros(*fq.shape[:3], n, fq.shape[-1]), fq], dim=3)
            kr = torch.cat([state["k"][:, :, :n].unsqueeze(2).to(dtype), kr], dim=3)
            v = torch.cat([state["v"][:, :, :n].to(dtype), v], dim=2)
            fk = torch.cat([state["fk"][:, :, :n].unsqueeze(2).to(dtype), fk], dim=3)
            log_a = torch.cat([state["la"][:, :, :n].unsqueeze(2).to(log_a.dtype), log_a], dim=3)
        y, S_starts, S_end = local_scan(
            qr, kr, v.unsqueeze(2), fq, fk.to(dtype), log_a.to(dtype), self._beta().to(dtype), state["S"].unsqueeze(2), self.block
        )
        total = n + t
        rem = total % self.block
        with torch.no_grad():
            if rem == 0:
                state["S"] = S_end.squeeze(2).detach().to(state["S"].dtype)
            else:
                state["S"] = S_starts[:, :, 0, -1].detach().to(state["S"].dtype)
                lo = total - rem
                state["k"] = state["k"].clone()
                state["k"][:, :, :rem] = kr[:, :, 0, lo:total].detach()
                state["v"] = state["v"].clone()
                state["v"][:, :, :rem] = v[:, :, lo:total].detach()
                state["fk"] = state["fk"].clone()
                state["fk"][:, :, :rem] = fk[:, :, 0, lo:total].detach()
                state["la"] = state["la"].clone()
                state["la"][:, :, :rem] = log_a[:, :, 0, lo:total].detach()
            state["n"] = torch.full_like(state["n"], rem)
        return self._readout_y(y[:, :, :, n:])

    def _readout_y(self, y: torch.Tensor) -> torch.Tensor:
        """y (b, g, r, t, e), already normalised -> (b, t, d)."""
        b, _, _, t, _ = y.shape
        return self.out_proj(y.reshape(b, self.h, t, self.e).transpose(1, 2).flatten(2))

    def step(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        """x (b, d); one token into the block in progress (folded into S when the block fills)."""
        from core.gqa import rope

        x = x.unsqueeze(1)
        q, k, v = self.project(x)
        fq, fk, _, log_a = self._inputs(x, q, k, v)
        b, n = x.shape[0], int(state["n"][0])
        pos = torch.full((b, 1), n, device=x.device)
        qr = rope(q, pos, self.inv_freq).unflatten(1, (self.g, self.r))  # (b, g, r, 1, e)
        state["k"][:, :, n] = rope(k, pos, self.inv_freq)[:, :, 0].to(state["k"].dtype)
        state["v"][:, :, n] = v[:, :, 0].to(state["v"].dtype)
        state["fk"][:, :, n] = fk[:, :, 0, 0].to(state["fk"].dtype)
        state["la"][:, :, n] = log_a[:, :, 0, 0].to(state["la"].dtype)
        keys, vals = state["k"][:, :, : n + 1].unsqueeze(2), state["v"][:, :, : n + 1].unsqueeze(2)  # (b, g, 1, n+1, e)
        scores = (qr @ keys.transpose(-1, -2).to(qr.dtype)) / math.sqrt(self.e)  # (b, g, r, 1, n+1)
        w = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
        A = torch.cumsum(state["la"][:, :, : n + 1], dim=-1)  # (b, g, n+1)
        S = state["S"].unsqueeze(2)  # (b, g, 1, f, e+1)
        lin = torch.exp(A[..., -1])[:, :, None, None, None] * (fq @ S.to(fq.dtype))  # (b, g, r, 1, e+1)
        beta = self._beta()[..., 0].to(qr.dtype)  # (g, r, 1, 1): no block axis here
        y = (w @ vals.to(qr.dtype) + beta * lin[..., : self.e]) / (w.sum(-1, keepdim=True) + beta * lin[..., self.e :])
        if n + 1 == self.block:  # the block is full: fold it into the state
            to_end = torch.exp(A[..., -1:] - A) * -torch.expm1(state["la"])  # (b, g, l)
            v1 = torch.cat([state["v"], torch.ones_like(state["v"][..., :1])], dim=-1)  # (b, g, l, e+1)
            dS = (state["fk"] * to_end.unsqueeze(-1)).transpose(-1, -2) @ v1  # (b, g, f, e+1)
            state["S"].mul_(torch.exp(A[..., -1])[..., None, None]).add_(dS)
            state["n"].zero_()
        else:
            state["n"].add_(1)
        return self._readout_y(y)[:, 0]


# === the model ===================================================================================


class HybridLayer(nn.Module):
    """Pre-norm block: x + mixer(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: HybridConfig, kind: str) -> None:
        super().__init__()
        self.kind = kind
        if kind == "attention":
            self.mixer = LlamaAttention(cfg)
        else:
            self.mixer = LocalLiquidAttention(cfg) if cfg.liquid_window else LiquidAttention(cfg)
        self.operator_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.ffn_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.feed_forward = MLP(cfg)

    def forward(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        x = x + self.mixer(self.operator_norm(x), state)
        return x + self.feed_forward(self.ffn_norm(x))

    def step(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        x = x + self.mixer.step(self.operator_norm(x), state)
        return x + self.feed_forward(self.ffn_norm(x))


class HybridBackbone(nn.Module):
    def __init__(self, cfg: HybridConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(HybridLayer(cfg, kind) for kind in cfg.layer_types)
        self.embedding_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)  # the final norm (LFM2's name)


class HybridLM(Lfm2LM):
    """The converted model, with `Lfm2LM`'s interface (forward, step, hidden, zero_state)."""

    def __init__(self, cfg: HybridConfig) -> None:
        nn.Module.__init__(self)
        self.cfg = cfg
        self.model = HybridBackbone(cfg)
        self.lm_head = None if cfg.tie_word_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.decode_head: nn.Module | None = None
        self.start_ids: tuple[int, ...] = ()

    def new_parameter_names(self) -> list[str]:
        """The tensors a conversion adds to the source model (what its delta file must hold)."""
        return [n for n, _ in self.named_parameters() if is_new_parameter(n)]


def is_new_parameter(name: str) -> bool:
    """Whether a parameter is one the conversion adds (a liquid layer's maps, decay, mix)."""
    return any(part in name for part in (".q_map", ".k_map", ".decay.", ".log_beta"))


# names: Hugging Face Llama (core/gguf_reader.py) -> this module
_RENAMES = (
    ("model.norm.", "model.embedding_norm."),
    (".input_layernorm.", ".operator_norm."),
    (".post_attention_layernorm.", ".ffn_norm."),
    (".self_attn.o_proj.", ".mixer.out_proj."),
    (".self_attn.", ".mixer."),
    (".mlp.gate_proj.", ".feed_forward.w1."),
    (".mlp.up_proj.", ".feed_forward.w3."),
    (".mlp.down_proj.", ".feed_forward.w2."),
)


def from_hf_names(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for name, w in tensors.items():
        for old, new in _RENAMES:
            name = name.replace(old, new)
        out[name] = w
    return out


def build_from_source(
    cfg: HybridConfig, tensors: dict[str, torch.Tensor], extra: dict[str, torch.Tensor] | None = None
) -> HybridLM:
    """A model from the source's Hugging Face-named tensors plus the conversion's own (`extra`).

    Every tensor of the model must come from one of the two, with its exact shape; new liquid
    parameters missing from `extra` keep their initial values only when `extra` is None (a fresh
    conversion)."""
    from core.errors import ModelFilesError

    model = HybridLM(cfg)
    expected = {k: v for k, v in model.state_dict().items() if "lora_" not in k}
    given = from_hf_names(tensors)
    if cfg.tie_word_embeddings:
        given.pop("lm_head.weight", None)
    if extra is not None:
        given.update(extra)
    for name, w in given.items():
        if name not in expected:
            raise ModelFilesError(f"tensor {name!r} has no place in this model")
        if tuple(w.shape) != tuple(expected[name].shape):
            raise ModelFilesError(f"tensor {name!r} has shape {tuple(w.shape)}, the model needs {tuple(expected[name].shape)}")
    missing = [n for n in expected if n not in given and (extra is not None or not is_new_parameter(n))]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ModelFilesError(f"tensor {missing[0]!r} is missing{more}")
    model.load_state_dict(given, strict=False)
    model.eval()
    return model
