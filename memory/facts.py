"""User-visible memories, settings and the learning log."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from memory.base import StoreBase
from memory.codec import RowCodec
from memory.errors import CorruptRecord, RecordNotFound
from memory.forgetting import drop_states_that_read
from memory.records import Deletion, LogEvent, Memory


_OPTIONAL_IDS = ("conversation_id", "message_id", "superseded_by")
_OPTIONAL_TIMES = ("said_at", "superseded_at")


def memory_payload(memory: Memory) -> dict[str, Any]:
    """A memory's fields as the JSON sealed in its row (and written to exports); unset ones are left out."""
    obj: dict[str, Any] = {"text": memory.text, "created": memory.created, "updated": memory.updated}
    for name in (*_OPTIONAL_IDS, *_OPTIONAL_TIMES, "slot"):
        if getattr(memory, name) is not None:
            obj[name] = getattr(memory, name)
    if memory.times_used:
        obj["times_used"] = memory.times_used
    return obj


def memory_from_payload(ident: int, obj: Mapping[str, Any]) -> Memory:
    """`memory_payload`'s output as a `Memory` (fields it lacks take their defaults);
    `ValueError` or `TypeError` where one has another type."""

    def optional(name: str, kind: type) -> Any:
        value = obj.get(name)
        if value is None:
            return None
        if kind is int and type(value) is not int:
            raise TypeError(f"{name} must be an integer id")
        return kind(value)

    used = obj.get("times_used", 0)
    if type(used) is not int or used < 0:
        raise TypeError("times_used must be a count")
    slot = obj.get("slot")
    if slot is not None and not isinstance(slot, str):
        raise TypeError("slot must be a string")
    return Memory(
        ident,
        str(obj["text"]),
        float(obj["created"]),
        float(obj["updated"]),
        **{name: optional(name, int) for name in _OPTIONAL_IDS},
        **{name: optional(name, float) for name in _OPTIONAL_TIMES},
        slot=slot,
        times_used=used,
    )


