"""Record methods: conversations, messages, states, adapters, replay, memories, settings, log."""

from __future__ import annotations

import threading

import pytest

from memory.errors import RecordNotFound, StoreClosed, VaultLocked
from memory.records import Change, Deletion, Sources
from tests.memory.store_helpers import fill, reopen


def test_conversation_round_trip_and_ordering(store):
    a = store.add_conversation("first", created=100.0)
    b = store.add_conversation("second", created=200.0)
    store.add_message(a.id, "user", "later message", created=300.0)
    assert [c.id for c in store.list_conversations()] == [a.id, b.id]  # most recently updated first
    assert store.get_conversation(a.id).updated == 300.0
    assert store.rename_conversation(b.id, "renamed").title == "renamed"
    assert store.get_conversation(b.id).title == "renamed"


def test_messages_keep_order_role_text_time_and_cut_flag(store):
    conv = store.add_conversation()
    user, reply = store.add_turn(conv.id, "hi there", "hel", cut=True, created=5.0)
    assert (user.role, reply.role, reply.cut, user.cut) == ("user", "assistant", True, False)
    listed = store.list_messages(conv.id)
    assert listed == [user, reply]
    assert store.get_message(reply.id).created == 5.0
    finished = store.update_message(reply.id, text="hello!", cut=False)
    assert store.get_message(reply.id) == finished and finished.text == "hello!" and not finished.cut
    assert store.count_messages() == 2 and store.count_messages(conv.id) == 2


def test_unicode_and_empty_texts_survive(store):
    conv = store.add_conversation("📎 ünïcödé")
    msg = store.add_message(conv.id, "user", "")
    emoji = store.add_message(conv.id, "user", "日本語 ✓ \x00 null")
    store = reopen(store)
    assert store.get_message(msg.id).text == ""
    assert store.get_message(emoji.id).text == "日本語 ✓ \x00 null"
    assert store.get_conversation(conv.id).title == "📎 ünïcödé"
    store.close()


def test_message_needs_an_existing_conversation_and_a_role(store):
    with pytest.raises(RecordNotFound, match="conversations"):
        store.add_message(999, "user", "x")
    conv = store.add_conversation()
    with pytest.raises(ValueError, match="role"):
        store.add_message(conv.id, "", "x")


def test_state_save_replace_load_and_delete(store):
    conv = store.add_conversation()
    assert store.load_state(conv.id) is None
    store.save_state(conv.id, b"\x01" * 10, "model-a")
    store.save_state(conv.id, b"\x02" * 27_000, "model-a+adapter-3")
    state = store.load_state(conv.id)
    assert state.data == b"\x02" * 27_000 and state.tag == "model-a+adapter-3"
    assert store.delete_state(conv.id) and store.load_state(conv.id) is None
    assert not store.delete_state(conv.id)


def test_turn_with_state_is_one_transaction(store):
    conv = store.add_conversation()
    store.add_turn(conv.id, "a", "b", state=b"state-1", state_tag="t1")
    assert store.load_state(conv.id).data == b"state-1"


def test_adapter_versions_are_numbered_and_see_cumulatively(store):
    conv = store.add_conversation()
    u1, r1 = store.add_turn(conv.id, "one", "uno")
    u2, r2 = store.add_turn(conv.id, "two", "dos")
    memory = store.add_memory("fact")
    replay = store.add_replay_item("one / uno", message_ids=[u1.id, r1.id], memory_ids=[memory.id])
    v1 = store.add_adapter_version(b"w1", {"anchor_loss": 2.0}, seen_replay_ids=[replay.id])
    v2 = store.add_adapter_version(b"w2", {"anchor_loss": 1.9}, parent=v1.version, seen_message_ids=[u2.id, r2.id])
    assert (v1.version, v2.version) == (1, 2)
    assert v1.seen == Sources(frozenset({u1.id, r1.id}), frozenset({memory.id}), frozenset({replay.id}))
    assert v2.seen.message_ids == {u1.id, r1.id, u2.id, r2.id} and v2.seen.memory_ids == {memory.id}
    got = store.get_adapter_version(2)
    assert got.data == b"w2" and got.parent == 1 and got.metrics == {"anchor_loss": 1.9} and got.seen == v2.seen
    assert [a.version for a in store.list_adapter_versions()] == [1, 2]
    assert store.latest_adapter_version().version == 2
    store.set_adapter_metrics(2, {"anchor_loss": 1.8, "gate": "passed"})
    assert store.get_adapter_version(2).metrics["gate"] == "passed"
    store.delete_adapter_version(1)
    assert [a.version for a in store.list_adapter_versions()] == [2]
    assert store.add_adapter_version(b"w3", {}).version == 3  # numbers are never reused


