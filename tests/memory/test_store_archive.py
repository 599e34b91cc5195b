"""Export and import: exact round trip, clear errors that change nothing, merge, and a fuzzed reader."""

from __future__ import annotations

import copy
import json
import math
import stat
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory import archive
from memory.archive import (
    MAGIC,
    decode_export,
    encode_export,
    export_store,
    import_export,
    read_export,
    snapshot_from_json,
    snapshot_to_json,
)
from memory.plaintext import write_plaintext_export
from memory.crypto import Cipher, derive_key
from memory.errors import ExportAuthError, ExportFormatError, ExportPathError, ExportVersionError, StoreError
from memory.records import Message, Snapshot
from memory.store import Store
from tests.memory.store_helpers import FAST, PASSPHRASE, fill

EXPORT_PASSPHRASE = "export passphrase"


def rich_store(store: Store) -> None:
    """Every kind of record, several of each, with references between them."""
    ids = fill(store)
    second = store.add_conversation("second")
    u, r = store.add_turn(second.id, "second question", "second answer", cut=True)
    replay = store.add_replay_item("second q/a", message_ids=[u.id, r.id], memory_ids=[ids.memory])
    store.add_adapter_version(b"\x00\xff" * 500, {"loss": 0.5, "steps": 3}, parent=ids.adapter, seen_replay_ids=[replay.id])
    store.add_memory("another memory")
    store.set_setting("nested", {"a": [1, 2.5, None, True], "b": "ü"})
    store.log_event("rollback", {"from": 2, "to": 1})
    gone, _ = store.add_turn(second.id, "a question deleted later", "its answer")
    store.delete_message(gone.id)  # leaves a gap in the ids


