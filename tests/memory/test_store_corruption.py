"""Tampered records: a moved or flipped ciphertext is a `CorruptRecord` naming table and row."""

from __future__ import annotations

import sqlite3

import pytest

from memory.errors import CorruptRecord
from memory.store import Store
from tests.memory.store_helpers import PASSPHRASE


def tamper(store: Store, sql: str, params=()) -> None:
    """Change the database behind the store's back, as an attacker or a disk error would (through
    a connection of its own, so the store's integrity triggers do not see it)."""
    conn = sqlite3.connect(store.path)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def flip_bit(blob: bytes, position: int) -> bytes:
    data = bytearray(blob)
    data[position] ^= 0x10
    return bytes(data)


@pytest.fixture
def chat(store):
    conv = store.add_conversation("chat")
    messages = [store.add_message(conv.id, "user", f"message number {n}") for n in range(5)]
    return conv, messages


def test_ciphertext_moved_to_another_row_is_corrupt_and_others_still_read(store, chat):
    conv, messages = chat
    source, target = messages[0], messages[3]
    tamper(
        store,
        "UPDATE messages SET payload = (SELECT payload FROM messages WHERE id = ?) WHERE id = ?",
        [source.id, target.id],
    )
    with pytest.raises(CorruptRecord) as caught:
        store.get_message(target.id)
    assert (caught.value.table, caught.value.row, caught.value.column) == ("messages", target.id, "payload")
    assert "messages" in str(caught.value) and str(target.id) in str(caught.value)
    for msg in messages:
        if msg.id != target.id:
            assert store.get_message(msg.id) == msg
    assert [(e.table, e.row) for e in store.verify()] == [("messages", target.id)]


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_flipped_bit_is_corrupt_and_others_still_read(store, chat, position):
    conv, messages = chat
    victim = messages[2]
    (payload,) = store._db.conn.execute("SELECT payload FROM messages WHERE id = ?", [victim.id]).fetchone()
    tamper(store, "UPDATE messages SET payload = ? WHERE id = ?", [flip_bit(payload, position), victim.id])
    with pytest.raises(CorruptRecord, match=f"record {victim.id} in table 'messages'"):
        store.get_message(victim.id)
    skipped: list[CorruptRecord] = []  # a list leaves the damaged one out and says so (issue 16)
    assert [m.id for m in store.list_messages(conv.id, skipped=skipped)] == [m.id for m in messages if m.id != victim.id]
    assert [(e.table, e.row) for e in skipped] == [("messages", victim.id)] and ("messages", victim.id) in store.skipped
    assert [store.get_message(m.id) for m in messages if m.id != victim.id] == [m for m in messages if m.id != victim.id]


def test_ciphertext_moved_to_another_table_is_corrupt(store, chat):
    memory = store.add_memory("a fact")
    conv, messages = chat
    tamper(
        store,
        "UPDATE memories SET payload = (SELECT payload FROM messages WHERE id = ?) WHERE id = ?",
        [messages[0].id, memory.id],
    )
    with pytest.raises(CorruptRecord) as caught:
        store.get_memory(memory.id)
    assert caught.value.table == "memories"


def test_truncated_state_blob_names_the_column(store, chat):
    conv, _ = chat
    store.save_state(conv.id, b"\x07" * 1000, "tag")
    tamper(store, "UPDATE states SET blob = substr(blob, 1, 100) WHERE conversation_id = ?", [conv.id])
    with pytest.raises(CorruptRecord) as caught:
        store.load_state(conv.id)
    assert (caught.value.table, caught.value.column) == ("states", "blob")


def test_swapped_settings_are_corrupt(store):
    store.set_setting("a", 1)
    store.set_setting("b", 2)
    rows = store._db.conn.execute("SELECT id, payload FROM settings ORDER BY id").fetchall()
    tamper(store, "UPDATE settings SET payload = ? WHERE id = ?", [rows[1][1], rows[0][0]])
    skipped: list[CorruptRecord] = []
    assert len(store.list_settings(skipped=skipped)) == 1 and [e.table for e in skipped] == ["settings"]


def test_recall_skips_a_corrupt_message_and_says_so(store, chat):
    conv, messages = chat
    tamper(store, "UPDATE messages SET payload = x'00' WHERE id = ?", [messages[1].id])
    hits = store.recall("message number")
    assert {h.id for h in hits} == {m.id for m in messages} - {messages[1].id}
    assert [(e.table, e.row) for e in store.index_skipped] == [("messages", messages[1].id)]