def test_adapter_parent_must_exist(store):
    with pytest.raises(RecordNotFound):
        store.add_adapter_version(b"w", {}, parent=42)


def test_replay_items_keep_their_sources(store):
    conv = store.add_conversation()
    u, r = store.add_turn(conv.id, "q", "a")
    item = store.add_replay_item("q / a", message_ids=[u.id, r.id])
    assert store.get_replay_item(item.id).sources.message_ids == {u.id, r.id}
    assert store.replay_ids() == [item.id]
    assert store.list_replay_items() == [item]
    store.delete_replay_item(item.id)  # eviction: not an unlearning
    assert store.replay_ids() == []


def test_memories_add_edit_list_delete(store):
    m = store.add_memory("likes tea")
    edited = store.edit_memory(m.id, "likes green tea")
    assert store.get_memory(m.id).text == "likes green tea" and edited.created == m.created
    assert [x.text for x in store.list_memories()] == ["likes green tea"]
    assert store.delete_memory(m.id) == Deletion(memories=(m.id,))
    with pytest.raises(RecordNotFound):
        store.get_memory(m.id)


def test_settings_hold_json_values(store):
    store.set_setting("temperature", 0.7)
    store.set_setting("voice", {"engine": "whisper", "beam": 5})
    store.set_setting("temperature", 0.5)
    assert store.get_setting("temperature") == 0.5
    assert store.get_setting("missing", "default") == "default"
    assert store.list_settings() == {"temperature": 0.5, "voice": {"engine": "whisper", "beam": 5}}
    assert store.delete_setting("voice") and not store.delete_setting("voice")


def test_learning_log_keeps_events_in_order(store):
    for n in range(5):
        store.log_event("update" if n % 2 == 0 else "rollback", {"n": n}, when=float(n))
    assert [e.detail["n"] for e in store.list_events()] == [0, 1, 2, 3, 4]
    assert [e.detail["n"] for e in store.list_events(limit=2)] == [3, 4]
    assert [e.detail["n"] for e in store.list_events(kind="rollback")] == [1, 3]


# --- deletion and unlearning ------------------------------------------------------------------


def test_deleting_a_message_removes_what_was_learned_from_it(store):
    ids = fill(store)
    other = store.add_replay_item("unrelated")
    clean = store.add_adapter_version(b"clean", {}, seen_replay_ids=[other.id])
    deletion = store.delete_message(ids.user)
    assert deletion == Deletion(
        messages=(ids.user,), replay_items=(ids.replay,), adapter_versions=(ids.adapter,), states=(ids.conversation,)
    )
    assert store.replay_ids() == [other.id]
    assert [a.version for a in store.list_adapter_versions()] == [clean.version]
    assert store.load_state(ids.conversation) is None
    assert [m.id for m in store.list_messages(ids.conversation)] == [ids.reply]


def test_deleting_a_conversation_removes_messages_state_and_learning(store):
    ids = fill(store)
    deletion = store.delete_conversation(ids.conversation)
    assert deletion.conversations == (ids.conversation,)
    assert set(deletion.messages) == {ids.user, ids.reply}
    assert deletion.replay_items == (ids.replay,) and deletion.adapter_versions == (ids.adapter,)
    assert deletion.states == (ids.conversation,)
    assert store.list_conversations() == [] and store.count_messages() == 0
    assert store.list_memories() != []  # memories are not part of a conversation


def test_deleting_a_memory_removes_replay_items_and_adapters_from_it(store):
    memory = store.add_memory("secret fact")
    item = store.add_replay_item("fact", memory_ids=[memory.id])
    seen_directly = store.add_adapter_version(b"a", {}, seen_memory_ids=[memory.id])
    seen_via_replay = store.add_adapter_version(b"b", {}, seen_replay_ids=[item.id])
    unrelated = store.add_adapter_version(b"c", {})
    deletion = store.delete_memory(memory.id)
    assert deletion.replay_items == (item.id,)
    assert deletion.adapter_versions == (seen_directly.version, seen_via_replay.version)
    assert [a.version for a in store.list_adapter_versions()] == [unrelated.version]