def raw_rows(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table, envelopes included (an unchanged store has identical bytes)."""
    db = store._db
    return {t: sorted(db.conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in db.table_names()}


@pytest.fixture
def exported(store, tmp_path):
    rich_store(store)
    path = tmp_path / "backup.enc"
    export_store(store, path, EXPORT_PASSPHRASE, kdf=FAST)
    return store, path


@pytest.fixture
def other_store(tmp_path):
    s = Store.open(tmp_path / "other-laptop")
    s.create("another passphrase", kdf=FAST)
    yield s
    if not s.closed:
        s.close()


def test_export_then_import_into_a_fresh_directory_restores_everything_exactly(exported, other_store):
    store, path = exported
    counts = import_export(other_store, path, EXPORT_PASSPHRASE)
    assert other_store.snapshot() == store.snapshot()
    assert counts == store.snapshot().counts()
    assert other_store.verify() == []
    assert [h.id for h in other_store.recall("second answer")] == [h.id for h in store.recall("second answer")]


def test_export_file_is_private_and_versioned(exported):
    _, path = exported
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    header = json.loads(data[len(MAGIC) : data.index(b"\n", len(MAGIC))])
    assert data.startswith(MAGIC) and header["version"] == 1 and header["kdf"]["name"] == "argon2id"


def test_import_replaces_what_was_there(exported, other_store):
    store, path = exported
    other_store.add_memory("will be replaced")
    import_export(other_store, path, EXPORT_PASSPHRASE)
    assert other_store.snapshot() == store.snapshot()


def test_import_merge_keeps_both_and_renumbers_references(exported, other_store):
    store, path = exported
    mine = other_store.add_conversation("mine")
    other_store.add_turn(mine.id, "my own question", "my own answer")
    other_store.set_setting("nested", "mine wins")
    import_export(other_store, path, EXPORT_PASSPHRASE, merge=True)
    titles = sorted(c.title for c in other_store.list_conversations())
    assert titles == sorted(["mine"] + [c.title for c in store.list_conversations()])
    assert other_store.get_setting("nested") == "mine wins"
    assert other_store.count_messages() == 2 + store.count_messages()
    assert other_store.verify() == []
    # references were renumbered: deleting a merged message still unlearns the merged adapters
    merged_reply = next(m for c in other_store.list_conversations() for m in other_store.list_messages(c.id) if m.text.startswith("Noted"))
    deletion = other_store.delete_message(merged_reply.id)
    assert deletion.replay_items and len(deletion.adapter_versions) == 2
    assert other_store.list_adapter_versions() == []


def test_non_finite_metrics_survive(store, other_store, tmp_path):
    store.add_adapter_version(b"w", {"loss": float("nan"), "best": float("inf")})
    export_store(store, tmp_path / "x.enc", EXPORT_PASSPHRASE, kdf=FAST)
    import_export(other_store, tmp_path / "x.enc", EXPORT_PASSPHRASE)
    metrics = other_store.list_adapter_versions()[0].metrics
    assert math.isnan(metrics["loss"]) and metrics["best"] == float("inf")


# --- failures change nothing --------------------------------------------------------------------


def _bad_exports(path):
    data = path.read_bytes()
    header_end = data.index(b"\n", len(MAGIC)) + 1
    flipped = bytearray(data)
    flipped[-40] ^= 0x01
    header_flipped = data.replace(b'"compression":"zlib"', b'"compression":"zlip"')
    future = data.replace(b'"version":1', b'"version":2')
    return {
        "truncated in the payload": (data[:-100], ExportAuthError),
        "truncated after the header": (data[:header_end], ExportFormatError),
        "truncated in the header": (data[: len(MAGIC) + 10], ExportFormatError),
        "empty": (b"", ExportFormatError),
        "garbled payload": (bytes(flipped), ExportAuthError),
        "garbled header": (header_flipped, ExportFormatError),
        "not an export": (b"PK\x03\x04 a zip file, say" * 10, ExportFormatError),
        "newer version": (future, ExportVersionError),
    }


@pytest.mark.parametrize(
    "case",
    ["truncated in the payload", "truncated after the header", "truncated in the header", "empty",
     "garbled payload", "garbled header", "not an export", "newer version"],
)
def test_bad_export_is_a_clear_error_and_changes_nothing(exported, other_store, tmp_path, case):
    _, path = exported
    data, error = _bad_exports(path)[case]
    bad = tmp_path / "bad.enc"
    bad.write_bytes(data)
    other_store.add_memory("precious")
    before = raw_rows(other_store)
    with pytest.raises(error) as caught:
        import_export(other_store, bad, EXPORT_PASSPHRASE)
    assert str(caught.value)
    assert raw_rows(other_store) == before


def test_wrong_export_passphrase_is_a_clear_error_and_changes_nothing(exported, other_store):
    _, path = exported
    before = raw_rows(other_store)
    with pytest.raises(ExportAuthError, match="passphrase is wrong"):
        import_export(other_store, path, "not the export passphrase")
    assert raw_rows(other_store) == before


def test_payload_version_from_the_future_is_refused(store):
    obj = snapshot_to_json(store.snapshot())
    obj["version"] = 2
    with pytest.raises(ExportVersionError):
        snapshot_from_json(obj)


def test_a_restore_failing_midway_rolls_back_even_in_replace_mode(store):
    """Replace mode deletes everything first; an error later must bring it all back."""
    rich_store(store)
    before = raw_rows(store)
    broken = Snapshot(messages=[Message(1, 12345, "user", "orphan", 0.0)])  # no such conversation
    with pytest.raises(ExportFormatError):
        store.restore(broken)
    assert raw_rows(store) == before


def test_export_refuses_to_overwrite_unless_asked(exported):
    store, path = exported
    with pytest.raises(ExportPathError):
        export_store(store, path, EXPORT_PASSPHRASE, kdf=FAST)
    export_store(store, path, EXPORT_PASSPHRASE, kdf=FAST, overwrite=True)


def test_plaintext_export_is_readable_but_cannot_be_imported(exported, other_store, tmp_path):
    store, _ = exported
    out = tmp_path / "readable"
    files = write_plaintext_export(store.snapshot(), out)
    assert (out / "export.json") in files and any(p.suffix == ".md" for p in files)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert "deleted later" not in (out / "export.json").read_text()
    assert "second answer" in (out / "export.json").read_text()
    with pytest.raises(ExportFormatError, match="plaintext export"):
        read_export(out, EXPORT_PASSPHRASE)


# --- the reader is fuzzed --------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def rich_snapshot(tmp_path_factory) -> Snapshot:
    """Real content to fuzz: conversations, messages, states, memories, replay items, adapter
    versions, settings and log events (issue 18: an empty snapshot hid what a mutation could do)."""
    with Store.open(tmp_path_factory.mktemp("fuzz-source") / "data") as s:
        s.create(PASSPHRASE, kdf=FAST)
        rich_store(s)
        snap = s.snapshot()
    assert all(snap.counts().values()) and snap.settings
    return snap


@pytest.fixture(scope="module")
def rich_export(rich_snapshot) -> bytes:
    return encode_export(rich_snapshot, EXPORT_PASSPHRASE, kdf=FAST)


@pytest.fixture
def target_store(tmp_path):
    """The store a fuzzed export is imported into, holding content of its own."""
    s = Store.open(tmp_path / "target")
    s.create(PASSPHRASE, kdf=FAST)
    fill(s, tag="-target")
    yield s
    if not s.closed:
        s.close()


def store_bytes(s: Store) -> dict[str, bytes]:
    """Every file of the store's directory, byte for byte (the lock file aside)."""
    return {p.name: p.read_bytes() for p in sorted(s.directory.iterdir()) if p.is_file() and "lock" not in p.name}


@FUZZ
@given(data=st.binary(max_size=600))
def test_fuzz_random_bytes_only_raise_the_documented_error(data):
    with pytest.raises(ExportFormatError):
        decode_export(data, EXPORT_PASSPHRASE)


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzz_bytes_after_the_magic_only_raise_the_documented_error(data):
    with pytest.raises(ExportFormatError):
        decode_export(MAGIC + data, EXPORT_PASSPHRASE)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.sampled_from(["flip", "cut", "insert"])), min_size=1, max_size=4))
