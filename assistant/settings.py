"""The user's settings: typed defaults here, values stored encrypted in the store.

    session.settings.get("sampling.temperature")      # 0.7 unless the user changed it
    session.settings.set("learning.paused", True)

Keys are dotted names. `DEFAULTS` lists every key the application reads, with its default; any
other key (for example "keys.<action>" for key bindings) may be set and read back as it is.
Keys starting with "_" are the application's own bookkeeping (the learning queue, the active
adapter version ...): they live in the same encrypted table but are not user settings.
"""

from __future__ import annotations

import threading
from dataclasses import fields
from typing import Any

from core.generate import SamplingSettings
from core.learner import STRATEGIES, LearnerSettings, strategy_settings

_MISSING = object()

DEFAULTS: dict[str, Any] = {
    # replies
    "sampling.temperature": 0.7,
    "sampling.top_p": 0.9,
    "sampling.repetition_penalty": 1.1,
    "sampling.max_tokens": 256,
    "sampling.memory_contrast": 0.5,  # how much the <|memory|> block's effect is amplified (core.generate)
    "recall.k": 3,  # snippets in the <|memory|> block before each reply
    # learning
    "learning.paused": False,
    "learning.strategy": "default",  # one of core.learner.STRATEGIES
    "learning.replay_capacity": 1000,  # the reservoir's size (exchanges kept for replay and retraining)
    "learning.keep_recent": 10,  # adapter versions kept: the most recent ones ...
    "learning.keep_days": 30,  # ... and the last one of each of this many days
    "learning.keep_pinned": 20,  # ... and those the most recent conversations' states were made with
    # interface
    "voice.send_immediately": False,
}
"""Every setting the application reads, with its default."""

# Learner fields may be overridden as "learning.<field>" (e.g. "learning.tolerance": 0.03).
LEARNER_KEYS = tuple(f"learning.{f.name}" for f in fields(LearnerSettings))


class Settings:
    """Get and set settings; values are JSON (numbers, strings, booleans, lists, objects)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _stored(self, key: str) -> Any:
        # The store is read outside our lock: holding it while waiting for the store's own lock
        # deadlocked against a thread inside a store transaction that was waiting for ours.
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = self._store.get_setting(key, _MISSING)
        with self._lock:
            return self._cache.setdefault(key, value)

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The stored value of `key`, else `default`, else the key's entry in `DEFAULTS` (else None)."""
        value = self._stored(key)
        if value is not _MISSING:
            return value
        if default is not _MISSING:
            return default
        return DEFAULTS.get(key)

    def set(self, key: str, value: Any) -> None:
        """Store `value` under `key` (encrypted). `None` removes the key (back to its default)."""
        if key == "learning.strategy" and value not in STRATEGIES:
            raise ValueError(f"learning.strategy must be one of {STRATEGIES}, got {value!r}")
        if value is None:
            self._store.delete_setting(key)
            value = _MISSING
        else:
            self._store.set_setting(key, value)
        with self._lock:
            self._cache[key] = value

    def forget_cache(self) -> None:
        """Drop cached values (after an import replaced the settings table)."""
        with self._lock:
            self._cache.clear()

    # --- typed views -----------------------------------------------------------------------

    def sampling(self) -> SamplingSettings:
        return SamplingSettings(
            temperature=float(self.get("sampling.temperature")),
            top_p=float(self.get("sampling.top_p")),
            repetition_penalty=float(self.get("sampling.repetition_penalty")),
            max_tokens=int(self.get("sampling.max_tokens")),
            memory_contrast=float(self.get("sampling.memory_contrast")),
        )

    def learner(self) -> LearnerSettings | None:
        """The learner's settings for the chosen strategy (None: "frozen", nothing is learned)."""
        base = LearnerSettings()
        overrides = {}
        for key in LEARNER_KEYS:
            value = self._stored(key)
            if value is not _MISSING:
                overrides[key.removeprefix("learning.")] = value
        if overrides:
            base = LearnerSettings(**{**base.to_dict(), **overrides})
        return strategy_settings(str(self.get("learning.strategy")), base)
