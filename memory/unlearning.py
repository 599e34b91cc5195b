"""What was learned from what: the link tables and sealed source lists of adapter versions and
replay items, and the unlearning a deletion triggers (a mixin of `memory.base.StoreBase`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from memory.errors import CorruptRecord
from memory.records import Sources


class UnlearningMixin:
    """Source bookkeeping on top of StoreBase's row access (`_execute`, `_ids_where`, ...)."""

    def _sources_of(self, table: str, key: str, ident: int) -> Sources:
        groups: dict[str, set[int]] = {"message": set(), "memory": set(), "replay": set()}
        for kind, source_id in self._execute(f"SELECT kind, source_id FROM {table} WHERE {key} = ?", [ident]):
            groups[kind].add(source_id)
        return Sources(frozenset(groups["message"]), frozenset(groups["memory"]), frozenset(groups["replay"]))

    def _put_sources(self, table: str, key: str, ident: int, sources: Sources) -> None:
        rows = [("message", i) for i in sources.message_ids] + [("memory", i) for i in sources.memory_ids]
        if table == "adapter_sources":
            rows += [("replay", i) for i in sources.replay_ids]
        self._db.conn.executemany(
            f"INSERT OR IGNORE INTO {table} ({key}, kind, source_id) VALUES (?, ?, ?)",
            [(ident, kind, int(source_id)) for kind, source_id in rows],
        )

    def _sealed_sources(self, table: str) -> Iterator[tuple[int, Sources | None]]:
        """(id, sources) of every adapter version or replay item, from the copy sealed in its payload.

        None for a record whose payload does not open or has no sources: nothing proves what it
        learned from.
        """
        codec = self._require_codec()
        field = "seen" if table == "adapter_versions" else "sources"
        for ident, payload in self._execute(f"SELECT id, payload FROM {table}").fetchall():
            try:
                yield ident, Sources.from_json(codec.open_json(table, ident, payload)[field])
            except (CorruptRecord, KeyError, ValueError):
                yield ident, None

    def _unlearn(self, message_ids: Iterable[int], memory_ids: Iterable[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Delete replay items derived from the given sources and adapter versions that saw any of them.

        Both the link tables (a plaintext index) and the source ids sealed inside each record's
        payload are consulted, so deleting a link row from the database cannot make a deletion keep
        what was learned from it. A record whose payload cannot be read is removed too: nothing
        shows it did not learn from the deleted items (it could not be used anyway).
        """
        message_ids, memory_ids = [int(i) for i in message_ids], [int(i) for i in memory_ids]
        replay: set[int] = set()
        adapters: set[int] = set()
        for kind, ids in (("message", message_ids), ("memory", memory_ids)):
            replay |= self._ids_where(
                "SELECT replay_id FROM replay_sources WHERE kind = ? AND source_id IN ({ids})", ids, kind
            )
            adapters |= self._ids_where(
                "SELECT adapter_id FROM adapter_sources WHERE kind = ? AND source_id IN ({ids})", ids, kind
            )
        if message_ids or memory_ids:
            gone = Sources(frozenset(message_ids), frozenset(memory_ids))
            replay |= {i for i, seen in self._sealed_sources("replay_items") if seen is None or seen.intersects(gone)}
            gone = Sources(gone.message_ids, gone.memory_ids, frozenset(replay))
            adapters |= {i for i, seen in self._sealed_sources("adapter_versions") if seen is None or seen.intersects(gone)}
        adapters |= self._ids_where(
            "SELECT adapter_id FROM adapter_sources WHERE kind = ? AND source_id IN ({ids})", replay, "replay"
        )
        self._delete_ids("replay_items", replay)
        self._delete_ids("adapter_versions", adapters)
        if replay:
            self._changed("replay_items", "deleted", *sorted(replay))
        if adapters:
            self._changed("adapter_versions", "deleted", *sorted(adapters))
        return tuple(sorted(replay)), tuple(sorted(adapters))
