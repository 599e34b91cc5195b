"""Forgetting reaches every recurrent state (issue 16): a state that read a message or a memory
through its `<|memory|>` block is dropped when that item is deleted, and its conversation then
starts again from a re-read of its own remaining history."""

from __future__ import annotations

import pytest

from .session_support import greedy, open_session, tiny_model_dir

FACT = "My sister Ines lives in Porto"
KEPT = "My sister Ines lives in Porto."  # the memory the session keeps from FACT; it stands for the message in recall


@pytest.fixture
def session(tmp_path):
    s = open_session(tmp_path / "home", tiny_model_dir())
    s.pause_learning()
    yield s
    s.close()


def recalled_in_a_second_chat(session, question: str = "Where does my sister Ines live?"):
    b = session.new_conversation()
    reply = session.send(question, settings=greedy(6))
    reply.wait()
    return b, reply


def test_a_state_records_the_messages_and_memories_it_recalled(session):
    a = session.new_conversation()
    session.send(FACT, settings=greedy(4)).wait()
    fact = next(m for m in session.messages(a.id) if m.role == "user")
    kept = next(m for m in session.memories() if m.text == KEPT)
    memory = session.add_memory("Ines likes green tea")
    b, reply = recalled_in_a_second_chat(session, "Does my sister Ines like tea?")
    assert KEPT in reply.memory_used and "Ines likes green tea" in reply.memory_used
    read = session.store.load_state(b.id).read
    assert {kept.id, memory.id} <= read.memory_ids and fact.id not in read.message_ids
    session.send("thanks", settings=greedy(3)).wait()  # a continued state keeps what it had read
    assert kept.id in session.store.load_state(b.id).read.memory_ids


def test_deleting_a_recalled_message_drops_the_state_that_read_it(session):
    """Regression (issue 16): `delete_message` dropped only the message's own conversation state,
    so the deleted fact lived on in every other conversation's state that had recalled it."""
    a = session.new_conversation()
    session.send(FACT, settings=greedy(4)).wait()
    fact = next(m for m in session.messages(a.id) if m.role == "user")
    other = session.new_conversation()
    session.send("the weather is fine today", settings=greedy(3)).wait()  # read nothing of the fact
    b, reply = recalled_in_a_second_chat(session)
    assert KEPT in reply.memory_used and session.store.load_state(b.id) is not None
    session.delete_message(fact.id)
    assert not [m for m in session.memories() if "Porto" in m.text]  # the memory kept from it goes too
    assert session.store.load_state(b.id) is None  # no state carries the deleted fact any more
    assert session.store.load_state(other.id) is not None  # a state that never read it is kept
    reply = session.send("and what else?", settings=greedy(3))
    reply.wait()
    assert reply.reread and not [m for m in reply.memory_used if "Porto" in m]  # B re-read from its remaining history
    events = [e.detail for e in session.learning_log() if e.kind == "state"]
    assert any(f"conversation {b.id}: re-read 2 messages" in e for e in events)


def test_deleting_a_recalled_memory_drops_the_state_that_read_it(session):
    """Regression (issue 16): `delete_memory` dropped no state at all."""
    memory = session.add_memory("Ines likes green tea")
    b, reply = recalled_in_a_second_chat(session, "Does my sister Ines like tea?")
    assert "Ines likes green tea" in reply.memory_used
    session.delete_memory(memory.id)
    assert session.store.load_state(b.id) is None


def test_deleting_a_conversation_drops_the_states_that_recalled_its_messages(session):
    a = session.new_conversation()
    session.send(FACT, settings=greedy(4)).wait()
    b, reply = recalled_in_a_second_chat(session)
    assert KEPT in reply.memory_used
    session.delete_conversation(a.id)
    assert session.store.load_state(b.id) is None
    assert not [m for m in session.memories() if "Porto" in m.text]  # what was remembered from it went too


def test_editing_a_recalled_memory_drops_the_state_that_read_its_old_text(session):
    """Regression (issue 16): editing a memory left its old text in every state that recalled it."""
    memory = session.add_memory("Ines likes green tea")
    b, reply = recalled_in_a_second_chat(session, "Does my sister Ines like tea?")
    assert "Ines likes green tea" in reply.memory_used and session.store.load_state(b.id) is not None
    session.edit_memory(memory.id, "Ines likes strong coffee")
    assert session.store.load_state(b.id) is None  # no state carries the old text any more
    reply = session.send("and what else?", settings=greedy(3))
    reply.wait()
    assert reply.reread and "Ines likes green tea" not in reply.memory_used  # B re-read from its history