class FactsMixin(StoreBase):
    """Record methods for memories, settings and learning-log events."""

    # === memories ============================================================================

    def _memory(self, codec: RowCodec, ident: int, payload: bytes) -> Memory:
        obj = codec.open_json("memories", ident, payload)
        try:
            return memory_from_payload(ident, obj)
        except (KeyError, TypeError, ValueError):
            raise CorruptRecord("memories", ident, "payload", "has an unexpected shape") from None

    def _put_memory(self, codec: RowCodec, memory: Memory, insert: bool, *, index: bool = True) -> None:
        payload = codec.seal_json("memories", memory.id, memory_payload(memory))
        if insert:
            self._execute("INSERT INTO memories (id, payload) VALUES (?, ?)", [memory.id, payload])
        else:
            self._execute("UPDATE memories SET payload = ? WHERE id = ?", [payload, memory.id])
        if index:
            self._index_add("memory", memory.id, memory.text, None)

    def add_memory(
        self,
        text: str,
        *,
        created: float | None = None,
        conversation_id: int | None = None,
        message_id: int | None = None,
        said_at: float | None = None,
        slot: str | None = None,
        supersedes: Iterable[int] = (),
    ) -> Memory:
        """Keep a fact the user can see, edit and delete: typed in (no source), or kept from what
        was said in a conversation (`conversation_id`, `message_id`, `said_at`). The memories
        in `supersedes` are marked superseded by it, in the same transaction."""
        now = time.time() if created is None else float(created)
        with self.transaction():
            codec = self._require_codec()
            memory = Memory(
                self._next_id("memories"), str(text), now, now, conversation_id, message_id,
                None if said_at is None else float(said_at), slot,
            )  # fmt: skip
            self._put_memory(codec, memory, insert=True)
            self._changed("memories", "added", memory.id)
            for old_id in supersedes:
                old = self.get_memory(old_id)
                if old.superseded_by is None:
                    self._put_memory(codec, replace(old, superseded_by=memory.id, superseded_at=now), insert=False, index=False)
                    self._changed("memories", "updated", old_id)
        return memory

    def get_memory(self, memory_id: int) -> Memory:
        """One memory."""
        with self._lock:
            codec = self._require_codec()
            (payload,) = self._row("memories", "id", memory_id, "payload")
            return self._memory(codec, memory_id, payload)

    def list_memories(self, *, skipped: list[CorruptRecord] | None = None) -> list[Memory]:
        """All readable memories, oldest first (damaged ones left out and noted in `skipped`)."""
        with self._lock:
            codec = self._require_codec()
            rows = self._execute("SELECT id, payload FROM memories").fetchall()
            memories = self._readable(rows, lambda i, p: self._memory(codec, i, p), skipped)
            return sorted(memories, key=lambda m: (m.created, m.id))  # ids are random (StoreBase._next_ids)

    def edit_memory(self, memory_id: int, text: str) -> Memory:
        """Change a memory's text (its source, slot, use count and status stay). Call
        `unlearn(memory_ids=[...])` to forget what the old text taught."""
        with self.transaction():
            codec = self._require_codec()
            old = self.get_memory(memory_id)
            memory = replace(old, text=str(text), updated=time.time())
            self._put_memory(codec, memory, insert=False)
            self._changed("memories", "updated", memory_id)
            drop_states_that_read(self, memory_ids=[memory_id])  # they read the old text
        return memory

    def count_memory_use(self, memory_ids: Iterable[int]) -> None:
        """One more use for each memory (it went into a memory block); ones gone meanwhile or
        damaged are passed over. Bookkeeping: the text is unchanged, so the index is not touched."""
        with self.transaction():
            codec = self._require_codec()
            for ident in dict.fromkeys(memory_ids):
                try:
                    old = self.get_memory(ident)
                except (RecordNotFound, CorruptRecord):
                    continue
                self._put_memory(codec, replace(old, times_used=old.times_used + 1), insert=False, index=False)

    def delete_memory(self, memory_id: int) -> Deletion:
        """Delete a memory and everything learned from it. The memories it had superseded are
        current again (undoing "I moved to Oslo" makes the older home the current one)."""
        with self.transaction():
            codec = self._require_codec()
            self._row("memories", "id", memory_id, "id")
            replay, adapters = self._unlearn((), [memory_id])
            states = drop_states_that_read(self, memory_ids=[memory_id])
            self._execute("DELETE FROM memories WHERE id = ?", [memory_id])
            self._index_remove("memory", memory_id)
            self._changed("memories", "deleted", memory_id)
            for other in self.list_memories():
                if other.superseded_by == memory_id:
                    self._put_memory(codec, replace(other, superseded_by=None, superseded_at=None), insert=False, index=False)
                    self._changed("memories", "updated", other.id)
        return Deletion(memories=(memory_id,), replay_items=replay, adapter_versions=adapters, states=tuple(states))

    def _delete_memories_kept_from(self, message_ids: list[int]) -> list[Deletion]:
        """Delete the memories kept from these messages (their words are a copy of the message's):
        a deleted message or conversation takes what was remembered from it along."""
        gone = set(message_ids)
        return [self.delete_memory(m.id) for m in self.list_memories() if m.message_id is not None and m.message_id in gone]

    # === settings ============================================================================

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under `key` (name and value are both encrypted)."""
        with self.transaction():
            codec = self._require_codec()
            ident = codec.setting_id(key)
            if self._execute("SELECT 1 FROM settings WHERE id = ?", [ident]).fetchone():
                self._overwrote()
            self._execute(
                "INSERT OR REPLACE INTO settings (id, payload) VALUES (?, ?)",
                [ident, codec.seal_json("settings", ident, {"key": key, "value": value})],
            )
            self._changed("settings", "updated", key)

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The value stored under `key`, or `default` (also where the stored value is damaged:
        it is noted in `Store.skipped` and left for `verify --repair`)."""
        with self._lock:
            codec = self._require_codec()
            ident = codec.setting_id(key)
            row = self._execute("SELECT payload FROM settings WHERE id = ?", [ident]).fetchone()
            if row is None:
                return default
            try:
                return codec.open_json("settings", ident, row[0]).get("value", default)
            except CorruptRecord as exc:
                self._skip(exc, None)
                return default

    def list_settings(self, *, skipped: list[CorruptRecord] | None = None) -> dict[str, Any]:
        """Every readable setting (damaged ones left out and noted in `skipped`)."""
        with self._lock:
            codec = self._require_codec()

            def read(ident: str, payload: bytes) -> tuple[str, Any]:
                obj = codec.open_json("settings", ident, payload)
                if not isinstance(obj.get("key"), str) or codec.setting_id(obj["key"]) != ident:
                    raise CorruptRecord("settings", ident, "payload", "names a different setting")
                return obj["key"], obj.get("value")

            rows = self._execute("SELECT id, payload FROM settings").fetchall()
            return dict(self._readable(rows, read, skipped))

    def delete_setting(self, key: str) -> bool:
        """Remove a setting; whether it existed."""
        with self.transaction():
            codec = self._require_codec()
            found = self._execute("DELETE FROM settings WHERE id = ?", [codec.setting_id(key)]).rowcount > 0
            if found:
                self._changed("settings", "deleted", key)
        return found

    # === learning log ========================================================================

    def log_event(self, kind: str, detail: Mapping[str, Any] | None = None, *, when: float | None = None) -> LogEvent:
        """Append an event (an update, a rollback, an unlearning ...) to the learning log."""
        now = time.time() if when is None else float(when)
        event_detail = dict(detail or {})
        with self.transaction():
            codec = self._require_codec()
            ident = self._next_id("learning_log")
            self._execute(
                "INSERT INTO learning_log (id, payload) VALUES (?, ?)",
                [ident, codec.seal_json("learning_log", ident, {"kind": str(kind), "detail": event_detail, "time": now})],
            )
            self._changed("learning_log", "added", ident)
        return LogEvent(ident, str(kind), event_detail, now)

    def list_events(
        self, *, limit: int | None = None, kind: str | None = None, skipped: list[CorruptRecord] | None = None
    ) -> list[LogEvent]:
        """Learning-log events, oldest first (the last `limit` of them, optionally of one `kind`)."""
        with self._lock:
            codec = self._require_codec()
            events = []
            for ident, payload in self._execute("SELECT id, payload FROM learning_log ORDER BY id").fetchall():
                try:
                    obj = codec.open_json("learning_log", ident, payload)
                    try:
                        event = LogEvent(ident, str(obj["kind"]), dict(obj["detail"]), float(obj["time"]))
                    except (KeyError, TypeError, ValueError):
                        raise CorruptRecord("learning_log", ident, "payload", "has an unexpected shape") from None
                except CorruptRecord as exc:
                    self._skip(exc, skipped)
                    continue
                if kind is None or event.kind == kind:
                    events.append(event)
        return events if limit is None else events[-limit:] if limit > 0 else []
