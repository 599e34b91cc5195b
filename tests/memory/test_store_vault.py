"""The vault: passphrase slot, keyring slot, passphrase change, and the errors of each."""

from __future__ import annotations

import shutil
import stat

import pytest

from memory import keyring_slot
from memory.crypto import DESIGN_KDF, KdfParams
from memory.errors import (
    KeyringUnavailable,
    VaultCorrupt,
    VaultExists,
    VaultMismatch,
    VaultMissing,
    WrongPassphrase,
)
from memory.store import Store
from memory.vault import VAULT_FILE
from tests.memory.store_helpers import FAST, PASSPHRASE, fill


def _bytes_of(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_store_unlocks_with_its_passphrase_after_reopening(store):
    ids = fill(store)
    directory = store.directory
    store.close()
    with Store.open(directory) as again:
        assert not again.is_unlocked
        again.unlock(PASSPHRASE)
        assert again.get_message(ids.user).text.startswith("I said")


def test_wrong_passphrase_is_a_typed_error_and_changes_no_byte(store):
    fill(store)
    directory = store.directory
    store.close()
    before = _bytes_of(directory)
    with Store.open(directory) as again:
        with pytest.raises(WrongPassphrase):
            again.unlock("not the passphrase")
        assert not again.is_unlocked
    assert _bytes_of(directory) == before


def test_creating_twice_is_refused(store):
    with pytest.raises(VaultExists):
        store.create("another", kdf=FAST)


def test_default_vault_uses_the_design_kdf_parameters(store_dir):
    """One test pays for the real Argon2id cost; all others use cheap parameters."""
    with Store.open(store_dir) as s:
        s.create(PASSPHRASE)
        assert s.kdf_params() == DESIGN_KDF
    with Store.open(store_dir) as s:
        s.unlock(PASSPHRASE)
        assert s.is_unlocked


def test_passphrase_change_rewraps_the_key_only(store):
    ids = fill(store)
    directory = store.directory
    store.close()
    before = _bytes_of(directory)
    with Store.open(directory) as s:
        s.change_passphrase(PASSPHRASE, "a new passphrase")
    after = _bytes_of(directory)
    assert after.pop(VAULT_FILE) != before.pop(VAULT_FILE)
    assert after == before  # the database did not change
    with Store.open(directory) as s:
        with pytest.raises(WrongPassphrase):
            s.unlock(PASSPHRASE)
        s.unlock("a new passphrase")
        assert s.get_memory(ids.memory).text.startswith("The user likes")


def test_passphrase_change_with_wrong_old_passphrase_changes_nothing(store):
    directory = store.directory
    store.close()
    before = _bytes_of(directory)
    with Store.open(directory) as s:
        with pytest.raises(WrongPassphrase):
            s.change_passphrase("wrong", "new one")
    assert _bytes_of(directory) == before


def test_passphrase_change_can_raise_the_kdf_parameters(store):
    stronger = KdfParams(time_cost=2, memory_kib=16, lanes=1)
    store.change_passphrase(PASSPHRASE, "new", kdf=stronger)
    assert store.kdf_params() == stronger


def test_missing_vault_with_data_is_reported_and_not_overwritten(store):
    fill(store)
    directory = store.directory
    store.close()
    (directory / VAULT_FILE).unlink()
    with Store.open(directory) as s:
        with pytest.raises(VaultMissing, match="key file"):
            s.unlock(PASSPHRASE)
        with pytest.raises(VaultMissing):
            s.create("fresh start", kdf=FAST)


def test_vault_of_another_store_is_a_mismatch(tmp_path):
    for name in ("a", "b"):
        with Store.open(tmp_path / name) as s:
            s.create(f"pass {name}", kdf=FAST)
            fill(s)
    shutil.copy(tmp_path / "b" / VAULT_FILE, tmp_path / "a" / VAULT_FILE)
    with Store.open(tmp_path / "a") as s:
        with pytest.raises(VaultMismatch):
            s.unlock("pass b")


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": "other"}', b'{"format": "assistant-vault", "version": 9}'])
def test_garbled_vault_is_reported(store, content):
    directory = store.directory
    store.close()
    (directory / VAULT_FILE).write_bytes(content)
    with Store.open(directory) as s:
        with pytest.raises(VaultCorrupt):
            s.unlock(PASSPHRASE)


def test_edited_kdf_parameters_fail_to_unlock(store):
    """Lowering the stored cost must not give a weaker unlock: the parameters are authenticated."""
    directory = store.directory
    store.close()
    path = directory / VAULT_FILE
    path.write_text(path.read_text().replace('"time_cost": 1', '"time_cost": 2'))
    with Store.open(directory) as s:
        with pytest.raises(WrongPassphrase):
            s.unlock(PASSPHRASE)


def test_files_are_private(store):
    fill(store)
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    for path in store.files():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# --- the keyring slot ------------------------------------------------------------------------


class MemoryKeyring:
    """A keyring backend that keeps secrets in a dict (trusted by the tests that say so)."""

    def __init__(self):
        self.items = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.items:
            raise PasswordDeleteError("not found")
        del self.items[(service, username)]


class PlaintextKeyring(MemoryKeyring):
    """Stands for keyrings.alt's file backend, which keeps passwords in a plaintext file."""


PlaintextKeyring.__module__ = "keyrings.alt.file"


@pytest.fixture
def trusted_keyring(monkeypatch):
    monkeypatch.setattr(keyring_slot, "SECURE_BACKEND_MODULES", keyring_slot.SECURE_BACKEND_MODULES | {__name__})
    return MemoryKeyring()


def test_keyring_slot_unlocks_without_the_passphrase(store, trusted_keyring):
    ids = fill(store)
    store.enable_keyring(PASSPHRASE, backend=trusted_keyring)
    assert store.has_keyring_slot
    directory = store.directory
    store.close()
    with Store.open(directory) as s:
        s.unlock_with_keyring(backend=trusted_keyring)
        assert s.get_conversation(ids.conversation).title == ids.markers[0]
        s.unlock(PASSPHRASE)  # the passphrase slot still works


def test_keyring_slot_needs_the_passphrase(store, trusted_keyring):
    with pytest.raises(WrongPassphrase):
        store.enable_keyring("wrong", backend=trusted_keyring)
    assert not store.has_keyring_slot


def test_plaintext_and_failing_keyrings_are_refused(store):
    from keyring.backends import fail

    for backend in (PlaintextKeyring(), fail.Keyring()):
        with pytest.raises(KeyringUnavailable):
            store.enable_keyring(PASSPHRASE, backend=backend)
    assert not store.has_keyring_slot


def test_missing_keyring_entry_is_a_clear_error(store, trusted_keyring):
    store.enable_keyring(PASSPHRASE, backend=trusted_keyring)
    trusted_keyring.items.clear()
    store.lock()
    with pytest.raises(KeyringUnavailable, match="no key"):
        store.unlock_with_keyring(backend=trusted_keyring)


def test_disabling_the_keyring_removes_its_key(store, trusted_keyring):
    store.enable_keyring(PASSPHRASE, backend=trusted_keyring)
    store.disable_keyring(backend=trusted_keyring)
    assert not store.has_keyring_slot and not trusted_keyring.items


def test_reset_deletes_the_keyring_entry(store, trusted_keyring):
    store.enable_keyring(PASSPHRASE, backend=trusted_keyring)
    assert store.reset(keyring_backend=trusted_keyring) == []
    assert not trusted_keyring.items


# --- old copies of the key file ----------------------------------------------------------------


def _old_copy_unlocks(copy, passphrase, tmp_path) -> bool:
    """Whether the bytes of `copy` (an earlier key file) still unwrap a data key with `passphrase`."""
    from memory.errors import VaultError
    from memory.vault import Vault

    probe = tmp_path / "probe"
    probe.mkdir(exist_ok=True)
    (probe / VAULT_FILE).write_bytes(copy.read_bytes())
    try:
        Vault(probe).unlock(passphrase)
    except VaultError:
        return False
    return True


def test_passwd_overwrites_the_replaced_key_file(store, tmp_path):
    """Regression: `change_passphrase` renamed a new vault.json over the old one without
    overwriting it, so a hard link (or the old blocks) kept the key wrapped under the old passphrase."""
    link = tmp_path / "hard-link-to-the-original"
    link.hardlink_to(store.directory / VAULT_FILE)
    assert _old_copy_unlocks(link, PASSPHRASE, tmp_path)  # the probe works
    store.change_passphrase(PASSPHRASE, "a new passphrase")
    assert not _old_copy_unlocks(link, PASSPHRASE, tmp_path)
    assert link.stat().st_size > 0  # overwritten in place with random bytes, not truncated


def test_keyring_slot_changes_overwrite_the_replaced_key_file(store, trusted_keyring, tmp_path):
    """Regression: adding or removing the keyring slot left the previous key file's bytes behind."""
    before = tmp_path / "before-keyring"
    before.hardlink_to(store.directory / VAULT_FILE)
    store.enable_keyring(PASSPHRASE, backend=trusted_keyring)
    with_slot = tmp_path / "with-keyring"
    with_slot.hardlink_to(store.directory / VAULT_FILE)
    store.disable_keyring(backend=trusted_keyring)
    assert not _old_copy_unlocks(before, PASSPHRASE, tmp_path)
    assert not _old_copy_unlocks(with_slot, PASSPHRASE, tmp_path)
    assert b"keyring" not in with_slot.read_bytes()


def test_reset_after_passwd_leaves_no_key_file_that_opens(store, tmp_path):
    """Regression: reset shredded only the current vault.json; the one `passwd` had replaced survived."""
    original = tmp_path / "original"
    original.hardlink_to(store.directory / VAULT_FILE)
    store.change_passphrase(PASSPHRASE, "a new passphrase")
    current = tmp_path / "current"
    current.hardlink_to(store.directory / VAULT_FILE)
    store.reset()
    assert not _old_copy_unlocks(original, PASSPHRASE, tmp_path)
    assert not _old_copy_unlocks(current, "a new passphrase", tmp_path)
