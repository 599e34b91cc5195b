"""The recurrent state as bytes: fixed size, tagged with the model's config hash.

A state is a list (one entry per layer) of small tensors. It is serialised with safetensors
(no pickle), with the config hash and the number of tokens it has read in the header, and it
refuses to load into a model whose config hash or tensor shapes differ.
"""

from __future__ import annotations

import json

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from core.errors import StateMismatch

STATE_FORMAT = "liquid-state/1"
State = list[dict[str, torch.Tensor]]


def state_nbytes(state: State) -> int:
    """Bytes held by the state's tensors (what grows, or does not, with history)."""
    return sum(t.numel() * t.element_size() for layer in state for t in layer.values())


def state_to_bytes(state: State, config_hash: str, tokens_seen: int = 0, meta: dict | None = None) -> bytes:
    tensors = {f"{i}.{name}": t.detach().contiguous().cpu() for i, layer in enumerate(state) for name, t in layer.items()}
    header = {
        "format": STATE_FORMAT,
        "config_hash": config_hash,
        "tokens_seen": str(int(tokens_seen)),
        "meta": json.dumps(meta or {}),
    }
    return st_save(tensors, metadata=header)


def state_header(data: bytes) -> dict:
    try:
        n = int.from_bytes(data[:8], "little")
        if not 0 < n <= len(data) - 8:
            raise ValueError("bad header length")
        header = json.loads(data[8 : 8 + n])
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateMismatch(f"not a saved state ({exc})") from None
    meta = header.get("__metadata__", {})
    if meta.get("format") != STATE_FORMAT:
        raise StateMismatch(f"unknown state format {meta.get('format')!r}; expected {STATE_FORMAT!r}")
    return meta


def state_from_bytes(data: bytes, reference: State, config_hash: str) -> tuple[State, dict]:
    """Load bytes into a state shaped like `reference` (e.g. `model.zero_state()`); returns (state, header)."""
    header = state_header(data)
    if header.get("config_hash") != config_hash:
        raise StateMismatch(
            f"this state was made by model {header.get('config_hash')}, not by this model ({config_hash})"
        )
    try:
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise StateMismatch(f"state bytes are damaged: {exc}") from None
    state: State = []
    for i, layer in enumerate(reference):
        loaded = {}
        for name, ref in layer.items():
            t = tensors.get(f"{i}.{name}")
            if t is None or t.shape[1:] != ref.shape[1:]:
                got = None if t is None else tuple(t.shape)
                raise StateMismatch(f"state tensor {i}.{name} has shape {got}, the model needs (*, {tuple(ref.shape[1:])})")
            loaded[name] = t.to(ref.dtype)
        state.append(loaded)
    if len(tensors) != sum(len(layer) for layer in reference):
        raise StateMismatch("state has tensors this model does not use")
    header = {**header, "tokens_seen": int(header.get("tokens_seen", 0)), "meta": json.loads(header.get("meta", "{}"))}
    return state, header
