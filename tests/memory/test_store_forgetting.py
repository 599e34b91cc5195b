"""Editing is forgetting the old text, and what a state read survives an export (issue 16)."""

from __future__ import annotations

from memory.archive import export_store, import_export
from memory.records import Sources
from memory.store import Store
from tests.memory.store_helpers import FAST

EXPORT_PASSPHRASE = "export passphrase"


def two_chats(store: Store):
    """Chat A holds a fact; chat B's state recalled it (and a memory); chat C's read nothing."""
    a, b, c = (store.add_conversation(t) for t in "ABC")
    fact, _ = store.add_turn(a.id, "My sister Ines lives in Porto", "Noted", state=b"state A", state_tag="t")
    memory = store.add_memory("Ines likes green tea")
    store.add_turn(b.id, "Where does Ines live?", "In Porto", state=b"state B", state_tag="t")
    store.save_state(b.id, b"state B", "t", read=Sources(frozenset({fact.id}), frozenset({memory.id})))
    store.add_turn(c.id, "the weather is fine", "good", state=b"state C", state_tag="t")
    return a, b, c, fact, memory


def test_editing_a_recalled_memory_drops_the_states_that_read_it(store):
    """Regression (issue 16): `edit_memory` left the old text in every state that had recalled it."""
    a, b, c, _, memory = two_chats(store)
    store.edit_memory(memory.id, "Ines likes coffee")
    assert store.load_state(b.id) is None
    assert store.load_state(a.id) is not None and store.load_state(c.id) is not None


def test_editing_a_recalled_message_drops_the_states_that_read_it(store):
    """Regression (issue 16): `update_message` dropped no state at all."""
    a, b, c, fact, _ = two_chats(store)
    store.update_message(fact.id, text="My sister Ines lives in Lisbon")
    assert store.load_state(b.id) is None  # recalled it
    assert store.load_state(a.id) is None  # its own conversation's state read it too
    assert store.load_state(c.id) is not None


def test_a_reply_written_after_its_state_leaves_that_state_alone(store):
    """A streaming reply is updated while its conversation's state is the one saved before it:
    that state never read it, so it is kept (dropping it would re-read the history every turn)."""
    a, _, _, _, _ = two_chats(store)
    reply = store.add_message(a.id, "assistant", "", cut=True)
    store.update_message(reply.id, text="partial answer")
    store.update_message(reply.id, text="partial answer, longer", cut=False)
    assert store.load_state(a.id) is not None
    store.save_state(a.id, b"state A2", "t", carry=True)
    store.update_message(reply.id, text="edited after the state read it")
    assert store.load_state(a.id) is None


def test_a_flag_change_keeps_the_states(store):
    a, b, _, fact, _ = two_chats(store)
    store.update_message(fact.id, cut=True)
    assert store.load_state(a.id) is not None and store.load_state(b.id) is not None


def _other(tmp_path) -> Store:
    s = Store.open(tmp_path / "other")
    s.create("another passphrase", kdf=FAST)
    return s


def test_what_a_state_read_survives_export_and_import(store, tmp_path):
    """Regression (issue 16): exports did not carry a state's read set, so forgetting after an
    import could not tell which states had read a deleted item."""
    _, b, c, fact, memory = two_chats(store)
    path = tmp_path / "backup.enc"
    export_store(store, path, EXPORT_PASSPHRASE, kdf=FAST)
    other = _other(tmp_path)
    try:
        import_export(other, path, EXPORT_PASSPHRASE)
        assert other.load_state(b.id).read == Sources(frozenset({fact.id}), frozenset({memory.id}))
        other.delete_memory(memory.id)
        assert other.load_state(b.id) is None and other.load_state(c.id) is not None
    finally:
        other.close()


def test_a_merged_state_reads_the_renumbered_items(store, tmp_path):
    """In a merge every record takes a new id; what a state read is renumbered with them, so
    deleting the merged fact still reaches the merged state."""
    two_chats(store)
    path = tmp_path / "backup.enc"
    export_store(store, path, EXPORT_PASSPHRASE, kdf=FAST)
    other = _other(tmp_path)
    try:
        mine = other.add_conversation("mine")
        other.add_turn(mine.id, "my own question", "my own answer", state=b"mine", state_tag="t")
        import_export(other, path, EXPORT_PASSPHRASE, merge=True)
        by_title = {conv.title: conv.id for conv in other.list_conversations()}
        fact = next(m for m in other.list_messages(by_title["A"]) if m.role == "user")
        memory = next(m for m in other.list_memories() if m.text == "Ines likes green tea")
        assert other.load_state(by_title["B"]).read == Sources(frozenset({fact.id}), frozenset({memory.id}))
        deletion = other.delete_message(fact.id)
        assert set(deletion.states) == {by_title["A"], by_title["B"]}
        assert other.load_state(by_title["C"]) is not None and other.load_state(mine.id) is not None
    finally:
        other.close()
