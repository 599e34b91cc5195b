"""Liquid AI's LFM2 (350M / 700M / 1.2B checkpoints) in plain PyTorch, with a bounded state.

Glossary (tensor dimensions):
    b  batch            t  time (new tokens)       d  width (hidden_size)
    h  query heads      g  key/value heads (GQA)   e  head width (head_dim)
    c  cache slots (attention_sinks + attention_window)      f  MLP hidden width
    L  conv kernel (conv_L_cache)                            V  vocabulary

Written from the published description of LFM2: a stack of pre-norm blocks, each either a
double-gated short convolution or grouped-query attention, each followed by a SwiGLU MLP:

    conv block:  B, C, x = in_proj(h)            (b, t, d) each
                 y = out_proj(C * causal_depthwise_conv_L(B * x))
    attention:   q, k, v = q_proj(h), k_proj(h), v_proj(h); q, k RMS-normed per head, then RoPE
    MLP:         w2(silu(w1(h)) * w3(h))
    model:       embed -> blocks -> final RMSNorm (`embedding_norm`) -> tied output head

Module and parameter names are those of the Hugging Face checkpoints, so the safetensors load
by name. Every projection is a `core.lora.LoRALinear`, so adapters, the learner and its safeguards
work unchanged.

**The bounded state.** A conversation's state is a fixed-size list, one dict per layer:
    conv layer:       {"conv": (b, d, L-1)}                       the last L-1 inputs of the conv
    attention layer:  {"k": (b, g, c, e), "v": (b, g, c, e),      preallocated key/value slots
                       "pos": (b, c) int64}                       absolute position per slot, -1 empty
Slots 0 .. sinks-1 keep the first `attention_sinks` tokens for good (attention sinks, as in
StreamingLLM); the remaining `attention_window` slots are a ring buffer of the most recent tokens.
A query at position p attends to the sinks and to keys at positions (p - window, p]. With the
window longer than the history the model is exact (tested against transformers).

RoPE positions: keys are rotated once, with their **absolute** position, when they are written,
and never re-rotated; queries use their absolute position. So nothing in the cache changes when
the window rolls, a resumed state continues exactly, and the cached keys' relative distances are
the true ones (a sink seen 50K tokens ago is 50K positions away: inside the 128K positions LFM2
was trained for; past that RoPE extrapolates).

Mutation: `forward` copies the state it is given and returns a new one (the caller's stays
valid); `step` updates the state it is given in place and returns it (no per-token copy or
concatenation: this is the decoding loop's fast path). Keep `clone_state(state)` if you need the
old one after a step.

**The start of a conversation.** LFM2 was trained with `<|startoftext|>` first. When
`start_ids` is set (the loader sets it from the tokenizer), `state=None` means "the state after
reading those ids": `forward(ids, None)` reads them first and returns logits for `ids` only.
`zero_state()` is the empty state (nothing read, not even the start ids).

Sizes: with the default window (2048 + 4 sinks) LFM2-350M's state is about 50 MB in fp32 (six
attention layers of 8 x 2052 x 64 keys and values; the ten conv states are 8 KB each), the same
at any history length; a turn reads it, and the session stores it encrypted after every turn.
Past the window the attention layers forget (the conv layers remember only L-1 tokens), so what
the model knows of an old conversation beyond ~2K tokens is what the recall block brings back.
The chat template and the tokenizer are in core/lfm2_tokenizer.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ModelFilesError
from core.gqa import Attention, RMSNorm, attention_cache, check_attention_sizes, config_digest  # noqa: F401 (Attention re-exported)
from core.lora import LoRALinear

LayerState = dict[str, torch.Tensor]
MODEL_TYPE = "lfm2"
LAYER_KINDS = ("conv", "full_attention")
PREFILL_CHUNK = 512  # queries per attention pass when reading long inputs without gradients


# === configuration ===============================================================================


@dataclass
class Lfm2Config:
    """Sizes of an LFM2 checkpoint (read from the Hugging Face `config.json`) plus the state bounds."""

    vocab_size: int = 65536
    hidden_size: int = 1024
    intermediate_size: int = 4608  # the MLP's real width (after the checkpoint's auto-adjust rule)
    num_attention_heads: int = 16
    num_key_value_heads: int = 8
    head_dim: int = 64
    layer_types: list[str] = field(default_factory=lambda: ["conv"] * 16)
    conv_L_cache: int = 3
    conv_bias: bool = False
    norm_eps: float = 1e-5
    rope_theta: float = 1e6
    tie_word_embeddings: bool = True
    max_position_embeddings: int = 128_000
    bos_token_id: int | None = 1
    eos_token_id: int | None = 7
    # the bounded state (not in Hugging Face configs; `assistant_*` keys in config.json override)
    attention_window: int = 2048
    attention_sinks: int = 4

    def __post_init__(self) -> None:
        bad = sorted(set(self.layer_types) - set(LAYER_KINDS))
        if bad:
            raise ValueError(f"layer_types may hold only {LAYER_KINDS}, got {bad}")
        check_attention_sizes(self)
        if self.attention_window < 1 or self.attention_sinks < 0 or self.conv_L_cache < 1:
            raise ValueError("attention_window and conv_L_cache must be >= 1, attention_sinks >= 0")

    @property
    def num_hidden_layers(self) -> int:
        return len(self.layer_types)

    @property
    def cache_slots(self) -> int:
        return self.attention_sinks + self.attention_window

    @property
    def state_kind(self) -> str:  # for reports (doctor); the liquid config has "diagonal" / "matrix"
        return f"lfm2 bounded (window {self.attention_window} + {self.attention_sinks} sinks)"

    @classmethod
    def from_hf(cls, data: dict, **over) -> "Lfm2Config":
        """From a Hugging Face `Lfm2Config` dict (`config.json`), old and new field names alike."""
        if data.get("model_type") != MODEL_TYPE:
            raise ValueError(f"model_type is {data.get('model_type')!r}, not {MODEL_TYPE!r}")
        n_layers = int(data["num_hidden_layers"])
        layer_types = data.get("layer_types")
        if layer_types is None:
            attn = data.get("full_attn_idxs")
            attn = range(n_layers) if attn is None else attn
            layer_types = ["full_attention" if i in attn else "conv" for i in range(n_layers)]
        if len(layer_types) != n_layers:
            raise ValueError(f"layer_types has {len(layer_types)} entries, num_hidden_layers is {n_layers}")
        ff = int(data.get("block_ff_dim", data.get("intermediate_size", 12288)))
        if data.get("block_auto_adjust_ff_dim", True):  # the rule of the reference implementation
            ff = int(2 * ff / 3)
            mult = data.get("block_ffn_dim_multiplier", 1.0)
            if mult is not None:
                m = int(data.get("block_multiple_of", 256))
                ff = m * ((int(mult * ff) + m - 1) // m)
        rope = data.get("rope_parameters") or {}
        if rope.get("rope_type", "default") != "default":
            raise ValueError(f"rope_type {rope.get('rope_type')!r} is not supported (only 'default')")
        theta = rope.get("rope_theta", data.get("rope_theta", 1e6))
        heads = int(data["num_attention_heads"])
        eos = data.get("eos_token_id")
        kwargs = dict(
            vocab_size=int(data["vocab_size"]),
            hidden_size=int(data["hidden_size"]),
            intermediate_size=ff,
            num_attention_heads=heads,
            num_key_value_heads=int(data.get("num_key_value_heads", heads)),
            head_dim=int(data.get("head_dim") or int(data["hidden_size"]) // heads),
            layer_types=list(layer_types),
            conv_L_cache=int(data.get("conv_L_cache", 3)),
            conv_bias=bool(data.get("conv_bias", False)),
            norm_eps=float(data.get("norm_eps", 1e-5)),
            rope_theta=float(theta),
            tie_word_embeddings=bool(data.get("tie_word_embeddings", data.get("tie_embedding", True))),
            max_position_embeddings=int(data.get("max_position_embeddings", 128_000)),
            bos_token_id=data.get("bos_token_id"),
            eos_token_id=eos[0] if isinstance(eos, list) else eos,
        )
        for key in ("attention_window", "attention_sinks"):
            if f"assistant_{key}" in data:
                kwargs[key] = int(data[f"assistant_{key}"])
        return cls(**{**kwargs, **over})

    def to_dict(self) -> dict:
        return asdict(self)

    def zero_state(self, batch: int = 1, dtype: torch.dtype = torch.float32) -> list[LayerState]:
        """The empty state (see the module doc); `core.model.zero_state(cfg)` dispatches here."""
        out: list[LayerState] = []
        for kind in self.layer_types:
            if kind == "conv":
                out.append({"conv": torch.zeros(batch, self.hidden_size, self.conv_L_cache - 1, dtype=dtype)})
            else:
                out.append(attention_cache(self, batch, dtype))
        return out

    def hash(self) -> str:
        """A short digest of everything that decides the shapes of weights and states."""
        keys = (
            "vocab_size", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
            "head_dim", "layer_types", "conv_L_cache", "conv_bias", "tie_word_embeddings",
            "attention_window", "attention_sinks",
        )
        return config_digest(MODEL_TYPE, self, keys)


# === layers ======================================================================================


class ShortConv(nn.Module):
    """The double-gated short convolution: out_proj(C * conv(B * x))."""

    def __init__(self, cfg: Lfm2Config) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.kernel = cfg.conv_L_cache
        self.in_proj = LoRALinear(d, 3 * d, bias=cfg.conv_bias)
        self.conv = nn.Conv1d(d, d, cfg.conv_L_cache, groups=d, bias=cfg.conv_bias)  # weight (d, 1, L)
        self.out_proj = LoRALinear(d, d, bias=cfg.conv_bias)

    def forward(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        """x (b, t, d); state["conv"] is replaced by the last L-1 inputs of the conv."""
        B, C, u = self.in_proj(x).chunk(3, dim=-1)  # (b, t, d) each
        bx = (B * u).transpose(1, 2)  # (b, d, t)
        xp = torch.cat([state["conv"].to(bx.dtype), bx], dim=2)  # (b, d, L-1+t)
        y = F.conv1d(xp, self.conv.weight, self.conv.bias, groups=bx.shape[1])  # (b, d, t)
        state["conv"] = xp[:, :, xp.shape[2] - (self.kernel - 1) :].detach().clone()
        return self.out_proj(C * y.transpose(1, 2))

    def step(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        """x (b, d); updates state["conv"] in place."""
        B, C, u = self.in_proj(x).chunk(3, dim=-1)  # (b, d) each
        bx = B * u  # (b, d)
        w = self.conv.weight[:, 0]  # (d, L)
        past = state["conv"]  # (b, d, L-1), oldest first
        y = bx * w[:, -1] if self.kernel == 1 else (past * w[:, :-1]).sum(-1) + bx * w[:, -1]  # (b, d)
        if self.conv.bias is not None:
            y = y + self.conv.bias
        if self.kernel > 1:  # shift left by one and append, in place
            past[:, :, :-1] = past[:, :, 1:].clone()
            past[:, :, -1] = bx
        return self.out_proj(C * y)


class MLP(nn.Module):
    def __init__(self, cfg: Lfm2Config) -> None:
        super().__init__()
        self.w1 = LoRALinear(cfg.hidden_size, cfg.intermediate_size)
        self.w3 = LoRALinear(cfg.hidden_size, cfg.intermediate_size)
        self.w2 = LoRALinear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class DecoderLayer(nn.Module):
    """Pre-norm: x + operator(norm(x)), then x + mlp(norm(x)); the operator is conv or attention."""

    def __init__(self, cfg: Lfm2Config, kind: str) -> None:
        super().__init__()
        self.is_attention = kind == "full_attention"
        if self.is_attention:
            self.self_attn = Attention(cfg)
        else:
            self.conv = ShortConv(cfg)
        self.operator_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.ffn_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.feed_forward = MLP(cfg)

    def forward(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        op = self.self_attn if self.is_attention else self.conv
        x = x + op(self.operator_norm(x), state)
        return x + self.feed_forward(self.ffn_norm(x))

    def step(self, x: torch.Tensor, state: LayerState) -> torch.Tensor:
        op = self.self_attn if self.is_attention else self.conv
        x = x + op.step(self.operator_norm(x), state)
        return x + self.feed_forward(self.ffn_norm(x))


class Backbone(nn.Module):
    """Named like the checkpoints' `model.*` tensors."""

    def __init__(self, cfg: Lfm2Config) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg, kind) for kind in cfg.layer_types)
        self.embedding_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)  # the final norm, despite its name


