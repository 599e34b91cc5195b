"""Tiny LFM2 checkpoint folders for tests, built without transformers (Hugging Face layout)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

SPECIALS = ["<|pad|>", "<|startoftext|>", "<|endoftext|>", "<|fim_pre|>", "<|fim_mid|>", "<|fim_suf|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{{- bos_token -}}{%- for m in messages -%}"
    "{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' -}}{%- endfor -%}"
)
CORPUS = (
    "user\nassistant\nsystem\nRelevant notes from memory:\n my sister is called ines nice name the cat sat on the mat "
    "hello there how are you today I am fine thanks what is your name we like tea and long walks"
)


def write_tokenizer(folder: Path, vocab: int = 400) -> None:
    """A byte-level BPE `tokenizer.json` with LFM2's special tokens, and a ChatML chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator([CORPUS] * 50, trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tk.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE, "bos_token": "<|startoftext|>"}))


def hf_config_dict(vocab: int = 400, **over) -> dict:
    return {
        "architectures": ["Lfm2ForCausalLM"], "model_type": "lfm2", "vocab_size": vocab, "hidden_size": 32,
        "intermediate_size": 96, "block_multiple_of": 32, "block_auto_adjust_ff_dim": True, "block_ffn_dim_multiplier": 1.0,
        "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
        "layer_types": ["conv", "full_attention", "conv", "full_attention"], "conv_L_cache": 3, "conv_bias": False,
        "norm_eps": 1e-5, "rope_parameters": {"rope_theta": 1e6, "rope_type": "default"}, "tie_word_embeddings": True,
        "bos_token_id": 1, "eos_token_id": 7, "pad_token_id": 0, **over,
    }


def build_lfm2_dir(folder: Path, seed: int = 0, **over) -> Path:
    """A random tiny LFM2 folder: config.json, model.safetensors, tokenizer.json, anchor.txt."""
    from safetensors.torch import save_file

    from core.lfm2 import Lfm2Config, Lfm2LM

    folder.mkdir(parents=True, exist_ok=True)
    data = hf_config_dict(**over)
    (folder / "config.json").write_text(json.dumps(data))
    torch.manual_seed(seed)
    model = Lfm2LM(Lfm2Config.from_hf(data))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(1 + 0.1 * torch.randn(p.shape) if "norm" in name else torch.randn(p.shape) / p.shape[-1] ** 0.5)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    write_tokenizer(folder, data["vocab_size"])
    anchor = [f"the cat sat on the mat {i} and we like tea and long walks" for i in range(30)]
    (folder / "anchor.txt").write_text("\n\n".join(anchor) + "\n", encoding="utf-8")
    return folder
