"""The store as a whole (issue 16): a missing, emptied, truncated or rolled-back database, a lost
row, an older ciphertext put back. Each is refused (or reported by the full check) with a typed
error naming what is wrong, and never silently replaced by a new, empty store."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from memory.errors import (
    DatabaseCorrupt,
    RowsMissing,
    StoreIntegrityError,
    StoreMissing,
    StoreRolledBack,
)
from memory.store import Store
from memory.vault import Vault
from tests.memory.store_helpers import PASSPHRASE, fill, reopen


def external(path: Path, sql: str, params=()) -> None:
    """Edit the database with a connection of its own, as a tool or an attacker would."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def closed_with_data(store: Store) -> Path:
    fill(store)
    directory = store.directory
    store.close()
    return directory


def unlock(directory: Path) -> Store:
    s = Store.open(directory)
    try:
        s.unlock(PASSPHRASE)
    except BaseException:
        s.close()
        raise
    return s


def test_a_sound_store_passes_the_full_check(store):
    fill(store)
    store.delete_message(store.list_messages(1)[0].id)
    store.set_setting("x", 1)
    store.set_setting("x", 2)  # INSERT OR REPLACE: the replaced row leaves the sums too
    assert store.check_integrity() == []
    again = reopen(store)
    assert again.check_integrity() == []
    again.close()


def test_the_key_file_follows_the_counter(store):
    before = Vault(store.directory).integrity_record()
    store.add_conversation("one more")
    after = Vault(store.directory).integrity_record()
    assert after[0] == before[0] + 1 and after[1] != before[1]


def test_missing_database_beside_a_key_file_is_refused_and_nothing_is_created(store):
    """Regression (issue 16): a deleted store.db was silently replaced by a new, empty one."""
    directory = closed_with_data(store)
    (directory / "store.db").unlink()
    with pytest.raises(StoreMissing, match="is missing.*assistant reset"):
        Store.open(directory)
    assert not (directory / "store.db").exists()


def test_emptied_database_is_refused(store):
    """Regression (issue 16): a zero-byte store.db was adopted as a new, empty store."""
    directory = closed_with_data(store)
    (directory / "store.db").write_bytes(b"")
    with pytest.raises(StoreMissing, match="empty"):
        Store.open(directory)
    assert (directory / "store.db").stat().st_size == 0


def test_database_replaced_by_an_empty_one_is_refused(store):
    directory = closed_with_data(store)
    (directory / "store.db").unlink()
    sqlite3.connect(directory / "store.db").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StoreMissing, match="holds none of the data"):
        unlock(directory)


def test_truncated_database_is_a_typed_error(store):
    directory = closed_with_data(store)
    path = directory / "store.db"
    path.write_bytes(path.read_bytes()[: 4096 + 100])
    with pytest.raises((DatabaseCorrupt, StoreIntegrityError)):
        unlock(directory)


def test_rollback_to_an_older_copy_of_the_database_is_refused(store, tmp_path):
    """Regression (issue 16): an older store.db put back in place opened without a word."""
    fill(store)
    directory = store.directory
    store.close()
    shutil.copy(directory / "store.db", tmp_path / "old.db")
    s = unlock(directory)
    s.add_memory("said after the copy was made")
    s.close()
    shutil.copy(tmp_path / "old.db", directory / "store.db")
    with pytest.raises(StoreRolledBack, match="older than its key file"):
        unlock(directory)


def test_rollback_of_every_file_together_is_not_detected(store, tmp_path):
    """The documented limit: the database and the key file put back from the same copy."""
    directory = closed_with_data(store)
    for name in ("store.db", "vault.json"):
        shutil.copy(directory / name, tmp_path / name)
    s = unlock(directory)
    s.add_memory("said after the copy was made")
    s.close()
    for name in ("store.db", "vault.json"):
        shutil.copy(tmp_path / name, directory / name)
    s = unlock(directory)
    assert s.check_integrity() == []
    s.close()


def test_deleted_row_is_refused_at_unlock(store):
    """Regression (issue 16): `DELETE FROM messages WHERE id=2` passed `Store.verify()`."""
    ids = fill(store)
    directory = store.directory
    store.close()
    external(directory / "store.db", "DELETE FROM messages WHERE id = ?", [ids.reply])
    with pytest.raises(RowsMissing, match="1 of 2 rows of messages are missing"):
        unlock(directory)


def test_old_ciphertext_put_back_is_found_by_the_full_check(store):
    """Regression (issue 16): an older ciphertext of a row authenticates (same table, column, row)."""
    memory = store.add_memory("the first text")
    (old,) = store._db.conn.execute("SELECT payload FROM memories WHERE id = ?", [memory.id]).fetchone()
    store.edit_memory(memory.id, "the corrected text")
    external(store.path, "UPDATE memories SET payload = ? WHERE id = ?", [old, memory.id])
    assert store.get_memory(memory.id).text == "the first text"  # it authenticates ...
    assert store.verify() == []
    problems = store.check_integrity()  # ... but the manifest knows it is not the last one written
    assert [(p.kind, p.table) for p in problems] == [("changed-rows", "memories")]


def test_edited_manifest_is_refused(store):
    directory = closed_with_data(store)
    external(directory / "store.db", "UPDATE _integrity SET n = n + 5 WHERE tbl = '*'")
    with pytest.raises(StoreRolledBack, match="integrity record was modified"):
        unlock(directory)


def test_accepting_a_damaged_store_records_it_as_sound(store):
    ids = fill(store)
    directory = store.directory
    store.close()
    external(directory / "store.db", "DELETE FROM memories WHERE id = ?", [ids.memory])
    s = Store.open(directory)
    s.unlock(PASSPHRASE, accept_damage=True)
    assert [p.kind for p in s.integrity_problems] == ["missing-rows"]
    s.accept_as_is()
    assert s.check_integrity() == []
    s.close()
    unlock(directory).close()


def test_a_crash_between_the_commit_and_the_key_file_is_accepted(store):
    before = Vault(store.directory).integrity_record()
    doc = Vault(store.directory)._read()
    store.add_conversation("written")
    Vault(store.directory)._write(doc)  # as if the key file's update never happened
    assert Vault(store.directory).integrity_record() == before
    again = reopen(store)
    assert Vault(again.directory).integrity_record()[0] == before[0] + 1
    again.close()
