"""No plaintext at rest: every byte of every file the store writes is scanned for known markers."""

from __future__ import annotations

import tempfile

import pytest

from memory.archive import export_store
from memory.plaintext import write_plaintext_export
from memory.store import Store
from tests.memory.store_helpers import FAST, PASSPHRASE, Filled, fill, needles, scan


@pytest.fixture
def tmpdir_scanned(tmp_path, monkeypatch):
    """A private TMPDIR for this test (Python and SQLite both honour it), scanned like the data."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.delenv("SQLITE_TMPDIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", None)
    return tmp


def write_everything(store: Store) -> tuple[Filled, list[str]]:
    ids = fill(store, tag="A")
    more = [f"extramarker-{n}-zq" for n in range(50)]
    with store.transaction():
        for n, marker in enumerate(more):
            store.add_message(ids.conversation, "user" if n % 2 else "assistant", f"long text {marker} " * 20)
    store.rename_conversation(ids.conversation, "renamedtitlemark-zq")
    store.edit_memory(ids.memory, "editedmemorymark-zq")
    return ids, more + ["renamedtitlemark-zq", "editedmemorymark-zq"]


def test_no_plaintext_while_open_after_close_after_deleting_and_after_reset(store_dir, tmpdir_scanned):
    store = Store.open(store_dir)
    store.create(PASSPHRASE, kdf=FAST)
    ids, extra = write_everything(store)
    patterns = needles(ids.markers + extra, ids.binary_markers)
    roots = [store_dir, tmpdir_scanned]

    store.recall("extramarker")  # the recall index exists, in memory only
    assert scan(roots, patterns) == [], "while open"

    store.close()
    assert scan(roots, patterns) == [], "after close"

    store = Store.open(store_dir)
    store.unlock(PASSPHRASE)
    envelopes = [row[0] for row in store._db.conn.execute("SELECT payload FROM messages")]
    assert scan(roots, {envelopes[0]: "ciphertext"}), "the ciphertext check below would prove nothing"
    store.delete_conversation(ids.conversation)
    store.delete_memory(ids.memory)
    assert scan(roots, patterns) == [], "after deleting (open)"
    assert scan(roots, {e: "a deleted message's ciphertext" for e in envelopes}) == [], "deleted ciphertext lingers"
    store.close()
    assert scan(roots, patterns) == [], "after deleting (closed)"

    store = Store.open(store_dir)
    store.reset()
    assert scan(roots, patterns) == [], "after reset"
    assert sorted(p.name for p in store_dir.iterdir()) == []


def test_reset_while_open_with_data_in_the_wal(store, tmpdir_scanned):
    ids, extra = write_everything(store)
    directory = store.directory
    store.reset()
    assert scan([directory, tmpdir_scanned], needles(ids.markers + extra, ids.binary_markers)) == []
    assert list(directory.iterdir()) == []


def test_encrypted_export_holds_no_plaintext(store, tmp_path, tmpdir_scanned):
    ids, extra = write_everything(store)
    path = tmp_path / "exports" / "backup.enc"
    path.parent.mkdir()
    export_store(store, path, "export passphrase", kdf=FAST)
    assert scan([path, tmpdir_scanned], needles(ids.markers + extra, ids.binary_markers)) == []


def test_the_scan_does_find_plaintext(store, tmp_path):
    """The scanner is not blind: a plaintext export is full of hits."""
    ids, extra = write_everything(store)
    out = tmp_path / "readable"
    write_plaintext_export(store.snapshot(), out)
    hits = scan([out], needles(ids.markers + extra))
    assert len(hits) >= len(ids.markers)


@pytest.mark.parametrize("table", ["settings", "states", "adapter_versions"])
def test_a_replaced_row_leaves_no_old_ciphertext_in_the_files(store, table):
    """Regression: replacing a setting, a recurrent state or an adapter's metrics did not truncate
    the WAL (only deletes and text edits did), so the old value's page images lingered in -wal."""
    conv = store.add_conversation("c")
    version = store.add_adapter_version(b"w" * 100, {"loss": 1.0}).version
    replace = {
        "settings": lambda n: store.set_setting("theme", f"value {n}"),
        "states": lambda n: store.save_state(conv.id, bytes([n]) * 500, f"tag {n}"),
        "adapter_versions": lambda n: store.set_adapter_metrics(version, {"loss": float(n)}),
    }[table]
    replace(1)
    old = [row[0] for row in store._db.conn.execute(f"SELECT payload FROM {table}")]
    replace(2)
    assert scan([store.directory], {e: "a replaced row's ciphertext" for e in old}) == []