def test_a_corrupt_record_can_be_deleted(store, chat):
    conv, messages = chat
    tamper(store, "UPDATE messages SET payload = x'01020304' WHERE id = ?", [messages[4].id])
    store.delete_message(messages[4].id)
    assert store.verify() == []
    assert len(store.list_messages(conv.id)) == 4


def test_corruption_survives_reopening_as_the_same_error(store, chat):
    conv, messages = chat
    tamper(store, "UPDATE messages SET payload = (SELECT payload FROM messages WHERE id = ?) WHERE id = ?", [messages[0].id, messages[1].id])
    directory = store.directory
    store.close()
    with Store.open(directory) as again:
        again.unlock(PASSPHRASE)
        with pytest.raises(CorruptRecord):
            again.get_message(messages[1].id)
        assert again.get_message(messages[0].id).text == "message number 0"


# --- links between rows ------------------------------------------------------------------------


def test_message_moved_to_another_conversation_by_sql_is_corrupt(store, chat):
    """Regression: a message's associated data named only its own row, so editing its plaintext
    conversation_id moved it into another conversation undetected."""
    conv, messages = chat
    other = store.add_conversation("another")
    tamper(store, "UPDATE messages SET conversation_id = ? WHERE id = ?", [other.id, messages[1].id])
    with pytest.raises(CorruptRecord) as caught:
        store.get_message(messages[1].id)
    assert (caught.value.table, caught.value.row) == ("messages", messages[1].id)
    skipped: list[CorruptRecord] = []
    assert store.list_messages(other.id, skipped=skipped) == [] and len(skipped) == 1
    assert [(e.table, e.row) for e in store.verify()] == [("messages", messages[1].id)]
    assert store.get_message(messages[2].id) == messages[2]


def _learned_from(store):
    conv = store.add_conversation()
    user, _ = store.add_turn(conv.id, "something private", "noted")
    item = store.add_replay_item("private exchange", message_ids=[user.id])
    adapter = store.add_adapter_version(b"weights", {}, seen_message_ids=[user.id], seen_replay_ids=[item.id])
    return user, item, adapter


def test_deleting_an_adapter_sources_row_cannot_keep_what_was_learned(store):
    """Regression: unlearning found adapter versions only through the plaintext adapter_sources
    rows, so deleting those rows by SQL made deleting a message keep the adapter trained on it."""
    user, item, adapter = _learned_from(store)
    tamper(store, "DELETE FROM adapter_sources WHERE adapter_id = ?", [adapter.version])
    assert ("adapter_sources", adapter.version) in [(e.table, e.row) for e in store.verify()]  # detected
    assert store.list_adapter_versions()[0].seen.message_ids == {user.id}  # the sealed copy
    deletion = store.delete_message(user.id)  # and harmless
    assert deletion.adapter_versions == (adapter.version,) and deletion.replay_items == (item.id,)
    assert store.list_adapter_versions() == [] and store.replay_ids() == []


def test_deleting_a_replay_sources_row_cannot_keep_what_was_learned(store):
    """Regression: the same hole through replay_sources: the replay item (and the adapter that
    replayed it) survived the deletion of the message it was made from."""
    user, item, adapter = _learned_from(store)
    tamper(store, "DELETE FROM replay_sources WHERE replay_id = ?", [item.id])
    tamper(store, "DELETE FROM adapter_sources WHERE adapter_id = ?", [adapter.version])
    assert ("replay_sources", item.id) in [(e.table, e.row) for e in store.verify()]
    deletion = store.delete_message(user.id)
    assert deletion.replay_items == (item.id,) and deletion.adapter_versions == (adapter.version,)


def test_an_unreadable_adapter_version_is_unlearned_rather_than_kept(store):
    """Whatever an adapter version whose payload no longer opens saw is unknown: a deletion removes it."""
    user, _, adapter = _learned_from(store)
    tamper(store, "DELETE FROM adapter_sources WHERE adapter_id = ?", [adapter.version])
    tamper(store, "UPDATE adapter_versions SET payload = x'00' WHERE id = ?", [adapter.version])
    assert store.delete_message(user.id).adapter_versions == (adapter.version,)
