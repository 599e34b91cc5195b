"""Everything at once: a decrypted snapshot of the store, and restoring one (replace or merge)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from memory import migrations
from memory.chats import ChatsMixin
from memory.codec import RowCodec
from memory.errors import CorruptRecord, DatabaseCorrupt, ExportFormatError
from memory.facts import FactsMixin
from memory.learning_data import LearningDataMixin
from memory.records import AdapterVersion, Conversation, Message, RecurrentState, Snapshot, Sources


DAMAGED_TITLE = "(title unreadable: the record was damaged)"


class SnapshotMixin(ChatsMixin, LearningDataMixin, FactsMixin):
    """`snapshot()` and `restore()`, built on the record methods."""

    def snapshot(self, *, skipped: list[CorruptRecord] | None = None) -> Snapshot:
        """Everything readable in the store, decrypted (for export).

        A damaged record costs only itself: it is left out and added to `skipped` (and to
        `Store.skipped`), and the rest is taken.
        """
        with self._lock:
            codec = self._require_codec()
            snap = Snapshot()
            def table(name: str, read: Callable[[], Any], empty: Any) -> Any:
                try:
                    return read()
                except DatabaseCorrupt as exc:  # damaged pages: the table is left out, the rest taken
                    self._skip(CorruptRecord(name, "*", "*", f"cannot be read ({exc})"), skipped)
                    return empty

            def rows(sql: str) -> list[Any]:
                return self._execute(sql).fetchall()

            snap.conversations = sorted(
                table("conversations", lambda: self.list_conversations(skipped=skipped), []), key=lambda c: c.id
            )
            snap.messages = table("messages", lambda: self._in_order(
                codec, rows("SELECT id, conversation_id, payload FROM messages"), skipped), [])
            snap.states = table("states", lambda: self._readable(
                rows("SELECT conversation_id, payload, blob FROM states ORDER BY conversation_id"),
                lambda *r: self._state(codec, *r), skipped), [])
            snap.adapter_versions = table("adapter_versions", lambda: self._readable(
                rows("SELECT id, payload, blob FROM adapter_versions ORDER BY id"),
                lambda *r: self._adapter_version(codec, *r), skipped), [])
            snap.replay_items = table("replay_items", lambda: self._readable(
                rows("SELECT id, payload FROM replay_items ORDER BY id"),
                lambda *r: self._replay_item(codec, *r), skipped), [])
            snap.memories = table("memories", lambda: self.list_memories(skipped=skipped), [])
            snap.settings = table("settings", lambda: self.list_settings(skipped=skipped), {})
            snap.learning_log = table("learning_log", lambda: self.list_events(skipped=skipped), [])
            # A conversation whose header is damaged keeps its readable messages, under a stand-in title.
            known = {c.id for c in snap.conversations}
            for m in snap.messages:
                if m.conversation_id not in known:
                    known.add(m.conversation_id)
                    snap.conversations.append(Conversation(m.conversation_id, DAMAGED_TITLE, m.created, m.created))
            snap.conversations.sort(key=lambda c: c.id)
            snap.states = [st for st in snap.states if st.conversation_id in known]
            return snap

    def _adapter_version(self, codec: RowCodec, version: int, payload: bytes, blob: bytes) -> AdapterVersion:
        info = self._adapter_info(codec, version, payload)
        data = codec.open("adapter_versions", "blob", version, blob)
        return AdapterVersion(info.version, info.metrics, info.created, info.parent, info.seen, data)

    def restore(self, snap: Snapshot, *, merge: bool = False) -> dict[str, int]:
        """Write a snapshot into the store in one transaction; on any error nothing changes.

        Replace mode (default) deletes everything first and keeps the snapshot's ids exactly.
        Merge mode adds the snapshot's records under new ids (references are renumbered; settings
        already present are kept; adapter versions are appended after the existing ones).
        Returns the counts written.
        """
        try:
            with self.transaction():
                codec = self._require_codec()
                if not merge:
                    for table in migrations.USER_TABLES:
                        self._execute(f"DELETE FROM {table}")
                    self._changed("*", "deleted")
                self._write_snapshot(codec, snap, merge)
                self._changed("*", "restored")
                self._pending.reindex = True  # the index is rebuilt on the next recall
        except sqlite3.IntegrityError as exc:
            raise ExportFormatError(f"the export's records do not fit together: {exc}") from None
        return snap.counts()

    def _write_snapshot(self, codec: RowCodec, snap: Snapshot, merge: bool) -> None:
        def renumber(table: str, old_ids: Iterable[int]) -> dict[int, int]:
            if not merge:
                return {i: i for i in old_ids}
            old_ids = list(old_ids)
            return dict(zip(old_ids, self._next_ids(table, len(old_ids)), strict=True))

        conv_map = renumber("conversations", [c.id for c in snap.conversations])
        msg_map = renumber("messages", [m.id for m in snap.messages])
        mem_map = renumber("memories", [m.id for m in snap.memories])
        replay_map = renumber("replay_items", [r.id for r in snap.replay_items])
        adapter_map = renumber("adapter_versions", [a.version for a in snap.adapter_versions])

        def remap(ids: Iterable[int], mapping: dict[int, int]) -> frozenset[int]:
            return frozenset(mapping.get(i, i) for i in ids) if not merge else frozenset(mapping[i] for i in ids if i in mapping)

        for c in snap.conversations:
            self._put_conversation(codec, Conversation(conv_map[c.id], c.title, c.created, c.updated), insert=True)
        for m in snap.messages:
            msg = Message(msg_map[m.id], conv_map.get(m.conversation_id, -1), m.role, m.text, m.created, m.cut)
            self._put_message(codec, msg, insert=True)
        for s in snap.states:
            # What it read comes along (renumbered with the records), so forgetting still reaches
            # it; where the export did not say (an older export), it stays unknown and is dropped
            # at the first deletion or edit.
            read = None if s.read is None else Sources(remap(s.read.message_ids, msg_map), remap(s.read.memory_ids, mem_map))
            state = RecurrentState(conv_map.get(s.conversation_id, -1), s.data, s.tag, s.updated, read)
            self._put_state(codec, state, replace=False)
        for mem in snap.memories:
            # its source and what superseded it, renumbered with the records (gone where the export lacks them)
            links = {"conversation_id": conv_map, "message_id": msg_map, "superseded_by": mem_map}
            moved = {k: None if getattr(mem, k) is None else m.get(getattr(mem, k)) for k, m in links.items()}
            self._put_memory(codec, dataclasses.replace(mem, id=mem_map[mem.id], **moved), insert=True)
        for r in snap.replay_items:
            ident = replay_map[r.id]
            sources = Sources(remap(r.sources.message_ids, msg_map), remap(r.sources.memory_ids, mem_map))
            self._execute(
                "INSERT INTO replay_items (id, payload) VALUES (?, ?)",
                [ident, codec.seal_json("replay_items", ident, {"text": r.text, "created": r.created, "sources": sources.to_json()})],
            )
            self._put_sources("replay_sources", "replay_id", ident, sources)
        for a in snap.adapter_versions:
            version = adapter_map[a.version]
            parent = None if a.parent is None else (adapter_map.get(a.parent) if merge else a.parent)
            seen = Sources(
                remap(a.seen.message_ids, msg_map), remap(a.seen.memory_ids, mem_map), remap(a.seen.replay_ids, replay_map)
            )
            meta = self._adapter_meta(a.metrics, a.created, parent, seen)
            self._execute(
                "INSERT INTO adapter_versions (id, payload, blob) VALUES (?, ?, ?)",
                [version, codec.seal_json("adapter_versions", version, meta), codec.seal("adapter_versions", "blob", version, a.data)],
            )
            self._put_sources("adapter_sources", "adapter_id", version, seen)
        existing = set(self.list_settings()) if merge else set()
        for key, value in snap.settings.items():
            if key not in existing:
                ident = codec.setting_id(key)
                self._execute(
                    "INSERT INTO settings (id, payload) VALUES (?, ?)",
                    [ident, codec.seal_json("settings", ident, {"key": key, "value": value})],
                )
        log_start = self._next_id("learning_log")
        for n, event in enumerate(snap.learning_log):
            ident = log_start + n if merge else event.id
            self._execute(
                "INSERT INTO learning_log (id, payload) VALUES (?, ?)",
                [ident, codec.seal_json("learning_log", ident, {"kind": event.kind, "detail": event.detail, "time": event.time})],
            )
