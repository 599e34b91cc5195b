"""Model folders: `model.safetensors` + `config.json` + `tokenizer.model`. Nothing uses pickle."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.config import LiquidConfig
from core.errors import ModelFilesError
from core.model import LiquidLM
from core.tokenizer import Tokenizer

WEIGHTS, CONFIG, TOKENIZER = "model.safetensors", "config.json", "tokenizer.model"


def base_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The base weights only (no adapter tensors)."""
    return {k: v for k, v in model.state_dict().items() if "lora_" not in k}


def save_model(folder: str | Path, model: LiquidLM, tokenizer: Tokenizer | None = None, dtype: torch.dtype = torch.float32) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in base_state_dict(model).items()}
    save_file(tensors, str(folder / WEIGHTS), metadata={"format": "liquid-lm/1", "config_hash": model.cfg.hash()})
    (folder / WEIGHTS).chmod(0o644)  # shipped weights are public; safetensors may create files 0600
    model.cfg.save(folder / CONFIG)
    if tokenizer is not None:
        tokenizer.save(folder / TOKENIZER)


def load_config(folder: str | Path) -> LiquidConfig:
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise ModelFilesError(f"model config not found: {path}")
    try:
        return LiquidConfig.load(path)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ModelFilesError(f"{path} is not a valid liquid model config: {exc}") from None


def load_weights(model: LiquidLM, path: str | Path) -> None:
    path = Path(path)
    if not path.is_file():
        raise ModelFilesError(f"model weights not found: {path}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ModelFilesError(f"{path} is not a readable safetensors file: {exc}") from None
    expected = base_state_dict(model)
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise ModelFilesError(f"{path.name} is missing tensor {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise ModelFilesError(f"{path.name} has tensor {unexpected[0]!r} that this config does not use")
    for name, ref in expected.items():
        if tensors[name].shape != ref.shape:
            raise ModelFilesError(
                f"{path.name}: tensor {name!r} has shape {tuple(tensors[name].shape)}, config needs {tuple(ref.shape)}"
            )
    model.load_state_dict({k: v.to(ref.dtype) for (k, v), ref in zip(tensors.items(), (expected[k] for k in tensors))}, strict=False)


def model_kind(folder: str | Path) -> str:
    """"liquid", "lfm2" or "liquid-hybrid" (a converted GGUF, core/converted.py), from config.json's
    `model_type` / `architectures`; names anything else."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise ModelFilesError(f"model config not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFilesError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ModelFilesError(f"{path} is not a JSON object")
    from core.lfm2 import is_lfm2_config

    if is_lfm2_config(data):
        return "lfm2"
    kind = data.get("model_type", "liquid")  # liquid configs before model_type was written have none
    if kind not in ("liquid", "liquid-hybrid"):
        archs = ", ".join(data.get("architectures") or []) or "none given"
        raise ModelFilesError(
            f"{path}: unknown architecture model_type={kind!r} (architectures: {archs}); "
            "supported: 'liquid' (this project's model), 'liquid-hybrid' (a converted GGUF) and 'lfm2' (Liquid AI's LFM2)"
        )
    return kind


def load_model(folder: str | Path, *, with_tokenizer: bool = True) -> tuple[LiquidLM, Tokenizer | None]:
    """Load a model folder for inference (fp32, eval mode): the liquid model or an LFM2 checkpoint."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFilesError(f"model folder not found: {folder}")
    kind = model_kind(folder)
    if kind == "lfm2":
        from core.lfm2 import load_lfm2

        return load_lfm2(folder, with_tokenizer=with_tokenizer)
    if kind == "liquid-hybrid":
        from core.converted import load_converted

        return load_converted(folder, with_tokenizer=with_tokenizer)
    cfg = load_config(folder)
    model = LiquidLM(cfg)
    load_weights(model, folder / WEIGHTS)
    model.eval()
    tok = None
    if with_tokenizer:
        tok = Tokenizer.load(folder / TOKENIZER)
        if tok.vocab_size != cfg.vocab_size:
            raise ModelFilesError(f"tokenizer has {tok.vocab_size} pieces, config.json says vocab_size={cfg.vocab_size}")
    return model, tok