def test_evicted_replay_item_still_leads_deletion_to_the_adapter(store):
    """An adapter that saw a replay item since evicted is still found through the item's sources."""
    conv = store.add_conversation()
    u, r = store.add_turn(conv.id, "q", "a")
    item = store.add_replay_item("q / a", message_ids=[u.id])
    adapter = store.add_adapter_version(b"w", {}, seen_replay_ids=[item.id])
    store.delete_replay_item(item.id)
    assert store.delete_message(u.id).adapter_versions == (adapter.version,)


def test_child_adapter_of_a_deleted_parent_is_still_unlearned(store):
    conv = store.add_conversation()
    u, _ = store.add_turn(conv.id, "q", "a")
    parent = store.add_adapter_version(b"p", {}, seen_message_ids=[u.id])
    child = store.add_adapter_version(b"c", {}, parent=parent.version)
    store.delete_adapter_version(parent.version)  # pruned
    assert store.delete_message(u.id).adapter_versions == (child.version,)


def test_unlearn_keeps_the_sources(store):
    memory = store.add_memory("old text")
    store.add_replay_item("old", memory_ids=[memory.id])
    store.add_adapter_version(b"w", {}, seen_memory_ids=[memory.id])
    store.edit_memory(memory.id, "new text")
    deletion = store.unlearn(memory_ids=[memory.id])
    assert deletion.replay_items and deletion.adapter_versions
    assert store.get_memory(memory.id).text == "new text"


def test_deleting_many_messages_goes_beyond_sqlite_parameter_limits(store):
    conv = store.add_conversation()
    with store.transaction():
        ids = [store.add_message(conv.id, "user", f"m{n}").id for n in range(1200)]
    store.add_adapter_version(b"w", {}, seen_message_ids=ids)
    deletion = store.delete_conversation(conv.id)
    assert len(deletion.messages) == 1200 and deletion.adapter_versions == (1,)


# --- transactions, listeners, locking ----------------------------------------------------------


def test_failed_transaction_leaves_nothing_behind(store):
    conv = store.add_conversation()
    seen = []
    store.add_listener(seen.append)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_message(conv.id, "user", "never committed")
            raise RuntimeError("boom")
    assert store.list_messages(conv.id) == []
    assert seen == []
    assert store.recall("committed") == []


def test_listeners_hear_committed_changes_once_the_transaction_ends(store):
    seen: list[Change] = []
    unsubscribe = store.add_listener(seen.append)
    with store.transaction():
        conv = store.add_conversation()
        store.add_message(conv.id, "user", "x")
        assert seen == []
    assert [(c.table, c.action) for c in seen] == [("conversations", "added"), ("messages", "added")]
    unsubscribe()
    store.add_memory("y")
    assert all(c.table != "memories" for c in seen)


def test_a_failing_listener_does_not_undo_the_write(store):
    def broken(change):
        raise ValueError("listener bug")

    store.add_listener(broken)
    memory = store.add_memory("kept")
    assert store.get_memory(memory.id).text == "kept"


def test_locked_store_refuses_records(store):
    conv = store.add_conversation()
    store.lock()
    for call in (store.list_conversations, lambda: store.get_conversation(conv.id), lambda: store.add_memory("x")):
        with pytest.raises(VaultLocked):
            call()
    with pytest.raises(VaultLocked):
        store.recall("anything")


def test_closed_store_refuses_everything(store):
    store.close()
    with pytest.raises(StoreClosed):
        store.list_memories()
    store.close()  # closing twice is fine


def test_missing_records_are_named(store):
    with pytest.raises(RecordNotFound, match="no record 7 in table 'messages'"):
        store.get_message(7)


def test_writes_from_several_threads_are_serialised(store):
    conv = store.add_conversation()

    def writer(n):
        for i in range(20):
            store.add_turn(conv.id, f"t{n}-{i}", "ok")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count_messages(conv.id) == 160
    assert store.verify() == []