def test_fuzz_mutated_exports_only_raise_the_documented_error(rich_export, rich_snapshot, target_store, tmp_path, edits):
    """Every mutation of a real export is refused with `ExportFormatError` and the store is left
    byte for byte as it was, or it is harmless: the import restores exactly the original content."""
    data = bytearray(rich_export)
    for position, value, action in edits:
        position %= len(data) + 1
        if action == "flip" and position < len(data):
            data[position] ^= value or 1
        elif action == "cut":
            del data[position:]
        else:
            data[position:position] = bytes([value])
    path = tmp_path / "mutated.enc"
    path.write_bytes(bytes(data))
    rows, files = raw_rows(target_store), store_bytes(target_store)
    try:
        import_export(target_store, path, EXPORT_PASSPHRASE)
    except ExportFormatError as refused:
        assert str(refused)
        assert raw_rows(target_store) == rows
        assert store_bytes(target_store) == files
    else:
        assert target_store.snapshot() == rich_snapshot
        assert target_store.verify() == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _json_paths(obj, prefix=()):
    """Every path into a JSON value (the root included)."""
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _json_paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for n, value in enumerate(obj):
            yield from _json_paths(value, (*prefix, n))


def _mutate_json(obj, data) -> None:
    """One edit of a payload in place: a value replaced, a key or item removed or duplicated, a key added."""
    paths = [p for p in _json_paths(obj) if p]
    path = data.draw(st.sampled_from(paths), label="path")
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = data.draw(st.sampled_from(["replace", "remove", "duplicate", "add"]), label="action")
    if action == "replace":
        parent[key] = data.draw(json_values | st.integers(-(2**70), 2**70), label="value")
    elif action == "remove":
        del parent[key]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(parent[key])))
    elif isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8), label="new key")] = data.draw(json_values, label="new value")


