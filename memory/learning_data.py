"""What the learner keeps: adapter versions, the replay buffer, and unlearning.

What each adapter version saw and what each replay item came from is kept twice: in the link
tables (`adapter_sources`, `replay_sources`: plaintext ids, an index) and sealed inside the
record's own payload (`seen` / `sources`). The sealed copy is the one handed out and the one
unlearning relies on (see `StoreBase._unlearn`); `Store.verify` reports link rows that disagree.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from memory.base import StoreBase
from memory.codec import RowCodec
from memory.errors import CorruptRecord
from memory.records import AdapterInfo, AdapterVersion, Deletion, ReplayItem, Sources


class LearningDataMixin(StoreBase):
    """Record methods for adapter versions and replay items, and `unlearn`."""

    # === adapter versions ====================================================================

    def _adapter_info(self, codec: RowCodec, version: int, payload: bytes) -> AdapterInfo:
        obj = codec.open_json("adapter_versions", version, payload)
        try:
            parent = obj["parent"]
            return AdapterInfo(
                version,
                dict(obj["metrics"]),
                float(obj["created"]),
                None if parent is None else int(parent),
                Sources.from_json(obj["seen"]),
            )
        except (KeyError, TypeError, ValueError):
            raise CorruptRecord("adapter_versions", version, "payload", "has an unexpected shape") from None

    @staticmethod
    def _adapter_meta(metrics: Mapping[str, Any], created: float, parent: int | None, seen: Sources) -> dict[str, Any]:
        return {"metrics": dict(metrics), "created": created, "parent": parent, "seen": seen.to_json()}

    def _replay_sources(self, codec: RowCodec, replay_id: int) -> Sources:
        """What a replay item came from (nothing if it was evicted)."""
        row = self._execute("SELECT payload FROM replay_items WHERE id = ?", [replay_id]).fetchone()
        return Sources() if row is None else self._replay_item(codec, replay_id, row[0]).sources

    def add_adapter_version(
        self,
        data: bytes,
        metrics: Mapping[str, Any],
        *,
        parent: int | None = None,
        seen_message_ids: Iterable[int] = (),
        seen_memory_ids: Iterable[int] = (),
        seen_replay_ids: Iterable[int] = (),
        created: float | None = None,
    ) -> AdapterInfo:
        """Save adapter weights as the next numbered version.

        `seen_*` name what this update trained on. The stored set is cumulative: it also holds
        what `parent` saw and the messages and memories behind each replay item, so deleting any
        of them later finds this version.
        """
        now = time.time() if created is None else float(created)
        with self.transaction():
            codec = self._require_codec()
            seen = Sources(
                frozenset(int(i) for i in seen_message_ids),
                frozenset(int(i) for i in seen_memory_ids),
                frozenset(int(i) for i in seen_replay_ids),
            )
            for replay_id in seen.replay_ids:
                seen = seen | self._replay_sources(codec, replay_id)
            if parent is not None:
                seen = seen | self.list_adapter_versions(only=parent)[0].seen
            version = self._next_id("adapter_versions")
            meta = self._adapter_meta(metrics, now, parent, seen)
            self._execute(
                "INSERT INTO adapter_versions (id, payload, blob) VALUES (?, ?, ?)",
                [
                    version,
                    codec.seal_json("adapter_versions", version, meta),
                    codec.seal("adapter_versions", "blob", version, bytes(data)),
                ],
            )
            self._put_sources("adapter_sources", "adapter_id", version, seen)
            self._changed("adapter_versions", "added", version)
        return AdapterInfo(version, dict(metrics), now, parent, seen)

    def set_adapter_metrics(self, version: int, metrics: Mapping[str, Any]) -> AdapterInfo:
        """Replace a version's metrics (for example once its gate evaluation is done)."""
        with self.transaction():
            codec = self._require_codec()
            info = self.list_adapter_versions(only=version)[0]
            meta = self._adapter_meta(metrics, info.created, info.parent, info.seen)
            self._execute(
                "UPDATE adapter_versions SET payload = ? WHERE id = ?",
                [codec.seal_json("adapter_versions", version, meta), version],
            )
            self._changed("adapter_versions", "updated", version)
            self._overwrote()
        return AdapterInfo(version, dict(metrics), info.created, info.parent, info.seen)

    def list_adapter_versions(self, *, only: int | None = None) -> list[AdapterInfo]:
        """All adapter versions without their weights, oldest first (or just version `only`)."""
        with self._lock:
            codec = self._require_codec()
            if only is None:
                rows = self._execute("SELECT id, payload FROM adapter_versions ORDER BY id").fetchall()
            else:
                rows = [(only, self._row("adapter_versions", "id", only, "payload")[0])]
            return [self._adapter_info(codec, version, payload) for version, payload in rows]

    def latest_adapter_version(self) -> AdapterInfo | None:
        """The highest-numbered adapter version, or None."""
        with self._lock:
            self._require_codec()
            row = self._execute("SELECT max(id) FROM adapter_versions").fetchone()
            return None if row[0] is None else self.list_adapter_versions(only=row[0])[0]

    def get_adapter_version(self, version: int) -> AdapterVersion:
        """An adapter version with its weights."""
        with self._lock:
            codec = self._require_codec()
            info = self.list_adapter_versions(only=version)[0]
            (blob,) = self._row("adapter_versions", "id", version, "blob")
            data = codec.open("adapter_versions", "blob", version, blob)
            return AdapterVersion(info.version, info.metrics, info.created, info.parent, info.seen, data)

    def delete_adapter_version(self, version: int) -> None:
        """Delete one adapter version (a rollback or pruning; not an unlearning)."""
        with self.transaction():
            self._row("adapter_versions", "id", version, "id")
            self._execute("DELETE FROM adapter_versions WHERE id = ?", [version])
            self._changed("adapter_versions", "deleted", version)

    # === replay buffer =======================================================================

    def _replay_item(self, codec: RowCodec, ident: int, payload: bytes) -> ReplayItem:
        obj = codec.open_json("replay_items", ident, payload)
        try:
            return ReplayItem(ident, str(obj["text"]), float(obj["created"]), Sources.from_json(obj["sources"]))
        except (KeyError, TypeError, ValueError):
            raise CorruptRecord("replay_items", ident, "payload", "has an unexpected shape") from None

    def add_replay_item(
        self,
        text: str,
        *,
        message_ids: Iterable[int] = (),
        memory_ids: Iterable[int] = (),
        created: float | None = None,
    ) -> ReplayItem:
        """Keep an exchange in the replay buffer, with the messages or memories it came from."""
        now = time.time() if created is None else float(created)
        sources = Sources(frozenset(int(i) for i in message_ids), frozenset(int(i) for i in memory_ids))
        with self.transaction():
            codec = self._require_codec()
            ident = self._next_id("replay_items")
            self._execute(
                "INSERT INTO replay_items (id, payload) VALUES (?, ?)",
                [
                    ident,
                    codec.seal_json("replay_items", ident, {"text": str(text), "created": now, "sources": sources.to_json()}),
                ],
            )
            self._put_sources("replay_sources", "replay_id", ident, sources)
            self._changed("replay_items", "added", ident)
        return ReplayItem(ident, str(text), now, sources)

    def get_replay_item(self, item_id: int) -> ReplayItem:
        """One replay item."""
        with self._lock:
            codec = self._require_codec()
            (payload,) = self._row("replay_items", "id", item_id, "payload")
            return self._replay_item(codec, item_id, payload)

    def replay_ids(self) -> list[int]:
        """Ids of every replay item, in id order (cheap: nothing is decrypted). New items take random
        ids (`StoreBase._next_ids`), so this order is not their age."""
        with self._lock:
            self._require_codec()
            return [r[0] for r in self._execute("SELECT id FROM replay_items ORDER BY id")]

    def list_replay_items(self, ids: Iterable[int] | None = None) -> list[ReplayItem]:
        """Replay items (all, or those with the given ids), in id order."""
        with self._lock:
            codec = self._require_codec()
            if ids is None:
                rows = self._execute("SELECT id, payload FROM replay_items ORDER BY id").fetchall()
            else:
                rows = [(i, self._row("replay_items", "id", i, "payload")[0]) for i in sorted(set(ids))]
            return [self._replay_item(codec, ident, payload) for ident, payload in rows]

    def delete_replay_item(self, item_id: int) -> None:
        """Evict one replay item (reservoir replacement; adapter versions that saw it are kept)."""
        with self.transaction():
            self._row("replay_items", "id", item_id, "id")
            self._execute("DELETE FROM replay_items WHERE id = ?", [item_id])
            self._changed("replay_items", "deleted", item_id)

    # === unlearning ==========================================================================

    def unlearn(self, *, message_ids: Iterable[int] = (), memory_ids: Iterable[int] = ()) -> Deletion:
        """Forget what was learned from these messages or memories without deleting them.

        Removes the replay items derived from them and the adapter versions that saw them.
        """
        with self.transaction():
            self._require_codec()
            replay, adapters = self._unlearn(message_ids, memory_ids)
        return Deletion(replay_items=replay, adapter_versions=adapters)
