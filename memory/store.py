"""The encrypted store: one data directory, one database, one vault, one running instance.

    store = Store.open(directory)          # takes the instance lock, opens the database
    store.create(passphrase)               # first run: a new vault   (or: store.unlock(passphrase))
    conversation = store.add_conversation("Trip planning")
    user, reply = store.add_turn(conversation.id, "I'm going to Lisbon", "Have a great trip!")
    store.recall("where am I travelling?")  # snippets from past messages and memories
    store.close()

Files in the directory: `store.db` (+ `-wal`, `-shm`), `vault.json` (key slots, see
`memory.vault`) and `store.lock`. Every value that holds or reveals user content is an
AES-256-GCM envelope bound to its table, column and row (`memory.codec`); ids and foreign keys
are the only plaintext (`memory.migrations.PLAINTEXT_COLUMNS`).

A deletion removes what was derived from the deleted items too (replay items, adapter versions
that saw them, the conversation's recurrent state) and says what it removed in a `Deletion`, so
the learner can retrain from what remains.

The methods come from: `memory.base` (open, create, unlock, lock, close, passphrase and keyring,
`transaction`, `add_listener`), `memory.chats` (conversations, messages, states),
`memory.learning_data` (adapter versions, replay buffer, `unlearn`), `memory.facts` (memories,
settings, learning log), `memory.snapshots` (`snapshot`, `restore`), `memory.vectors`
(`use_embedder`, `fill_vectors`: recall by meaning); this module adds recall,
`verify`, `check_integrity` (`memory.integrity`), `drop_damaged`, `rekey` (`memory.rekey`),
`stats` and `reset`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from memory import migrations
from memory.base import STORE_FILE, StoreBase
from memory.codec import RowCodec
from memory.errors import CorruptRecord, DatabaseCorrupt, SchemaTooNew, StoreIntegrityError
from memory.integrity import Problem, refuse_missing_database
from memory.lock import InstanceLock
from memory.recall import RecallIndex
from memory.records import Conversation, Snippet
from memory.snapshots import DAMAGED_TITLE, SnapshotMixin
from memory.sqlite import checkpoint, side_files
from memory.vault import VAULT_FILE, Vault
from memory.vectors import VectorMixin

__all__ = ["STORE_FILE", "Store", "check_files", "reset_directory"]


class Store(SnapshotMixin, VectorMixin, StoreBase):
    """The encrypted store of one data directory. Create with `Store.open(directory)`."""

    # === recall ==============================================================================

    def build_recall_index(self) -> RecallIndex:
        """Build the in-memory recall index from every message and memory (once per unlock).

        Rows are read under the lock; decryption and indexing run without it, and changes
        committed meanwhile are replayed onto the new index before it is installed. Records that
        fail to decrypt are left out and listed in `index_skipped`.
        """
        with self._build_lock:
            while True:
                with self._lock:
                    codec = self._require_codec()
                    if self._index is not None:
                        return self._index
                    generation = self._index_generation
                    messages = self._execute("SELECT id, conversation_id, payload FROM messages ORDER BY id").fetchall()
                    memories = self._execute("SELECT id, payload FROM memories ORDER BY id").fetchall()
                    vectors = self._vector_rows()
                    self._index_backlog = []
                index, skipped = self._index_rows(codec, messages, memories)
                self._open_vectors(codec, vectors, index)
                with self._lock:
                    backlog, self._index_backlog = self._index_backlog, None
                    if self._index_generation != generation or backlog is None:
                        continue  # locked, restored or reset meanwhile: start again (or fail to)
                    for op in backlog:
                        op(index)
                    self._index = index
                    self.index_skipped = skipped
                    missing = self._embedder is not None and any(not index.has_vector(key) for key in index.keys())
                if missing and self.fill_in_background:
                    self._fill_in_background()
                return index

    def _index_rows(
        self, codec: RowCodec, messages: list[tuple[Any, ...]], memories: list[tuple[Any, ...]]
    ) -> tuple[RecallIndex, list[CorruptRecord]]:
        index = RecallIndex()
        skipped: list[CorruptRecord] = []
        for ident, conversation_id, payload in messages:
            try:
                message = self._message(codec, ident, conversation_id, payload)
                index.add(("message", ident), message.text, conversation_id, message.role)
            except CorruptRecord as exc:
                skipped.append(exc)
        for ident, payload in memories:
            try:
                index.add(("memory", ident), self._memory(codec, ident, payload).text, None)
            except CorruptRecord as exc:
                skipped.append(exc)
        return index, skipped

    def recall(
        self,
        query: str,
        k: int = 5,
        *,
        exclude_conversation: int | None = None,
        kinds: Iterable[str] | None = None,
        roles: Iterable[str] | None = None,
    ) -> list[Snippet]:
        """The `k` past messages and memories most relevant to `query`, best first: BM25 fused with
        sentence-vector similarity where an embedder is in use (`use_embedder`), else BM25 alone.

        `exclude_conversation` leaves out one conversation (usually the current one, whose
        messages the recurrent state already holds); `kinds` limits to "message" or "memory";
        `roles` keeps only messages of those roles (e.g. the user's own), memories whatever it says.
        """
        while True:
            index = self._index if self._index is not None else self.build_recall_index()
            query_vector = self.embed_query(query) if k > 0 else None  # outside the lock: ~10 ms
            with self._lock:
                self._require_codec()
                if self._index is index:  # not replaced by a restore or a lock meanwhile
                    return index.search(
                        query, k, exclude_conversation=exclude_conversation, kinds=kinds, roles=roles,
                        query_vector=query_vector,
                    )

    # === whole-store operations ==============================================================

    def stats(self) -> dict[str, int]:
        """Row counts per table and bytes on disk (nothing is decrypted)."""
        with self._lock:
            self._check_open()
            counts = {
                table: self._execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in migrations.USER_TABLES
                if not table.endswith("_sources")
            }
            counts["bytes"] = sum(p.stat().st_size for p in side_files(self.path) if p.exists())
            return counts

    def verify(self) -> list[CorruptRecord]:
        """Try to open every envelope in the database; the records that fail (none, normally).

        Also reports link rows (`adapter_sources`, `replay_sources`) that disagree with the source
        ids sealed inside their record: a link row added or deleted by editing the database.
        """
        with self._lock:
            codec = self._require_codec()
            bad: list[CorruptRecord] = []
            for table, columns in migrations.envelope_columns(self._db).items():
                key = migrations.ROW_KEYS[table]
                link_column = migrations.LINK_COLUMNS.get(table, "NULL")
                for row in self._execute(f"SELECT {key}, {link_column}, {', '.join(columns)} FROM {table}"):
                    link = migrations.link_of(table, row[1])
                    for column, value in zip(columns, row[2:], strict=True):
                        try:
                            codec.open(table, column, row[0], value, link=link)
                        except CorruptRecord as exc:
                            bad.append(exc)
            for table, links, key in (
                ("adapter_versions", "adapter_sources", "adapter_id"),
                ("replay_items", "replay_sources", "replay_id"),
            ):
                for ident, sealed in self._sealed_sources(table):
                    if sealed is not None and sealed != self._sources_of(links, key, ident):
                        bad.append(
                            CorruptRecord(links, ident, "source_id", f"does not match the source ids sealed in {table}")
                        )
            return bad

    def check_integrity(self) -> list[Problem]:
        """The full whole-store check (`memory.integrity`): SQLite's own page check, the seal, the
        counter against the key file's, and every row's hash against the manifest. Empty when sound."""
        with self._lock:
            self._require_codec()
            found: list[Problem] = []
            try:
                pages = [r[0] for r in self._db.conn.execute("PRAGMA integrity_check").fetchall()]
            except sqlite3.DatabaseError as exc:
                pages = [str(exc)]
            if pages != ["ok"]:
                found.append(Problem("database", "*", "SQLite's integrity check failed: " + "; ".join(pages[:5])))
            if self._integrity is None:
                return found
            try:
                found += self._integrity.problems(self._db.conn, self._vault.integrity_record(), full=True)
            except sqlite3.DatabaseError as exc:
                found.append(Problem("database", "*", f"the database could not be read to the end: {exc}"))
            return found

    def accept_as_is(self) -> None:
        """Record the rows as they are now as the store's sound state (after a repair, or to keep a
        store whose rows were lost or rolled back): the manifest is recomputed and the key file told."""
        with self._lock:
            self._require_codec()
            assert self._integrity is not None
            with self._db.atomic():
                record = self._vault.integrity_record()
                sealed = self._integrity.rebuild(self._db.conn, record[0] if record else 0)
            self._record_integrity(sealed)
            self.integrity_problems = []

    def drop_damaged(self, records: Iterable[CorruptRecord]) -> int:
        """Drop damaged records (from `verify`) in one transaction, then record the store as sound.

        A damaged message, state, memory, setting, adapter version, replay item or log event is
        deleted (with what was derived from it, as any deletion); a conversation whose header is
        damaged keeps its messages under a stand-in title; link rows that disagree with their
        record's sealed sources are rewritten from them. Returns how many were handled.
        """
        done = 0
        with self.transaction():
            codec = self._require_codec()
            for exc in records:
                table, row = exc.table, exc.row
                exists = table in migrations.ROW_KEYS and self._execute(
                    f"SELECT 1 FROM {table} WHERE {migrations.ROW_KEYS[table]} = ?", [row]
                ).fetchone()
                if table == "conversations" and exists:
                    now = time.time()
                    self._put_conversation(codec, Conversation(row, DAMAGED_TITLE, now, now), insert=False)
                elif table == "messages" and exists:
                    self.delete_message(row)
                elif table == "memories" and exists:
                    self.delete_memory(row)
                elif table == "vectors" and exists:  # recomputed from its text by `fill_vectors`
                    self._execute("DELETE FROM vectors WHERE id = ?", [row])
                elif table in ("states", "settings", "adapter_versions", "replay_items", "learning_log") and exists:
                    self._execute(f"DELETE FROM {table} WHERE {migrations.ROW_KEYS[table]} = ?", [row])
                    self._changed(table, "deleted", row)
                elif table in ("adapter_sources", "replay_sources"):
                    owner, key = ("adapter_versions", "adapter_id") if table == "adapter_sources" else ("replay_items", "replay_id")
                    sealed = dict(self._sealed_sources(owner)).get(row)
                    self._execute(f"DELETE FROM {table} WHERE {key} = ?", [row])
                    if sealed is not None:
                        self._put_sources(table, key, row, sealed)
                else:
                    continue
                done += 1
        self.accept_as_is()
        return done

    def rekey(self, passphrase: str, progress: Any = None) -> None:
        """Re-encrypt every record under a new random data key (crash-safe: `memory.rekey`), so
        old copies of the database no longer open with the key file. `progress(done, total)`."""
        from memory.rekey import rekey

        rekey(self, passphrase, progress)

    def reset(self, keyring_backend: Any = None) -> list[str]:
        """Destroy everything: shred the key slots, delete every row, vacuum, truncate the WAL, remove the files.

        Works while locked (no passphrase is needed to destroy). Afterwards the store is closed
        and nothing from before can be recovered. Returns warnings (such as a keyring entry that
        could not be deleted).
        """
        with self._lock:
            self._check_open()
            self._unrecorded = None  # nothing more for the key file: it is destroyed now
            warnings = self._vault.destroy(keyring_backend)
            self.lock()
            try:
                with self._db.atomic():
                    for table in (*migrations.USER_TABLES, "meta"):
                        self._execute(f"DELETE FROM {table}")
                self._execute("VACUUM")
                checkpoint(self._db)
            except sqlite3.DatabaseError as exc:
                warnings.append(f"the database could not be wiped before removal: {exc}")
            finally:
                self._db.close()
                self._closed = True
                for file in side_files(self.path):
                    file.unlink(missing_ok=True)
                self._instance_lock.release(remove=True)
            return warnings


def check_files(directory: Path | str) -> list[str]:
    """What can be checked without the key: the database is there beside its key file, and
    SQLite's own check of every page passes. Problems as sentences (none: sound). Writes nothing."""
    directory = Path(directory)
    if not (directory / STORE_FILE).exists() and not (directory / VAULT_FILE).exists():
        return []
    try:
        refuse_missing_database(directory / STORE_FILE, directory / VAULT_FILE)
    except StoreIntegrityError as exc:
        return [str(exc)]
    try:
        conn = sqlite3.connect(f"file:{directory / STORE_FILE}?mode=ro", uri=True)
        try:
            pages = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [f"{directory / STORE_FILE} cannot be read as a database: {exc}"]
    return [] if pages == ["ok"] else ["SQLite's integrity check failed: " + "; ".join(pages[:5])]


def reset_directory(directory: Path | str, keyring_backend: Any = None) -> list[str]:
    """Reset the store in `directory` even if its database cannot be opened; returns warnings."""
    directory = Path(directory)
    if not directory.exists():
        return []
    try:
        store = Store.open(directory)
    except (DatabaseCorrupt, SchemaTooNew, StoreIntegrityError) as exc:
        lock = InstanceLock(directory)
        lock.acquire()
        try:
            warnings = Vault(directory).destroy(keyring_backend)
            warnings.append(f"the database could not be opened and was removed without wiping: {exc}")
            for file in side_files(directory / STORE_FILE):
                file.unlink(missing_ok=True)
        finally:
            lock.release(remove=True)
        return warnings
    return store.reset(keyring_backend)
