"""Keeping adapter versions: the active one, its lineage, the pinned ones, which to keep, their weights.

Every accepted or rejected update is a numbered version in the store (rejected ones without
weights). What is done with them is kept in the store's settings, encrypted:

    "_learning.active_version"   ACTIVE    the version new conversations use (None: the base model)
    "_learning.lineage"          LINEAGE   the versions the active one descends from, oldest first;
                                           a state made with one of them may go on with it
    "_state.versions"            PINS      {conversation id: {"version": v, "at": time}}: the version
                                           each conversation's saved state was made with

`AdapterVersions` reads and writes these for the learning scheduler, which calls it inside its own
transactions and under its commit lock, and for the session, which pins the version each saved
state was made with; it keeps the last few versions' weights in memory (the session swaps
adapters between replies). `kept_reasons` is the keeping policy: the recent N
accepted versions, the last one of each recent day, the active one and those pinned by recent
conversations' states.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

ACTIVE = "_learning.active_version"
LINEAGE = "_learning.lineage"
PINS = "_state.versions"  # {conversation id: adapter version its saved state was made with}

CACHED_VERSIONS = 4
"""How many versions' weights are kept in memory."""


class AdapterVersions:
    """The store's adapter versions as the scheduler keeps them (see the module docstring)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._cache: OrderedDict[int, bytes] = OrderedDict()  # version -> adapter bytes
        self._cache_lock = threading.Lock()  # the session reads it, the worker fills it

    # === which version is in use =============================================================

    def active(self) -> int | None:
        """The adapter version new conversations use (None: the base model, nothing learned)."""
        value = self.store.get_setting(ACTIVE)
        return None if value is None else int(value)

    def lineage(self) -> list[int]:
        return [int(v) for v in self.store.get_setting(LINEAGE, [])]

    def set_active(self, version: int | None) -> None:
        self.store.set_setting(ACTIVE, version)

    def set_lineage(self, versions: list[int]) -> None:
        self.store.set_setting(LINEAGE, versions)

    def usable(self, version: int | None) -> bool:
        """Whether a state made with `version` may go on with it (no re-read needed).

        The base (None) always may; a version may while it is kept and the active version
        descends from it (a rollback or an unlearning leaves it behind).
        """
        return version is None or version in self.lineage()

    def pinned(self, limit: int) -> set[int]:
        """Versions the `limit` most recently saved conversation states were made with."""
        pins = self.store.get_setting(PINS, {})
        recent = sorted(pins.items(), key=lambda kv: -float(kv[1].get("at", 0)))[:limit]
        return {int(p["version"]) for _, p in recent if p.get("version") is not None}

    def pin(self, conversation_id: int, version: int | None) -> None:
        """Record that a conversation's state was just saved with `version` (the session calls
        this inside the transaction that saves the state)."""
        pins = dict(self.store.get_setting(PINS, {}))
        pins[str(conversation_id)] = {"version": version, "at": time.time()}
        self.store.set_setting(PINS, pins)

    def unpin(self, conversation_id: int) -> None:
        """Forget a deleted conversation's pin."""
        pins = dict(self.store.get_setting(PINS, {}))
        if pins.pop(str(conversation_id), None) is not None:
            self.store.set_setting(PINS, pins)

    # === weights =============================================================================

    def weights(self, version: int) -> bytes:
        """The weights of a kept version (cached: the session swaps adapters between replies)."""
        with self._cache_lock:
            data = self._cache.get(version)
            if data is not None:
                self._cache.move_to_end(version)
                return data
        data = self.store.get_adapter_version(version).data
        if not data:
            raise ValueError(f"adapter version {version} was rejected by the gate and has no weights")
        self.remember(version, data)
        return data

    def remember(self, version: int, data: bytes) -> None:
        with self._cache_lock:
            self._cache[version] = data
            self._cache.move_to_end(version)
            while len(self._cache) > CACHED_VERSIONS:
                self._cache.popitem(last=False)

    def forget_cached(self, versions: Iterable[int] | None = None) -> None:
        """Drop cached weights of `versions` (all if None)."""
        with self._cache_lock:
            if versions is None:
                self._cache.clear()
            for version in versions or ():
                self._cache.pop(version, None)

    # === keeping =============================================================================

    def prune(self, keep_recent: int, keep_days: int, keep_pinned: int) -> list[int]:
        """Delete the versions `kept_reasons` does not keep (a pruning, not an unlearning);
        returns the versions deleted. The caller holds the commit lock."""
        infos = self.store.list_adapter_versions()
        reasons = kept_reasons(infos, self.active(), self.pinned(keep_pinned), keep_recent, keep_days)
        doomed = [i.version for i in infos if i.version not in reasons]
        if not doomed:
            return []
        with self.store.transaction():
            for version in doomed:
                self.store.delete_adapter_version(version)
            self.set_lineage([v for v in self.lineage() if v not in set(doomed)])
        self.forget_cached(doomed)
        return doomed


def kept_reasons(
    infos: list[Any], active: int | None, pinned: set[int], keep_recent: int, keep_days: int
) -> dict[int, str]:
    """Why each kept version is kept ({version: reason}); versions not in the result may go."""
    accepted = [i for i in infos if i.metrics.get("accepted", True)]
    reasons: dict[int, str] = {}
    for info in accepted[-keep_recent:] if keep_recent > 0 else []:
        reasons[info.version] = "recent"
    by_day: dict[str, int] = {}
    for info in accepted:
        by_day[datetime.fromtimestamp(info.created).date().isoformat()] = info.version
    for day in sorted(by_day)[-keep_days:] if keep_days > 0 else []:
        reasons.setdefault(by_day[day], f"last of {day}")
    for version in pinned:
        if version in {i.version for i in accepted}:
            reasons.setdefault(version, "used by a conversation")
    if active is not None:
        reasons[active] = "active"
    oldest_recent = min((v for v, r in reasons.items() if r == "recent"), default=None)
    for info in infos:
        if not info.metrics.get("accepted", True) and oldest_recent is not None and info.version > oldest_recent:
            reasons[info.version] = "rejected (recent)"
    return reasons
