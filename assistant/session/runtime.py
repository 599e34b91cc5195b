"""The generating model: loaded once on first use, the adapter version it wears, chunked reading.

`lock` is the generation lock: whoever runs the model for a reply (or reads a history into a
state) holds it, so an adapter swap never happens under a running reply. `generating` is set
while a reply is generated (the learning worker pauses between steps while it is). `closing` is
set when the session shuts down (a reply stops at its next token); `closed` once the store is
closed (no reply starts, nothing more is written).

The learning worker never touches this model: it trains its own copy and hands accepted
versions over as bytes (`adapters(version)`), loaded here between replies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

PREFILL_CHUNK = 512  # tokens per forward pass when (re-)reading history

_UNSET = object()  # no adapter loaded yet (or forgotten): the next `use_adapter` loads one


class ModelRuntime:
    """The model that writes replies, for one session."""

    def __init__(
        self,
        model_dir: Path,
        *,
        adapters: Callable[[int], bytes],
        learning_off: Callable[[str], None],
    ) -> None:
        """`adapters(version)`: a kept version's weights; `learning_off(reason)`: told when the
        model folder's anchor set turns out empty (learning cannot check its updates)."""
        self.model_dir = model_dir
        self.model: Any = None
        self.tok: Any = None
        self.anchor: list[str] | None = None
        self.config_hash = ""
        self.lock = threading.Lock()
        self.generating = threading.Event()
        self.closing = threading.Event()
        self.closed = False
        self._adapters = adapters
        self._learning_off = learning_off
        self._load_lock = threading.Lock()
        self._version: Any = _UNSET

    @property
    def name(self) -> str:
        """The model's name from its card (else the folder's name)."""
        card = self.model_dir / "card.json"
        try:
            name = json.loads(card.read_text()).get("name") if card.is_file() else None
        except (OSError, ValueError):
            name = None
        return str(name or self.model_dir.name)

    def load(self) -> tuple[Any, Any]:
        """The model and its tokenizer (loaded, with the anchor set, on the first call)."""
        with self._load_lock:
            if self.model is None:
                from core.checkpoint import load_model
                from core.learner import split_anchor

                model, tok = load_model(self.model_dir)
                anchor_file = self.model_dir / "anchor.txt"
                self.anchor = split_anchor(anchor_file.read_text(encoding="utf-8")) if anchor_file.is_file() else None
                if self.anchor is not None and not self.anchor:
                    self._learning_off(f"learning is off: {anchor_file} is empty")
                self.model, self.tok = model, tok
                self.config_hash = model.cfg.hash()
            return self.model, self.tok

    def resources(self) -> tuple[Any, Any, list[str] | None]:
        """What the learning worker copies: the model, its tokenizer and the anchor set."""
        model, tok = self.load()
        return model, tok, self.anchor

    # --- adapters (call with the generation lock held) ------------------------------------------

    @property
    def adapter_version(self) -> int | None:
        """The adapter version the model wears now (None: the base model, or none loaded yet)."""
        return None if self._version is _UNSET else self._version

    def use_adapter(self, version: int | None) -> None:
        """Wear `version`'s adapter (None: the base model); nothing happens if it already does."""
        if version == self._version:
            return
        from core.lora import detach_lora, load_adapter_bytes

        if version is None:
            detach_lora(self.model)
        else:
            load_adapter_bytes(self.model, self._adapters(version), self.config_hash)
        self._version = version

    def forget_adapter(self) -> None:
        """The versions may have changed under it (an import): load again at the next reply."""
        self._version = _UNSET

    # --- reading --------------------------------------------------------------------------------

    def history_ids(self, messages: Iterable[Any]) -> list[int]:
        """The token ids of `messages` (anything with `role` and `text`) as the model reads them."""
        from core.template import render_turn

        return self.tok.encode("".join(render_turn(m.role, m.text) for m in messages))

    def read(self, ids: list[int], state: Any) -> Any:
        """Feed `ids` into `state` in chunks (no logits kept); returns the new state."""
        import torch

        with torch.inference_mode():
            for start in range(0, len(ids), PREFILL_CHUNK):
                _, state = self.model(torch.tensor([ids[start : start + PREFILL_CHUNK]]), state)
        return state