@FUZZ
@given(data=st.data())
def test_fuzz_arbitrary_json_payload_only_raises_the_documented_error(rich_snapshot, target_store, data):
    """A real payload, edited: the reader refuses it with `ExportFormatError`, or what it accepts
    is either refused by the store with every row unchanged, or stored exactly as read (nothing
    altered on the way in) with the store consistent."""
    obj = copy.deepcopy(snapshot_to_json(rich_snapshot))  # it shares the snapshot's settings dict
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        _mutate_json(obj, data)
    rows = raw_rows(target_store)
    try:
        snap = snapshot_from_json(obj)
    except ExportFormatError as refused:
        assert str(refused)
        return
    try:
        target_store.restore(snap)
    except StoreError as refused:
        assert str(refused)
        assert raw_rows(target_store) == rows
    else:
        def text(x: Snapshot) -> str:  # as text, so a NaN the payload held compares equal to itself
            # Records come back in the store's order (by id, or by time for memories): only the
            # messages' order is content (their chronology), the other lists compare as sets.
            obj = snapshot_to_json(x) | {"exported": 0}
            for key, value in obj.items():
                if isinstance(value, list) and key != "messages":
                    obj[key] = sorted(value, key=lambda r: json.dumps(r, sort_keys=True))
            return json.dumps(obj, sort_keys=True)

        assert text(target_store.snapshot()) == text(snap)
        assert target_store.verify() == []


def _valid_payload() -> dict:
    return {
        "format": "assistant-store", "version": 1, "exported": 0.0,
        "conversations": [{"id": 1, "title": "t", "created": 1.0, "updated": 2.0}],
        "messages": [{"id": 1, "conversation_id": 1, "role": "user", "text": "x", "created": 1.0, "cut": False}],
        "states": [{"conversation_id": 1, "tag": "m", "updated": 1.0, "data": "AAEC"}],
        "adapter_versions": [{"version": 1, "metrics": {}, "created": 1.0, "parent": None,
                              "seen": {"messages": [1], "memories": [], "replay_items": [1]}, "data": "AA=="}],
        "replay_items": [{"id": 1, "text": "r", "created": 1.0, "sources": {"messages": [1], "memories": []}}],
        "memories": [{"id": 1, "text": "m", "created": 1.0, "updated": 1.0}],
        "settings": {"k": [1]},
        "learning_log": [{"id": 1, "kind": "update", "detail": {}, "time": 1.0}],
    }


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for n, value in enumerate(obj):
            yield from _paths(value, (*prefix, n))


PAYLOAD_PATHS = [p for p in _paths(_valid_payload()) if p]


@FUZZ
@given(path=st.sampled_from(PAYLOAD_PATHS), value=json_values | st.integers(min_value=-(2**70), max_value=2**70) | st.just("\ud800"))
def test_fuzz_one_replaced_field_then_import_only_raises_store_errors(tmp_path_factory, path, value):
    """Encrypt a payload with one field replaced: import either works or fails with a StoreError."""
    obj = _valid_payload()
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    plaintext = zlib.compress(json.dumps(obj).encode("utf-8", "surrogatepass"))
    header = archive._header(FAST, bytes(16))
    data = MAGIC + header + Cipher(derive_key(EXPORT_PASSPHRASE, bytes(16), FAST)).seal(plaintext, MAGIC + header)
    directory = tmp_path_factory.mktemp("fuzz-import")
    with Store.open(directory / "data") as s:
        s.create(PASSPHRASE, kdf=FAST)
        (directory / "x.enc").write_bytes(data)
        try:
            import_export(s, directory / "x.enc", EXPORT_PASSPHRASE)
        except StoreError:
            assert s.snapshot() == Snapshot()
        else:
            assert s.verify() == []


# --- decompression is bounded --------------------------------------------------------------------


def _sealed(plaintext: bytes) -> bytes:
    """An export whose authenticated payload is `plaintext` (as a crafted file would be)."""
    salt = b"s" * 16
    header = archive._header(FAST, salt)
    return MAGIC + header + Cipher(derive_key(EXPORT_PASSPHRASE, salt, FAST)).seal(plaintext, MAGIC + header)


def test_a_decompression_bomb_is_refused_with_a_format_error():
    """Regression: the payload was inflated with an unbounded zlib.decompress, so a small crafted
    export (with its own passphrase) could expand to gigabytes in memory before any check."""
    bomb = _sealed(zlib.compress(b"[" + b" " * (4 * 1024 * 1024) + b"]", 9))
    assert len(bomb) < 10_000
    with pytest.raises(ExportFormatError, match="expands beyond"):
        decode_export(bomb, EXPORT_PASSPHRASE, max_payload_bytes=1024 * 1024)


