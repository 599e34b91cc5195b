"""Reset: crypto-shred the keys, delete every row, vacuum, truncate the WAL, remove the files."""

from __future__ import annotations

import pytest

from memory.errors import StoreClosed, VaultMissing
from memory.store import Store, reset_directory
from memory.vault import VAULT_FILE
from tests.memory.store_helpers import FAST, PASSPHRASE, fill


def test_reset_removes_every_file_and_closes_the_store(store):
    fill(store)
    directory = store.directory
    assert store.reset() == []
    assert store.closed and list(directory.iterdir()) == []
    with pytest.raises(StoreClosed):
        store.list_memories()


def test_after_reset_the_old_passphrase_opens_nothing(store):
    fill(store)
    directory = store.directory
    store.reset()
    with Store.open(directory) as fresh:
        assert not fresh.has_vault
        with pytest.raises(VaultMissing):
            fresh.unlock(PASSPHRASE)
        fresh.create("new life", kdf=FAST)
        assert fresh.list_conversations() == [] and fresh.list_memories() == []


def test_reset_needs_no_passphrase(store):
    fill(store)
    store.lock()
    store.reset()
    assert list(store.directory.iterdir()) == []


def test_reset_shreds_leftovers_of_an_interrupted_key_file_write(store):
    leftover = store.directory / f".{VAULT_FILE}.999.tmp"
    leftover.write_bytes((store.directory / VAULT_FILE).read_bytes())
    store.reset()
    assert not leftover.exists()


def test_reset_directory_copes_with_an_unreadable_database(store_dir):
    with Store.open(store_dir) as s:
        s.create(PASSPHRASE, kdf=FAST)
        fill(s)
    (store_dir / "store.db").write_bytes(b"this is not a database" * 100)
    warnings = reset_directory(store_dir)
    assert any("could not be opened" in w for w in warnings)
    assert list(store_dir.iterdir()) == []


def test_reset_directory_of_nothing_is_fine(tmp_path):
    assert reset_directory(tmp_path / "never-created") == []
