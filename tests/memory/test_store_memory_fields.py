"""Memory records carry where and when they were said, how often they were used, their slot and
whether a newer memory superseded them: all inside the encrypted payload."""

from __future__ import annotations

import pytest

from memory.errors import CorruptRecord
from memory.facts import memory_from_payload, memory_payload
from memory.records import Memory
from tests.memory.store_helpers import FAST, reopen


def test_a_said_memory_keeps_its_source_time_and_slot_across_a_reopen(store):
    conv = store.add_conversation("chat")
    msg = store.add_message(conv.id, "user", "I live in Tromso.")
    kept = store.add_memory("I live in Tromso.", conversation_id=conv.id, message_id=msg.id, said_at=1000.0, slot="home")
    store = reopen(store)
    try:
        again = store.get_memory(kept.id)
        assert (again.conversation_id, again.message_id, again.said_at, again.slot) == (conv.id, msg.id, 1000.0, "home")
        assert again.status == "current" and again.times_used == 0
    finally:
        store.close()


def test_a_memory_typed_in_has_no_source(store):
    memory = store.get_memory(store.add_memory("I like tea.").id)
    assert (memory.conversation_id, memory.message_id, memory.said_at, memory.slot) == (None, None, None, None)


def test_a_row_written_before_the_new_fields_reads_with_defaults(store):
    codec = store._require_codec()
    with store.transaction():
        store._execute(
            "INSERT INTO memories (id, payload) VALUES (?, ?)",
            [7, codec.seal_json("memories", 7, {"text": "old row", "created": 1.0, "updated": 2.0})],
        )
    assert store.get_memory(7) == Memory(7, "old row", 1.0, 2.0)


def test_a_newer_memory_supersedes_the_older_which_stays_dated(store):
    old = store.add_memory("I live in Tromso.", slot="home")
    new = store.add_memory("I moved to Oslo.", slot="home", supersedes=[old.id])
    older = store.get_memory(old.id)
    assert older.status == "superseded" and older.superseded_by == new.id and older.superseded_at == new.created
    assert store.get_memory(new.id).status == "current"
    assert [m.text for m in store.list_memories()] == ["I live in Tromso.", "I moved to Oslo."]


def test_forgetting_the_newer_memory_makes_the_older_current_again(store):
    old = store.add_memory("I live in Tromso.", slot="home")
    new = store.add_memory("I moved to Oslo.", slot="home", supersedes=[old.id])
    store.delete_memory(new.id)
    again = store.get_memory(old.id)
    assert again.status == "current" and again.superseded_by is None and again.superseded_at is None


def test_counting_use_adds_one_per_block_and_passes_over_missing_ones(store):
    memory = store.add_memory("I like tea.")
    store.count_memory_use([memory.id, 999])
    store.count_memory_use([memory.id, memory.id])
    assert store.get_memory(memory.id).times_used == 2


def test_editing_keeps_source_slot_use_and_status(store):
    old = store.add_memory("I live in Tromso.", conversation_id=None, said_at=10.0, slot="home")
    store.count_memory_use([old.id])
    edited = store.edit_memory(old.id, "I live in Tromsø.")
    assert (edited.text, edited.said_at, edited.slot, edited.times_used) == ("I live in Tromsø.", 10.0, "home", 1)


def test_the_new_fields_are_not_in_the_database_file_in_plaintext(store):
    store.add_memory("I live in Tromso.", slot="hometown-slot-marker", said_at=1234.5)
    store.close()
    blob = b"".join(p.read_bytes() for p in store.directory.iterdir() if p.is_file())
    assert b"hometown-slot-marker" not in blob and b"superseded" not in blob and b"said_at" not in blob


def test_the_payload_round_trips_and_leaves_unset_fields_out():
    memory = Memory(3, "x", 1.0, 2.0, conversation_id=4, slot="home", times_used=2, superseded_by=9, superseded_at=3.0)
    payload = memory_payload(memory)
    assert "message_id" not in payload and "said_at" not in payload
    assert memory_from_payload(3, payload) == memory


@pytest.mark.parametrize("field, value", [("times_used", -1), ("times_used", "2"), ("slot", 5), ("superseded_by", 1.5)])
def test_a_payload_with_a_field_of_the_wrong_type_is_a_damaged_record(store, field, value):
    codec = store._require_codec()
    with store.transaction():
        store._execute(
            "INSERT INTO memories (id, payload) VALUES (?, ?)",
            [8, codec.seal_json("memories", 8, {"text": "t", "created": 1.0, "updated": 1.0, field: value})],
        )
    with pytest.raises(CorruptRecord):
        store.get_memory(8)


@pytest.mark.parametrize("merge", [False, True])
def test_export_and_import_keep_every_memory_field_with_its_links_renumbered(store, tmp_path, merge):
    """Regression: exports carried only text and times, so an import lost where a memory was said,
    its slot, its uses and which memory superseded it."""
    from memory.archive import export_store, import_export

    conv = store.add_conversation("chat")
    msg = store.add_message(conv.id, "user", "I live in Tromso.")
    old = store.add_memory("I live in Tromso.", conversation_id=conv.id, message_id=msg.id, said_at=1000.0, slot="home")
    new = store.add_memory("I moved to Oslo.", slot="home", supersedes=[old.id])
    store.count_memory_use([new.id])
    path = tmp_path / "backup.enc"
    export_store(store, path, "export pass", kdf=FAST)
    before = {m.id for m in store.list_memories()} if merge else set()
    import_export(store, path, "export pass", merge=merge)
    memories = [m for m in store.list_memories() if m.id not in before]  # the imported copies
    older = next(m for m in memories if m.text == "I live in Tromso.")
    newer = next(m for m in memories if m.text == "I moved to Oslo.")
    message = next(m for m in store.list_messages(older.conversation_id) if m.id == older.message_id)
    assert message.text == "I live in Tromso." and older.said_at == 1000.0 and older.slot == "home"
    assert older.status == "superseded" and older.superseded_by == newer.id
    assert newer.times_used == 1 and newer.status == "current"
