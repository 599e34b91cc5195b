"""User-visible memories, settings and the learning log."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from memory.base import StoreBase
from memory.codec import RowCodec
from memory.errors import CorruptRecord
from memory.forgetting import drop_states_that_read
from memory.records import Deletion, LogEvent, Memory


class FactsMixin(StoreBase):
    """Record methods for memories, settings and learning-log events."""

    # === memories ============================================================================

    def _memory(self, codec: RowCodec, ident: int, payload: bytes) -> Memory:
        obj = codec.open_json("memories", ident, payload)
        try:
            return Memory(ident, str(obj["text"]), float(obj["created"]), float(obj["updated"]))
        except (KeyError, TypeError, ValueError):
            raise CorruptRecord("memories", ident, "payload", "has an unexpected shape") from None

    def _put_memory(self, codec: RowCodec, memory: Memory, insert: bool) -> None:
        payload = codec.seal_json(
            "memories", memory.id, {"text": memory.text, "created": memory.created, "updated": memory.updated}
        )
        if insert:
            self._execute("INSERT INTO memories (id, payload) VALUES (?, ?)", [memory.id, payload])
        else:
            self._execute("UPDATE memories SET payload = ? WHERE id = ?", [payload, memory.id])
        self._index_add("memory", memory.id, memory.text, None)

    def add_memory(self, text: str, *, created: float | None = None) -> Memory:
        """Keep a fact the user can see, edit and delete."""
        now = time.time() if created is None else float(created)
        with self.transaction():
            codec = self._require_codec()
            memory = Memory(self._next_id("memories"), str(text), now, now)
            self._put_memory(codec, memory, insert=True)
            self._changed("memories", "added", memory.id)
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
            rows = self._execute("SELECT id, payload FROM memories ORDER BY id").fetchall()
            return self._readable(rows, lambda i, p: self._memory(codec, i, p), skipped)

    def edit_memory(self, memory_id: int, text: str) -> Memory:
        """Change a memory's text. Call `unlearn(memory_ids=[...])` to forget what the old text taught."""
        with self.transaction():
            codec = self._require_codec()
            old = self.get_memory(memory_id)
            memory = Memory(memory_id, str(text), old.created, time.time())
            self._put_memory(codec, memory, insert=False)
            self._changed("memories", "updated", memory_id)
        return memory

    def delete_memory(self, memory_id: int) -> Deletion:
        """Delete a memory and everything learned from it."""
        with self.transaction():
            self._row("memories", "id", memory_id, "id")
            replay, adapters = self._unlearn((), [memory_id])
            states = drop_states_that_read(self, memory_ids=[memory_id])
            self._execute("DELETE FROM memories WHERE id = ?", [memory_id])
            self._index_remove("memory", memory_id)
            self._changed("memories", "deleted", memory_id)
        return Deletion(memories=(memory_id,), replay_items=replay, adapter_versions=adapters, states=tuple(states))

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
