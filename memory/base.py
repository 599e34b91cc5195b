"""The store's foundation: opening, keys, transactions, effects and row access.

`memory.store.Store` adds the record methods (mixins in `memory.chats`, `memory.learning_data`,
`memory.facts`, `memory.snapshots`) and the recall index on top of this.

Writes happen in transactions (`with store.transaction(): ...` groups several); the recall index
and listeners hear about a change only once it is committed. All methods are safe to call from
several threads (one re-entrant lock serialises them).
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from memory import migrations
from memory.codec import RowCodec
from memory.crypto import DESIGN_KDF, KdfParams
from memory.errors import (
    RECOVERY,
    CorruptRecord,
    DatabaseCorrupt,
    RecordNotFound,
    RowsMissing,
    StoreClosed,
    StoreError,
    StoreMissing,
    StoreRolledBack,
    VaultExists,
    VaultLocked,
    VaultMismatch,
    VaultMissing,
)
from memory.files import private_dir
from memory.integrity import Integrity, Problem, refuse_missing_database
from memory.lock import InstanceLock
from memory.recall import RecallIndex
from memory.records import Change
from memory.sqlite import Rows, checkpoint, connect, side_files, translated
from memory.unlearning import UnlearningMixin
from memory.vault import VAULT_FILE, Vault

log = logging.getLogger(__name__)

STORE_FILE = "store.db"
RECORD_EVERY_S = 1.0  # the key file hears of the database's counter at most this often (and at lock/close)
KEY_CHECK = b"assistant-store-key-check-v1"
_CHUNK = 500  # ids per `IN (...)` clause
ID_SPACE = 2**31 - 1  # random row ids are drawn from [1, ID_SPACE] (JSON-safe, 10 digits at most)
_EDITABLE_TEXT = frozenset({"conversations", "messages", "memories"})


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


@dataclass
class _Pending:
    """Effects of the open transaction, applied only once it commits."""

    index: list[Callable[[RecallIndex], None]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    deleted: bool = False
    reindex: bool = False

    def mark(self) -> tuple[int, int, bool, bool]:
        return len(self.index), len(self.changes), self.deleted, self.reindex

    def rollback(self, mark: tuple[int, int, bool, bool]) -> None:
        del self.index[mark[0] :]
        del self.changes[mark[1] :]
        self.deleted, self.reindex = mark[2], mark[3]


class StoreBase(UnlearningMixin):
    """Lifecycle, keys, transactions and row access; the record methods live in mixins."""

    def __init__(self, directory: Path, db: Any, lock: InstanceLock, vault: Vault) -> None:
        """Use `Store.open`; this only assembles the parts."""
        self.directory = directory
        self._db = db
        self._instance_lock = lock
        self._vault = vault
        self._lock = threading.RLock()
        self._build_lock = threading.Lock()
        self._codec: RowCodec | None = None
        self._closed = False
        self._depth = 0
        self._pending = _Pending()
        self._index: RecallIndex | None = None
        self._index_backlog: list[Callable[[RecallIndex], None]] | None = None
        self._index_generation = 0
        self._listeners: list[Callable[[Change], None]] = []
        self.index_skipped: list[CorruptRecord] = []
        """Records left out of the recall index because they failed to decrypt."""
        self._integrity: Integrity | None = None
        self._unrecorded: tuple[int, bytes] | None = None
        self._recorded_at = float("-inf")
        self.skipped: dict[tuple[str, object], CorruptRecord] = {}
        """Damaged records that reads have skipped since unlock (a list leaves one out rather than
        failing whole), by (table, row): what the interfaces report and `verify --repair` drops."""
        self.integrity_problems: list[Problem] = []
        """What the integrity check found at unlock, where the store was opened with `accept_damage`."""

    # === lifecycle ===========================================================================

    @classmethod
    def open(cls, directory: Path | str, *, passphrase: str | None = None, accept_damage: bool = False) -> Self:
        """Open the store in `directory` (created 0700 if needed), locked until `create`/`unlock`.

        With `passphrase` (where a key file exists) the passphrase is checked against the key
        file before anything else is touched, so a wrong one raises `WrongPassphrase` having
        written nothing (not even the lock file); the store comes back unlocked.

        Raises `InstanceLocked` if another running instance holds the directory,
        `DatabaseCorrupt` if the database is not readable as SQLite, `SchemaTooNew` if it was
        written by a newer program, and `StoreIntegrityError`s (see `unlock`).
        """
        data_key = None
        if passphrase is not None and (Path(directory) / VAULT_FILE).exists():
            data_key = Vault(Path(directory)).unlock(passphrase)
        directory = private_dir(Path(directory))
        refuse_missing_database(directory / STORE_FILE, directory / VAULT_FILE)
        lock = InstanceLock(directory)
        lock.acquire()
        try:
            db = connect(directory / STORE_FILE)
            try:
                migrations.migrate(db)
            except BaseException:
                db.close()
                raise
        except sqlite3.DatabaseError as exc:
            lock.release()
            raise DatabaseCorrupt(f"{directory / STORE_FILE} cannot be read: {exc}") from None
        except BaseException:
            lock.release()
            raise
        store = cls(directory, db, lock, Vault(directory))
        if data_key is not None:
            try:
                with store._lock:
                    store._install_key(store._recovered(passphrase, data_key), accept_damage=accept_damage)
            except BaseException:
                store.close()
                raise
        return store

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The database file."""
        return self.directory / STORE_FILE

    @property
    def has_vault(self) -> bool:
        """Whether a key file exists (the store was created)."""
        return self._vault.exists

    @property
    def is_unlocked(self) -> bool:
        """Whether the data key is in memory."""
        return self._codec is not None

    @property
    def closed(self) -> bool:
        """Whether the store was closed or reset."""
        return self._closed

    def files(self) -> list[Path]:
        """Every file of the store that exists now (for audits and scans)."""
        candidates = [*side_files(self.path), self._vault.path, self._instance_lock.path]
        return [p for p in candidates if p.exists()]

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the store was closed")

    def _has_key_check(self) -> bool:
        return self._db.conn.execute("SELECT 1 FROM meta WHERE key = 'key_check'").fetchone() is not None

    def create(self, passphrase: str, *, kdf: KdfParams = DESIGN_KDF) -> None:
        """Make the vault (a new random data key wrapped under `passphrase`) and unlock.

        `kdf` defaults to the design's Argon2id parameters; tests pass cheaper ones.
        """
        with self._lock:
            self._check_open()
            if self._vault.exists:
                raise VaultExists(f"a store already exists in {self.directory}; unlock it instead")
            if self._has_key_check():
                raise VaultMissing(self._orphan_message())
            self._install_key(self._vault.create(passphrase, kdf))

    def _orphan_message(self) -> str:
        return (
            f"{self.path} holds encrypted data but its key file ({self._vault.path.name}) is missing; "
            "without it the data cannot be read (restore the key file, or reset to start over)"
        )

    def unlock(self, passphrase: str, *, accept_damage: bool = False) -> None:
        """Unwrap the data key with `passphrase` (`WrongPassphrase` if it does not fit).

        Nothing on disk changes when the passphrase is wrong. A store failing the integrity check
        (`memory.integrity`) raises a `StoreIntegrityError`, unless `accept_damage` (for `verify`):
        then the findings are in `integrity_problems`.
        """
        with self._lock:
            self._check_open()
            if not self._vault.exists and self._has_key_check():
                raise VaultMissing(self._orphan_message())
            data_key = self._vault.unlock(passphrase)
            self._install_key(self._recovered(passphrase, data_key), accept_damage=accept_damage)

    def _recovered(self, passphrase: str, data_key: bytes) -> bytes:
        """The key that fits the database, finishing or undoing an interrupted rekey (`memory.rekey`)."""
        from memory.rekey import recover  # noqa: PLC0415  (rekey imports this module)
        return recover(self, passphrase, data_key)  # type: ignore[arg-type]

    def unlock_with_keyring(self, backend: Any = None, *, accept_damage: bool = False) -> None:
        """Unlock with the key kept in the OS keyring (see `enable_keyring`)."""
        with self._lock:
            self._check_open()
            self._install_key(self._vault.unlock_with_keyring(backend), accept_damage=accept_damage)

    def _install_key(self, data_key: bytes, *, accept_damage: bool = False) -> None:
        try:
            self._install_key_checked(data_key, accept_damage)
        except sqlite3.DatabaseError as exc:
            raise translated(exc, self.path) from None

    def _install_key_checked(self, data_key: bytes, accept_damage: bool) -> None:
        codec = RowCodec(data_key)
        record = self._vault.integrity_record()
        row = self._db.conn.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
        if row is None:
            if record is not None and record[0] > 0:
                held = sum(self._db.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in migrations.USER_TABLES)
                if held:
                    raise DatabaseCorrupt(
                        f"{self.path} is damaged: its key check record is gone although it holds {held} rows. "
                        f"Nothing was changed; {RECOVERY}"
                    )
                raise StoreMissing(
                    f"{self.path} holds none of the data its key file protects (the key file has seen "
                    f"{record[0]} writes): the database was emptied or replaced. Nothing was changed; {RECOVERY}"
                )
            with self._db.atomic():
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('key_check', ?)",
                    [codec.seal("meta", "value", "key_check", KEY_CHECK)],
                )
        else:
            try:
                ok = codec.open("meta", "value", "key_check", row[0]) == KEY_CHECK
            except CorruptRecord:
                ok = False
            if not ok:
                raise VaultMismatch(f"the key file in {self.directory} does not belong to its database")
        # Migrations that re-encrypt rows wait for the key (see `migrations.keyed_migration`).
        rewritten = bool(migrations.migrate(self._db, codec))
        self._check_integrity(Integrity(codec.integrity_key), record, rewritten, accept_damage)
        self._codec = codec

    def _check_integrity(
        self, integrity: Integrity, record: tuple[int, bytes] | None, rewritten: bool, accept_damage: bool
    ) -> None:
        """The cheap whole-store check at unlock; install the manifest's triggers if it passes."""
        conn = self._db.conn
        problems = integrity.problems(conn, record, full=False)
        if problems and not accept_damage:
            kinds = {p.kind for p in problems}
            error = (
                RowsMissing if kinds <= {"missing-rows", "extra-rows"}
                else DatabaseCorrupt if "database" in kinds
                else StoreRolledBack
            )
            raise error(
                f"the store in {self.directory} failed its integrity check: "
                + "; ".join(str(p) for p in problems)
                + f". Nothing was changed; {RECOVERY}; or keep what is there with `assistant verify --repair`",
                problems,
            )
        self.integrity_problems = problems
        integrity.install(conn)
        try:
            sealed = None
            stored = None if problems else integrity.stored(conn)  # with problems: left for `verify`
            if not problems and (stored is None or rewritten):
                # A new or older-format database, or rows a migration re-encrypted: record them as they are.
                with self._db.atomic():
                    sealed = integrity.rebuild(conn, record[0] if record else 0)
            elif stored is not None and (record is None or stored[0] > record[0]):
                sealed = stored[:2]  # the key file missed the last commits (a crash before it was told)
        except BaseException:
            Integrity.uninstall(conn)
            raise
        self._integrity = integrity
        if sealed is not None:
            self._record_integrity(sealed)

    def _record_integrity(self, sealed: tuple[int, bytes] | None, *, now: bool = True) -> None:
        """Tell the key file the database's counter and seal.

        Each rewrite of the key file costs a flush (about 10 ms here), so after a commit
        (`now=False`) it is written at most every `RECORD_EVERY_S` seconds; what is left waits for
        the next commit, `lock` or `close`, which always write it. A crash can so leave the key
        file up to that long behind the database: accepted, like any key file behind its database.
        """
        if sealed is None:
            sealed, self._unrecorded = self._unrecorded, None
            if sealed is None:
                return
        elif not now and time.monotonic() - self._recorded_at < RECORD_EVERY_S:
            self._unrecorded = sealed
            return
        try:
            self._vault.record_integrity(*sealed)
            self._unrecorded = None
            self._recorded_at = time.monotonic()
        except (OSError, StoreError) as exc:  # the database has it; the next commit retries
            self._unrecorded = sealed
            log.warning("could not record the store's counter in the key file: %s", exc)

    def lock(self) -> None:
        """Forget the data key and the recall index (the store stays open and locked)."""
        with self._lock:
            self._record_integrity(None)  # what the key file has not been told yet
            if self._integrity is not None:
                Integrity.uninstall(self._db.conn)
                self._integrity = None
            self._codec = None
            self._index = None
            self._index_backlog = None
            self._index_generation += 1

    def close(self) -> None:
        """Lock, checkpoint and truncate the WAL, close the database and release the instance lock."""
        with self._lock:
            if self._closed:
                return
            try:
                self.lock()
                checkpoint(self._db)
            except sqlite3.DatabaseError as exc:  # a damaged database still closes (and says so)
                log.warning("the database could not be checkpointed on close: %s", exc)
            finally:
                self._db.close()
                self._instance_lock.release()
                self._closed = True

    def kdf_params(self) -> KdfParams:
        """The Argon2id parameters of the passphrase slot."""
        return self._vault.kdf_params()

    def change_passphrase(self, old: str, new: str, *, kdf: KdfParams | None = None) -> None:
        """Re-wrap the data key under `new` (and `kdf`, if given); no record is re-encrypted."""
        with self._lock:
            self._check_open()
            self._vault.change_passphrase(old, new, kdf)

    @property
    def has_keyring_slot(self) -> bool:
        """Whether the vault also opens with a key kept in the OS keyring."""
        return self._vault.has_keyring_slot

    def enable_keyring(self, passphrase: str, backend: Any = None) -> None:
        """Add the OS-keyring slot, so the store can unlock without typing the passphrase.

        The passphrase is asked again (the data key is not kept outside the cipher); refused with
        `KeyringUnavailable` where the keyring backend would keep the key in plaintext.
        """
        with self._lock:
            self._check_open()
            self._vault.add_keyring_slot(self._vault.unlock(passphrase), backend)

    def disable_keyring(self, backend: Any = None) -> None:
        """Remove the OS-keyring slot and its key."""
        with self._lock:
            self._check_open()
            self._vault.remove_keyring_slot(backend)

    # === transactions and effects ============================================================

    def _require_codec(self) -> RowCodec:
        self._check_open()
        if self._codec is None:
            raise VaultLocked()
        return self._codec

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one atomic transaction (nested calls join the outer one)."""
        changes: list[Change] = []
        with self._lock:
            self._require_codec()
            mark = self._pending.mark()
            self._depth += 1
            start = self._db.conn.total_changes
            sealed = None
            try:
                with self._db.atomic():
                    yield
                    if self._depth == 1 and self._integrity is not None and self._db.conn.total_changes != start:
                        sealed = self._integrity.bump(self._db.conn)  # in the same commit as the writes
            except BaseException:
                self._pending.rollback(mark)
                raise
            finally:
                self._depth -= 1
            if sealed is not None:
                self._record_integrity(sealed, now=False)
            if self._depth == 0:
                pending, self._pending = self._pending, _Pending()
                self._apply(pending)
                changes = pending.changes
        self._notify(changes)

    def _apply(self, pending: _Pending) -> None:
        if pending.reindex:
            # Too much changed to follow op by op: drop the index (and any build in progress).
            self._index = None
            self._index_generation += 1
            pending.index.clear()
        for op in pending.index:
            if self._index_backlog is not None:
                self._index_backlog.append(op)
            elif self._index is not None:
                op(self._index)
        if pending.deleted:
            checkpoint(self._db)

    def _notify(self, changes: list[Change]) -> None:
        for change in changes:
            for listener in list(self._listeners):
                try:
                    listener(change)
                except Exception:  # a listener's bug must not undo a committed write
                    log.exception("store listener %r failed on %r", listener, change)

    def add_listener(self, listener: Callable[[Change], None]) -> Callable[[], None]:
        """Call `listener(change)` after every committed change; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _changed(self, table: str, action: str, *ids: Any) -> None:
        self._pending.changes.append(Change(table, action, tuple(ids)))
        # An edit of the user's text deletes the old text: truncate the WAL after it too.
        if action == "deleted" or (action == "updated" and table in _EDITABLE_TEXT):
            self._pending.deleted = True

    def _overwrote(self) -> None:
        """A row was replaced (a setting, a state, an adapter's metrics): truncate the WAL after
        the commit as after a delete, so the old value's page images do not linger in it."""
        self._pending.deleted = True

    def _index_add(self, kind: str, ident: int, text: str, conversation_id: int | None, role: str | None = None) -> None:
        self._pending.index.append(lambda index: index.add((kind, ident), text, conversation_id, role))

    def _index_remove(self, kind: str, ident: int) -> None:
        self._pending.index.append(lambda index: index.remove((kind, ident)))

    def _skip(self, exc: CorruptRecord, into: list[CorruptRecord] | None) -> None:
        """Note a damaged record that a read left out (and add it to the caller's list, if any)."""
        if (exc.table, exc.row) not in self.skipped:
            log.info("skipped a damaged record: %s", exc)
        self.skipped[(exc.table, exc.row)] = exc
        if into is not None:
            into.append(exc)

    def _readable(
        self, rows: Iterable[tuple[Any, ...]], read: Callable[..., Any], into: list[CorruptRecord] | None
    ) -> list[Any]:
        """`read(*row)` for each row, leaving out (and noting) the records that fail to open."""
        result = []
        for row in rows:
            try:
                result.append(read(*row))
            except CorruptRecord as exc:
                self._skip(exc, into)
        return result

    # === low-level row access ================================================================

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor | Rows:
        """Run one statement; a query's rows are read at once, so a damaged page surfaces here as
        `DatabaseCorrupt` (never a bare `sqlite3.DatabaseError` from a later fetch)."""
        try:
            cursor = self._db.conn.execute(sql, params)
            if cursor.description is None:
                return cursor
            return Rows(cursor.fetchall())
        except sqlite3.DatabaseError as exc:
            raise translated(exc, self.path) from None

    def _next_id(self, table: str) -> int:
        """The id for a new row of `table` (see `_next_ids`)."""
        return self._next_ids(table, 1)[0]

    def _next_ids(self, table: str, n: int) -> list[int]:
        """Ids for `n` new rows of `table`, none of them in use.

        In `migrations.RANDOM_ID_TABLES` (conversations, messages, memories, replay items) each is
        drawn uniformly from [1, ID_SPACE] by the CSPRNG: the ids present are then a uniformly
        random set whatever was deleted before, so neither a gap nor the largest id tells that
        (or how many) rows were deleted. Their order is sealed inside the rows instead (messages:
        `memory.chats`). Adapter versions and log events keep counting up (AUTOINCREMENT): a
        version number is the name the user sees and a state's tag, and must never be reused.
        """
        if table not in migrations.RANDOM_ID_TABLES:
            row = self._execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
            top = self._execute(f"SELECT max(id) FROM {table}").fetchone()[0]
            start = max(row[0] if row else 0, top or 0) + 1
            return list(range(start, start + n))
        ids: list[int] = []
        while len(ids) < n:
            ident = secrets.randbelow(ID_SPACE) + 1
            if ident not in ids and self._execute(f"SELECT 1 FROM {table} WHERE id = ?", [ident]).fetchone() is None:
                ids.append(ident)
        return ids

    def _row(self, table: str, key: str, ident: Any, columns: str) -> tuple[Any, ...]:
        row = self._execute(f"SELECT {columns} FROM {table} WHERE {key} = ?", [ident]).fetchone()
        if row is None:
            raise RecordNotFound(table, ident)
        return row

    def _ids_where(self, sql: str, ids: Iterable[int], *params: Any) -> set[int]:
        """Run `sql` (with `{ids}` for an IN list) over `ids` in chunks; the union of first columns."""
        found: set[int] = set()
        ids = sorted(set(ids))
        for chunk in _chunks(ids):
            found.update(r[0] for r in self._execute(sql.format(ids=_marks(len(chunk))), [*params, *chunk]))
        return found

    def _delete_ids(self, table: str, ids: Iterable[int], key: str = "id") -> None:
        ids = sorted(set(ids))
        for chunk in _chunks(ids):
            self._execute(f"DELETE FROM {table} WHERE {key} IN ({_marks(len(chunk))})", chunk)
