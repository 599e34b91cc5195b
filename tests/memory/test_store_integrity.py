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
    ids = fill(store)
    store.delete_message(store.list_messages(ids.conversation)[0].id)
    store.set_setting("x", 1)
    store.set_setting("x", 2)  # INSERT OR REPLACE: the replaced row leaves the sums too
    assert store.check_integrity() == []
    again = reopen(store)
    assert again.check_integrity() == []
    again.close()


def test_the_key_file_follows_the_counter(store, monkeypatch):
    before = Vault(store.directory).integrity_record()
    monkeypatch.setattr("memory.base.RECORD_EVERY_S", 0.0)
    store.add_conversation("one more")
    after = Vault(store.directory).integrity_record()
    assert after[0] == before[0] + 1 and after[1] != before[1]


def test_the_key_file_hears_of_quick_commits_at_the_latest_on_lock(store, monkeypatch):
    monkeypatch.setattr("memory.base.RECORD_EVERY_S", 3600.0)
    store.add_conversation("one")
    before = Vault(store.directory).integrity_record()
    for n in range(3):
        store.add_conversation(f"quick {n}")
    assert Vault(store.directory).integrity_record() == before  # not yet: at most once an hour here
    (counter,) = store._db.conn.execute("SELECT n FROM _integrity WHERE tbl = '*'").fetchone()
    assert counter > before[0]
    store.lock()
    assert Vault(store.directory).integrity_record()[0] == counter


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
    # The memory's vector went with it (the database's trigger, `migrations.m006_meaning_vectors`).
    assert [(p.kind, p.table) for p in s.integrity_problems] == [("missing-rows", "vectors"), ("missing-rows", "memories")]
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


def test_each_damaged_record_costs_only_itself_in_an_export(store):
    """Every envelope of a filled store damaged in turn (one flipped byte): the snapshot takes
    every other record, and names exactly the damaged one (the README's figure)."""
    fill(store)
    fill(store, "2")
    whole = store.snapshot().counts()
    cells = []
    for table in ("conversations", "messages", "states", "adapter_versions", "replay_items", "memories", "settings", "learning_log"):
        key = "conversation_id" if table == "states" else "id"
        cells += [(table, key, ident) for (ident,) in store._db.conn.execute(f"SELECT {key} FROM {table}")]
    for table, key, ident in cells:
        (payload,) = store._db.conn.execute(f"SELECT payload FROM {table} WHERE {key} = ?", [ident]).fetchone()
        damaged = bytearray(payload)
        damaged[-5] ^= 1
        external(store.path, f"UPDATE {table} SET payload = ? WHERE {key} = ?", [bytes(damaged), ident])
        skipped: list = []
        counts = store.snapshot(skipped=skipped).counts()
        assert [(e.table, e.row) for e in skipped] == [(table, ident)]
        lost = {name: whole[name] - counts[name] for name in whole if whole[name] != counts[name]}
        # a conversation's damaged header is replaced by a stand-in title: nothing of it is lost
        assert lost == ({} if table == "conversations" else {table: 1}), (table, lost)
        external(store.path, f"UPDATE {table} SET payload = ? WHERE {key} = ?", [payload, ident])
    assert len(cells) == 18


def test_an_unreadable_migration_record_is_a_typed_error(store):
    """Regression (issue 16): a damaged `_migrations` row gave a TypeError traceback (migrations.py)."""
    directory = closed_with_data(store)
    external(directory / "store.db", "UPDATE _migrations SET name = NULL WHERE rowid = 1")
    with pytest.raises(DatabaseCorrupt, match="applied migrations is unreadable"):
        Store.open(directory)


def test_every_damaged_page_gives_a_typed_error_or_a_readable_rest(store, tmp_path):
    """Each page of a filled database garbled in turn: opening, unlocking (accepting damage),
    exporting and the full check either work on what is left or raise a `StoreError`."""
    from memory.errors import StoreError

    fill(store)
    fill(store, "2")
    directory = store.directory
    store.close()
    pristine = (directory / "store.db").read_bytes()
    pages = len(pristine) // 4096
    typed = readable = 0
    for page in range(pages):
        damaged = bytearray(pristine)
        for i in range(page * 4096 + 8, (page + 1) * 4096, 7):
            damaged[i] ^= 0x5A
        (directory / "store.db").write_bytes(bytes(damaged))
        try:
            s = Store.open(directory)
            try:
                s.unlock(PASSPHRASE, accept_damage=True)
                s.snapshot(skipped=[])
                assert s.check_integrity(), page  # the damage is reported
                readable += 1
            finally:
                s.close()
        except StoreError:
            typed += 1
    assert typed + readable == pages and pages >= 10 and readable > typed
