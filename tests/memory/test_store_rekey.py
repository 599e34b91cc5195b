"""Rekeying (issue 16): every record re-encrypted under a new data key, crash-safe, so an old copy
of store.db no longer opens with the key file."""

from __future__ import annotations

import shutil

import pytest

import memory.rekey as rekey_module
from memory.errors import VaultMismatch
from memory.store import Store
from memory.vault import Vault
from tests.memory.store_helpers import PASSPHRASE, fill, reopen


class Crash(Exception):
    pass


def unlocked(directory) -> Store:
    s = Store.open(directory)
    s.unlock(PASSPHRASE)
    return s


def test_rekey_keeps_every_record_and_changes_the_key(store):
    fill(store)
    fill(store, "2")
    before = store.snapshot()
    old_wrapped = Vault(store.directory)._read()["slots"]["passphrase"]["wrapped"]
    seen = []
    store.rekey(PASSPHRASE, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert store.snapshot() == before and store.verify() == [] and store.check_integrity() == []
    assert Vault(store.directory)._read()["slots"]["passphrase"]["wrapped"] != old_wrapped
    again = reopen(store)
    assert again.snapshot() == before and again.check_integrity() == []
    again.add_memory("written after the rekey")
    again.close()


def test_an_old_copy_of_the_database_no_longer_opens(store, tmp_path):
    """Regression (issue 16): `passwd` re-wrapped the same key, so an old store.db still decrypted."""
    fill(store)
    directory = store.directory
    store.close()
    shutil.copy(directory / "store.db", tmp_path / "old.db")
    s = unlocked(directory)
    s.rekey(PASSPHRASE)
    s.close()
    shutil.copy(tmp_path / "old.db", directory / "store.db")
    with pytest.raises(VaultMismatch):
        unlocked(directory)


def _rekey_crashing_in(store, monkeypatch, target, name: str):
    """Fill the store, rekey it with `target.name` raising (the process dies there), then unlock
    the directory again as the next run would (it holds what it held before); returns that store."""
    fill(store)
    before = store.snapshot()
    directory = store.directory

    def crash(*args):
        raise Crash()

    monkeypatch.setattr(target, name, crash)
    with pytest.raises(Crash):
        store.rekey(PASSPHRASE)
    store._instance_lock.release()
    store._closed = True
    monkeypatch.undo()
    assert Vault(directory).has_pending_rekey
    s = unlocked(directory)
    assert s.snapshot() == before and not Vault(directory).has_pending_rekey
    return s


def test_a_crash_before_the_new_database_is_in_place_keeps_the_old_key(store, monkeypatch):
    s = _rekey_crashing_in(store, monkeypatch, rekey_module, "_swap")
    assert not (s.directory / "store.db.rekey").exists()
    s.close()


def test_a_crash_after_the_new_database_is_in_place_finishes_at_the_next_unlock(store, monkeypatch):
    s = _rekey_crashing_in(store, monkeypatch, Vault, "finish_rekey")
    assert s.check_integrity() == []
    s.close()