def test_a_payload_with_junk_after_the_compressed_data_is_refused():
    good = zlib.compress(json.dumps(snapshot_to_json(Snapshot())).encode())
    with pytest.raises(ExportFormatError, match="not readable"):
        decode_export(_sealed(good + b"junk"), EXPORT_PASSPHRASE)
    assert decode_export(_sealed(good), EXPORT_PASSPHRASE).counts() == Snapshot().counts()


# --- plaintext exports: a new private directory ------------------------------------------------


def _snapshot_with(store: Store, *titles: str):
    for title in titles:
        conv = store.add_conversation(title)
        store.add_turn(conv.id, f"about {title}", "ok")
    return store.snapshot()


def test_plaintext_export_again_removes_conversations_deleted_since(store, tmp_path):
    """Regression: `export --plaintext --force` wrote over an earlier export and left the Markdown
    of conversations deleted since then in place."""
    out = tmp_path / "readable"
    write_plaintext_export(_snapshot_with(store, "kept", "deleted since"), out)
    gone = store.list_conversations()[0]
    assert gone.title == "deleted since"
    store.delete_conversation(gone.id)
    files = write_plaintext_export(store.snapshot(), out, overwrite=True)
    assert sorted(p.name for p in (out / "conversations").iterdir()) == sorted(p.name for p in files if p.suffix == ".md")
    assert not any("deleted-since" in p.name for p in (out / "conversations").iterdir())


def test_plaintext_export_does_not_follow_symlinks_or_keep_loose_modes(store, tmp_path):
    """Regression: the files were opened without O_NOFOLLOW and kept an existing file's mode, so a
    planted symlink sent the conversations elsewhere and an earlier 0644 file stayed world-readable."""
    out = tmp_path / "readable"
    write_plaintext_export(_snapshot_with(store, "trip"), out)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not yours")
    (out / "export.json").unlink()
    (out / "export.json").symlink_to(elsewhere)
    (out / "memories.md").write_text("old")
    (out / "memories.md").chmod(0o644)
    store.add_memory("a memory")
    files = write_plaintext_export(store.snapshot(), out, overwrite=True)
    assert elsewhere.read_text() == "not yours"
    assert not (out / "export.json").is_symlink()
    assert all(stat.S_IMODE(p.lstat().st_mode) == 0o600 for p in files)


def test_plaintext_export_refuses_an_existing_directory_and_leaves_its_mode(store, tmp_path):
    """Regression: an existing user directory was silently made 0700 (private_dir) and written into."""
    mine = tmp_path / "Documents"
    mine.mkdir()
    mine.chmod(0o755)
    (mine / "notes.txt").write_text("the user's own file")
    snap = _snapshot_with(store, "trip")
    for overwrite in (False, True):
        with pytest.raises(ExportPathError):
            write_plaintext_export(snap, mine, overwrite=overwrite)
    (mine / "notes.txt").unlink()
    with pytest.raises(ExportPathError, match="exists already"):
        write_plaintext_export(snap, mine)  # empty, but still the user's
    assert stat.S_IMODE(mine.stat().st_mode) == 0o755 and list(mine.iterdir()) == []


def test_plaintext_export_will_not_replace_an_export_others_can_read(store, tmp_path):
    out = tmp_path / "readable"
    snap = _snapshot_with(store, "trip")
    write_plaintext_export(snap, out)
    out.chmod(0o755)
    with pytest.raises(ExportPathError, match="open to other users"):
        write_plaintext_export(snap, out, overwrite=True)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_plaintext_export_will_not_clear_through_a_symlinked_folder(store, tmp_path):
    out = tmp_path / "readable"
    snap = _snapshot_with(store, "trip")
    write_plaintext_export(snap, out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "00001-precious.md").write_text("the user's own notes")
    for p in (out / "conversations").iterdir():
        p.unlink()
    (out / "conversations").rmdir()
    (out / "conversations").symlink_to(elsewhere)
    with pytest.raises(ExportPathError, match="did not write"):
        write_plaintext_export(snap, out, overwrite=True)
    assert (elsewhere / "00001-precious.md").read_text() == "the user's own notes"
