"""Rekeying: every record re-encrypted under a new random data key, crash-safe.

`passwd` re-wraps the same data key, so an old copy of `store.db` still decrypts with today's key
(and so do deleted messages in it). A rekey gives the store a new data key:

1. every row is decrypted and sealed again under the new key into a new file, `store.db.rekey`,
   with its own manifest (`memory.integrity`), and flushed;
2. the key file gets a `next` entry: the new key wrapped under the passphrase, and the new
   database's counter and seal (the old slot stays in force);
3. the old database is checkpointed and closed, and the new file renamed over it;
4. the key file's `next` entry becomes its passphrase slot (the old one is overwritten).

A crash before step 3 leaves the old database with the old key in force: the next unlock drops
the `next` entry and the leftover file. A crash between 3 and 4 leaves the new database with the
key file still naming the old key first: the next unlock finds that the old key does not fit,
that the `next` one does, and finishes step 4. Old copies of `store.db` no longer open with the
new key file (`VaultMismatch`). An OS-keyring slot wraps the old key, so it is dropped: enable it
again afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from memory import migrations
from memory.codec import RowCodec
from memory.crypto import random_key
from memory.errors import CorruptRecord, StoreError
from memory.files import fsync_dir
from memory.integrity import Integrity
from memory.sqlite import checkpoint, connect, side_files

if TYPE_CHECKING:
    from memory.store import Store

REKEY_SUFFIX = ".rekey"
Progress = Callable[[int, int], None]

# Parents before children, so foreign keys hold while copying.
COPY_ORDER = tuple(reversed(migrations.USER_TABLES))


def _copy_rows(store: Store, new_db, old: RowCodec, new: RowCodec, progress: Progress | None) -> None:
    conn = store._db.conn
    total = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COPY_ORDER)
    done = 0
    envelope_columns = migrations.envelope_columns(store._db)
    for table in COPY_ORDER:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        sealed = set(envelope_columns.get(table, ()))
        key = migrations.ROW_KEYS.get(table)
        link_column = migrations.LINK_COLUMNS.get(table)
        for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall():
            values = dict(zip(columns, row, strict=True))
            ident = values[key] if key else None
            link = migrations.link_of(table, values[link_column]) if link_column else None
            plain = {c: old.open(table, c, ident, values[c], link=link) for c in sealed}
            if table == "settings":  # the row id is a keyed hash of the name: new key, new id
                name = old.open_json(table, ident, values["payload"]).get("key")
                if not isinstance(name, str):
                    raise CorruptRecord(table, ident, "payload", "names no setting")
                ident = values["id"] = new.setting_id(name)
            for c in sealed:
                values[c] = new.seal(table, c, ident, plain[c], link=link)
            new_db.conn.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [values[c] for c in columns],
            )
            done += 1
            if progress is not None:
                progress(done, total)


def rekey(store: Store, passphrase: str, progress: Progress | None = None) -> None:
    """Re-encrypt everything in `store` (unlocked with `passphrase`) under a new data key."""
    with store._lock:
        old = store._require_codec()
        store._vault.unlock(passphrase)  # the passphrase the new key is wrapped under
        damaged = store.verify()
        if damaged:
            raise StoreError(
                f"{len(damaged)} damaged records cannot be re-encrypted; drop them first with "
                "`assistant verify --repair`"
            )
        path = store.path.with_name(store.path.name + REKEY_SUFFIX)
        for file in side_files(path):
            file.unlink(missing_ok=True)
        new = RowCodec(data_key := random_key())
        new_db = connect(path)
        try:
            migrations.migrate(new_db)
            with new_db.atomic():
                from memory.base import KEY_CHECK

                new_db.execute(
                    "INSERT INTO meta (key, value) VALUES ('key_check', ?)", [new.seal("meta", "value", "key_check", KEY_CHECK)]
                )
                _copy_rows(store, new_db, old, new, progress)
                sealed = Integrity(new.integrity_key).rebuild(new_db.conn)
            checkpoint(new_db)
        finally:
            new_db.close()
        _fsync(path)
        store._vault.begin_rekey(passphrase, data_key, sealed)
        # The old database is closed and replaced; the store goes on with the new one.
        store.lock()
        checkpoint(store._db)
        store._db.close()
        for file in side_files(store.path)[1:]:
            file.unlink(missing_ok=True)
        _swap(path, store.path)
        store._vault.finish_rekey()
        store._db = connect(store.path)
        migrations.migrate(store._db)
        store._install_key(data_key)


def _key_fits(store: Store, data_key: bytes) -> bool:
    from memory.base import KEY_CHECK

    row = store._db.conn.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
    try:
        return row is not None and RowCodec(data_key).open("meta", "value", "key_check", row[0]) == KEY_CHECK
    except CorruptRecord:
        return False


def _swap(new: Path, old: Path) -> None:
    """Rename the new database over the old one, durably."""
    os.replace(new, old)
    fsync_dir(old.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(store: Store, passphrase: str, data_key: bytes) -> bytes:
    """At unlock, finish or undo a rekey a crash interrupted; the data key that fits the database.

    `data_key` is the passphrase slot's key. Where the key file has a `next` entry: if the
    database holds the new key (the rename happened), the rekey is finished; if it still holds
    the old one, the `next` entry and the leftover file are dropped.
    """
    vault = store._vault
    if not vault.has_pending_rekey:
        return data_key
    new_key = vault.unlock_next(passphrase)
    if _key_fits(store, new_key):
        vault.finish_rekey()
        return new_key
    vault.abort_rekey()
    for file in side_files(store.path.with_name(store.path.name + REKEY_SUFFIX)):
        file.unlink(missing_ok=True)
    return data_key
