"""Read a Llama-family GGUF file (llama.cpp's format) into torch tensors, named as Hugging Face does.

The file is read with the `gguf` package (llama.cpp's own reader, MIT) and every tensor is
dequantised to fp32 (Q4_0, Q4_1, Q8_0, F16, ... whatever `gguf.quants` knows). Two things differ
from a Hugging Face checkpoint and are undone here:

  * names: `blk.{i}.attn_q.weight` -> `model.layers.{i}.self_attn.q_proj.weight` and so on;
  * the rows of q and k: llama.cpp's converter permutes each head's rows so that RoPE rotates
    adjacent pairs (x0, x1), (x2, x3), ...; Hugging Face's Llama rotates the two halves
    (x_i, x_{i+e/2}). `unpermute_rope_rows` puts each head's rows back in halves order.

Only the architecture `llama` is accepted (SmolLM2 and most small open models). The tokenizer's
vocabulary, merges and chat template are returned as they are; core/training/convert.py turns them
into a `tokenizer.json` once, and the runtime reads that file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.errors import ModelFilesError

ARCHITECTURE = "llama"
_LAYER_NAMES = {  # GGUF name inside a block -> Hugging Face name inside `model.layers.{i}`
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
_TOP_NAMES = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight"}


@dataclass
class LlamaGguf:
    """What a GGUF file holds: Hugging Face style config fields, tensors, tokenizer pieces."""

    config: dict
    tensors: dict[str, torch.Tensor] = field(repr=False)
    tokens: list[str] = field(repr=False, default_factory=list)
    token_types: list[int] = field(repr=False, default_factory=list)
    merges: list[str] = field(repr=False, default_factory=list)
    tokenizer_model: str = ""
    tokenizer_pre: str = ""
    chat_template: str | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None


def unpermute_rope_rows(w: torch.Tensor, heads: int) -> torch.Tensor:
    """llama.cpp's pairs layout -> Hugging Face's halves layout, per head (rows of q_proj or k_proj)."""
    rows = w.shape[0]
    if rows % (2 * heads):
        raise ModelFilesError(f"a q/k weight with {rows} rows cannot hold {heads} heads of even width")
    half = rows // heads // 2
    return w.reshape(heads, half, 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def permute_rope_rows(w: torch.Tensor, heads: int) -> torch.Tensor:
    """The inverse of `unpermute_rope_rows` (what llama.cpp's converter does): for writing test files."""
    half = w.shape[0] // heads // 2
    return w.reshape(heads, 2, half, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def _field(reader, key: str, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def read_llama_gguf(path: str | Path, *, tensors: bool = True) -> LlamaGguf:
    """Read `path`; raise ModelFilesError with the reason when it is not a usable Llama GGUF."""
    import gguf
    from gguf import quants

    path = Path(path)
    if not path.is_file():
        raise ModelFilesError(f"GGUF file not found: {path}")
    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as exc:  # the reader raises ValueError, struct errors, numpy errors ...
        raise ModelFilesError(f"{path} is not a readable GGUF file: {exc}") from None
    arch = _field(reader, "general.architecture")
    if arch != ARCHITECTURE:
        raise ModelFilesError(f"{path.name} holds a {arch!r} model; only {ARCHITECTURE!r} (Llama-family) GGUFs convert")
    try:
        heads = int(_field(reader, "llama.attention.head_count"))
        kv_heads = int(_field(reader, "llama.attention.head_count_kv", heads))
        width = int(_field(reader, "llama.embedding_length"))
        head_dim = int(_field(reader, "llama.rope.dimension_count", width // heads))
        config = {
            "model_type": "llama",
            "hidden_size": width,
            "intermediate_size": int(_field(reader, "llama.feed_forward_length")),
            "num_hidden_layers": int(_field(reader, "llama.block_count")),
            "num_attention_heads": heads,
            "num_key_value_heads": kv_heads,
            "head_dim": head_dim,
            "rms_norm_eps": float(_field(reader, "llama.attention.layer_norm_rms_epsilon", 1e-5)),
            "rope_theta": float(_field(reader, "llama.rope.freq_base", 10000.0)),
            "max_position_embeddings": int(_field(reader, "llama.context_length", 2048)),
            "name": str(_field(reader, "general.name", path.stem)),
            "license": str(_field(reader, "general.license", "unknown")),
        }
    except (TypeError, ValueError) as exc:
        raise ModelFilesError(f"{path.name} lacks a Llama size field: {exc}") from None
    if _field(reader, "llama.rope.scaling.type") not in (None, "none"):
        raise ModelFilesError(f"{path.name} uses RoPE scaling, which this converter does not support")
    tokens = list(_field(reader, "tokenizer.ggml.tokens", []))
    config["vocab_size"] = int(_field(reader, "llama.vocab_size", len(tokens)))
    out = LlamaGguf(
        config=config,
        tensors={},
        tokens=tokens,
        token_types=[int(t) for t in _field(reader, "tokenizer.ggml.token_type", [])],
        merges=list(_field(reader, "tokenizer.ggml.merges", [])),
        tokenizer_model=str(_field(reader, "tokenizer.ggml.model", "")),
        tokenizer_pre=str(_field(reader, "tokenizer.ggml.pre", "")),
        chat_template=_field(reader, "tokenizer.chat_template"),
        bos_token_id=_field(reader, "tokenizer.ggml.bos_token_id"),
        eos_token_id=_field(reader, "tokenizer.ggml.eos_token_id"),
    )
    if not tensors:
        return out
    for t in reader.tensors:
        name = _hf_name(t.name)
        if name is None:
            raise ModelFilesError(f"{path.name} has tensor {t.name!r}, which a Llama model does not use")
        try:
            array = quants.dequantize(t.data, t.tensor_type)
        except NotImplementedError as exc:
            raise ModelFilesError(f"{path.name}: tensor {t.name} is stored as {t.tensor_type.name}, which cannot be read: {exc}") from None
        w = torch.from_numpy(np.array(array, dtype=np.float32))  # a writable copy
        if name.endswith("q_proj.weight"):
            w = unpermute_rope_rows(w, heads)
        elif name.endswith("k_proj.weight"):
            w = unpermute_rope_rows(w, kv_heads)
        out.tensors[name] = w
    config["tie_word_embeddings"] = "lm_head.weight" not in out.tensors
    return out


def _hf_name(name: str) -> str | None:
    if name in _TOP_NAMES:
        return _TOP_NAMES[name]
    parts = name.split(".", 2)
    if len(parts) == 3 and parts[0] == "blk" and parts[1].isdigit() and parts[2] in _LAYER_NAMES:
        return f"model.layers.{parts[1]}.{_LAYER_NAMES[parts[2]]}"
    return None