def clone_state(state: list[LayerState]) -> list[LayerState]:
    return [{k: v.clone() for k, v in layer.items()} for layer in state]


class Lfm2LM(nn.Module):
    """LFM2 for causal LM with the interface of `core.model.LiquidLM` (forward, step, hidden)."""

    def __init__(self, cfg: Lfm2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = Backbone(cfg)
        self.lm_head = None if cfg.tie_word_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.decode_head: nn.Module | None = None  # an inference-only head for `step` (as LiquidLM)
        self.start_ids: tuple[int, ...] = ()  # read at the start of a conversation (state=None)

    # --- state ---------------------------------------------------------------------------------

    def zero_state(self, batch: int = 1, dtype: torch.dtype = torch.float32) -> list[LayerState]:
        """The empty state: nothing read. Fixed size, whatever the history length."""
        return self.cfg.zero_state(batch, dtype)

    def _begin(self, ids: torch.Tensor, state: list[LayerState] | None) -> tuple[torch.Tensor, list[LayerState], int]:
        """(ids with the start ids in front if the state is fresh, an owned state, rows to drop)."""
        b = ids.shape[0]
        if state is not None:
            if state[0][next(iter(state[0]))].shape[0] != b:
                raise ValueError(f"state has batch {state[0][next(iter(state[0]))].shape[0]}, ids have {b}")
            return ids, clone_state(state), 0
        fresh = self.zero_state(b, self.model.embed_tokens.weight.dtype)
        fresh = [{k: v.to(ids.device) for k, v in layer.items()} for layer in fresh]
        if not self.start_ids:
            return ids, fresh, 0
        start = torch.tensor(self.start_ids, dtype=ids.dtype, device=ids.device).expand(b, -1)
        return torch.cat([start, ids], dim=1), fresh, len(self.start_ids)

    # --- forward -------------------------------------------------------------------------------

    def _run(self, ids: torch.Tensor, state: list[LayerState]) -> torch.Tensor:
        """The normed hidden states (b, t, d); state updated in place (owned by the caller)."""
        t = ids.shape[1]
        if torch.is_grad_enabled() or t <= PREFILL_CHUNK:
            chunks = [ids]
        else:  # long reads without gradients go in chunks through the state: bounded memory
            chunks = list(ids.split(PREFILL_CHUNK, dim=1))
        outs = []
        for chunk in chunks:
            x = self.model.embed_tokens(chunk)  # (b, t, d)
            for layer, s in zip(self.model.layers, state):
                x = layer(x, s)
            outs.append(self.model.embedding_norm(x))
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm_head(x) if self.lm_head is not None else F.linear(x, self.model.embed_tokens.weight)

    def forward(self, ids: torch.Tensor, state: list[LayerState] | None = None) -> tuple[torch.Tensor, list[LayerState]]:
        """ids (b, t) -> logits (b, t, V) and the state after the last token (a new object)."""
        ids, state, drop = self._begin(ids, state)
        x = self._run(ids, state)[:, drop:]
        return self._head(x), state

    def hidden(self, ids: torch.Tensor, state: list[LayerState] | None = None) -> torch.Tensor:
        """The final normed hidden states (b, t, d), for losses that avoid full logits."""
        ids, state, drop = self._begin(ids, state)
        return self._run(ids, state)[:, drop:]

    def step(self, ids: torch.Tensor, state: list[LayerState] | None = None) -> tuple[torch.Tensor, list[LayerState]]:
        """One token per sequence: ids (b,) -> logits (b, V) and the state, updated in place."""
        if state is None:
            logits, state = self.forward(ids.unsqueeze(1), None)
            return logits[:, -1], state
        x = self.model.embed_tokens(ids)  # (b, d)
        for layer, s in zip(self.model.layers, state):
            x = layer.step(x, s)
        x = self.model.embedding_norm(x)
        return (self.decode_head(x) if self.decode_head is not None else self._head(x)), state

    def num_parameters(self) -> int:
        return sum(p.numel() for n, p in self.named_parameters() if "lora_" not in n)


def int8_decoder(model: Lfm2LM) -> Lfm2LM:
    """A decode-only copy with int8 projections and head (dynamic quantisation, as core/fast.py
    does for the liquid model): a quarter of the weight bytes to read per token. Adapters are
    merged into the copy; the original is untouched."""
    from core.lora import plain_copy, quantize_int8

    clone = plain_copy(model)
    head = clone.lm_head if clone.lm_head is not None else nn.Linear(model.cfg.hidden_size, model.cfg.vocab_size, bias=False)
    if clone.lm_head is None:
        head.weight = nn.Parameter(clone.model.embed_tokens.weight.detach().clone())
    clone.decode_head = head
    return quantize_int8(clone)


# === loading a checkpoint folder =================================================================


def read_hf_config(folder: str | Path) -> dict:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise ModelFilesError(f"model config not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFilesError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ModelFilesError(f"{path} is not a JSON object")
    return data


def is_lfm2_config(data: dict) -> bool:
    return data.get("model_type") == MODEL_TYPE or "Lfm2ForCausalLM" in (data.get("architectures") or [])


def _weight_files(folder: Path) -> dict[str, Path]:
    """tensor name -> file, for a single `model.safetensors` or a sharded one with its index."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.is_file():
        from safetensors import safe_open

        try:
            with safe_open(str(single), "pt") as f:
                return {k: single for k in f.keys()}
        except Exception as exc:  # safetensors raises its own SafetensorError
            raise ModelFilesError(f"{single} is not a readable safetensors file: {exc}") from None
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFilesError(f"{index} is not a valid safetensors index: {exc}") from None
        files = {k: folder / v for k, v in weight_map.items()}
        for path in sorted(set(files.values())):
            if not path.is_file():
                raise ModelFilesError(f"{index.name} names shard {path.name}, which is missing from {folder}")
        return files
    raise ModelFilesError(f"no weights in {folder}: expected model.safetensors or model.safetensors.index.json")


def load_weights(model: Lfm2LM, folder: str | Path) -> None:
    """Load the checkpoint's tensors by name, checking every name and shape first."""
    from safetensors import safe_open

    folder = Path(folder)
    files = _weight_files(folder)
    expected = {k: v for k, v in model.state_dict().items() if "lora_" not in k}
    if model.lm_head is None:
        files.pop("lm_head.weight", None)  # tied: some checkpoints also store the head
    missing = sorted(set(expected) - set(files))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ModelFilesError(f"the weights in {folder} are missing tensor {missing[0]!r}{more}")
    unexpected = sorted(set(files) - set(expected))
    if unexpected:
        raise ModelFilesError(f"the weights in {folder} have tensor {unexpected[0]!r}, which this config.json does not use")
    loaded: dict[str, torch.Tensor] = {}
    by_file: dict[Path, list[str]] = {}
    for name, path in files.items():
        by_file.setdefault(path, []).append(name)
    for path, names in by_file.items():
        try:
            with safe_open(str(path), "pt") as f:
                for name in names:
                    shape = tuple(f.get_slice(name).get_shape())
                    if shape != tuple(expected[name].shape):
                        raise ModelFilesError(
                            f"{path.name}: tensor {name!r} has shape {shape}, config.json needs {tuple(expected[name].shape)}"
                        )
                    loaded[name] = f.get_tensor(name).to(expected[name].dtype)
        except ModelFilesError:
            raise
        except Exception as exc:
            raise ModelFilesError(f"{path} is not a readable safetensors file: {exc}") from None
    model.load_state_dict(loaded, strict=False)


def load_lfm2(
    folder: str | Path, *, with_tokenizer: bool = True, dtype: torch.dtype = torch.float32, **over
) -> tuple[Lfm2LM, object | None]:
    """Load an LFM2 checkpoint folder (fp32 by default, eval mode) and its tokenizer.

    `over` overrides config fields (e.g. attention_window). With the tokenizer, `start_ids` is
    set to its `<|startoftext|>`, so a fresh state begins as LFM2 was trained.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFilesError(f"model folder not found: {folder}")
    data = read_hf_config(folder)
    try:
        cfg = Lfm2Config.from_hf(data, **over)
    except (KeyError, TypeError, ValueError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelFilesError(f"{folder / 'config.json'} is not a valid LFM2 config: {what}") from None
    with torch.device("meta"):
        model = Lfm2LM(cfg)
    model = model.to_empty(device="cpu").to(dtype)
    model.model.layers.apply(_reset_buffers)
    load_weights(model, folder)
    model.eval()
    tok = None
    if with_tokenizer:
        from core.lfm2_tokenizer import Lfm2Tokenizer

        tok = Lfm2Tokenizer.load(folder)
        if tok.vocab_size > cfg.vocab_size:
            raise ModelFilesError(f"tokenizer has {tok.vocab_size} tokens, config.json says vocab_size={cfg.vocab_size}")
        model.start_ids = (tok.bos_id,) if tok.bos_id is not None else ()
    return model, tok


def _reset_buffers(m: nn.Module) -> None:
    """Non-persistent buffers are not in the checkpoint: recompute them after `to_empty`."""
    if isinstance(m, Attention):
        m.inv_freq = m._inv_freq()  # always fp32, whatever the weights' dtype
