"""Automatic memories at the session layer: kept after a user message in a stored chat (never a
temporary one), exact repeats kept once, a newer fact about the same slot superseding the older;
recall preferring current memories; uses counted; undo and merge forgetting through the delete path.

The detector is `assistant.extraction.find_memories`; most tests here replace it with a table
(`TABLE`: message -> candidates) so that what is kept does not depend on the detector's model.
The last tests use the real one, where it exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from assistant.session.recall import about_the_past

from .session_support import greedy, open_session, tiny_model_dir


@dataclass(frozen=True)
class Said:
    text: str
    slot: str | None
    score: float = 1.0


TABLE = {
    "I live in Tromso.": [Said("I live in Tromso.", "home")],
    "i live in tromso": [Said("I live in Tromso", "home")],
    "Actually I moved to Oslo.": [Said("I moved to Oslo.", "home")],
    "My sister Ilse is a vet and I love jazz.": [Said("My sister Ilse is a vet.", "sister"), Said("I love jazz.", None)],
    "Where do I live?": [],
}


@pytest.fixture
def session(tmp_path):
    s = open_session(tmp_path / "home", tiny_model_dir())
    s.pause_learning()
    s.memory.detect = lambda text: TABLE.get(text, [])
    yield s
    s.close()


def say(session, text: str):
    reply = session.send(text, settings=greedy(3))
    reply.wait()
    return reply


def current(session) -> list[str]:
    return [m.text for m in session.memories() if m.status == "current"]


def test_a_statement_in_a_stored_chat_becomes_a_memory_with_its_source(session):
    conv = session.new_conversation()
    reply = say(session, "I live in Tromso.")
    [kept] = reply.remembered
    assert kept.text == "I live in Tromso." and kept.conversation_id == conv.id and kept.said_at is not None
    assert [m.id for m in session.memories()] == [kept.id]
    stored = session.store.get_memory(kept.id)
    assert stored.message_id == reply.user_message_id and stored.slot == "home"


def test_a_question_keeps_nothing(session):
    session.new_conversation()
    assert say(session, "Where do I live?").remembered == [] and session.memories() == []


def test_a_temporary_chat_keeps_nothing(session):
    session.new_conversation(temporary=True)
    assert say(session, "I live in Tromso.").remembered == [] and session.memories() == []


def test_one_message_can_tell_several_things(session):
    session.new_conversation()
    reply = say(session, "My sister Ilse is a vet and I love jazz.")
    assert [m.text for m in reply.remembered] == ["My sister Ilse is a vet.", "I love jazz."]


def test_an_exact_repeat_is_kept_once(session):
    session.new_conversation()
    say(session, "I live in Tromso.")
    session.new_conversation()
    assert say(session, "i live in tromso").remembered == []
    assert current(session) == ["I live in Tromso."]


def test_a_newer_fact_about_the_same_slot_supersedes_the_older(session):
    session.new_conversation()
    say(session, "I live in Tromso.")
    session.new_conversation()
    [new] = say(session, "Actually I moved to Oslo.").remembered
    old = next(m for m in session.memories() if m.text == "I live in Tromso.")
    assert old.status == "superseded" and old.superseded_by == new.id and old.superseded_at is not None
    assert current(session) == ["I moved to Oslo."]


def test_undo_forgets_the_memory_and_the_older_fact_is_current_again(session):
    session.new_conversation()
    say(session, "I live in Tromso.")
    [new] = say(session, "Actually I moved to Oslo.").remembered
    session.delete_memory(new.id)
    assert current(session) == ["I live in Tromso."]
    assert all(hit.id != new.id for hit in session.search("Oslo"))


def test_recall_leaves_out_a_superseded_memory_and_its_message(session):
    first = session.new_conversation()
    say(session, "I live in Tromso.")
    session.new_conversation()
    say(session, "Actually I moved to Oslo.")
    here = session.chats.get(session.new_conversation().id)
    texts = [h.text for h in session.recall.hits("where do I live now in Tromso or Oslo", here)]
    assert "I moved to Oslo." in texts and "I live in Tromso." not in texts
    assert all(h.conversation_id != first.id for h in session.recall.hits("live Tromso", here) if h.kind == "message")
    assert "I live in Tromso." not in [h.text for h in session.recall.hits("live Tromso", here)]


def test_a_question_about_the_past_can_still_find_the_superseded_fact(session):
    session.new_conversation()
    say(session, "I live in Tromso.")
    session.new_conversation()
    say(session, "Actually I moved to Oslo.")
    here = session.chats.get(session.new_conversation().id)
    assert "I live in Tromso." in [h.text for h in session.recall.hits("where did I live before Tromso", here)]


@pytest.mark.parametrize(
    "question, past",
    [("Where did I live before?", True), ("What did I used to eat?", True), ("my old job", True),
     ("where did I work last year", True), ("How old is my sister?", False), ("Where do I live?", False)],
)  # fmt: skip
def test_questions_about_the_past_are_told_apart(question, past):
    assert about_the_past(question) is past


def test_a_memory_in_the_block_counts_as_used(session):
    session.new_conversation()
    say(session, "I live in Tromso.")
    session.new_conversation()
    reply = say(session, "Tromso")
    assert "I live in Tromso." in reply.memory_used
    assert next(m for m in session.memories() if m.text == "I live in Tromso.").times_used == 1


def test_merging_two_memories_keeps_one_and_forgets_both(session):
    a = session.add_memory("My sister is Ilse.")
    b = session.add_memory("Ilse is a vet.")
    merged = session.merge_memories([a.id, b.id], "My sister Ilse is a vet.")
    assert [m.text for m in session.memories()] == ["My sister Ilse is a vet."] and merged.id not in (a.id, b.id)


def test_a_failing_detector_costs_no_reply(session):
    def broken(text):
        raise RuntimeError("detector broke")

    session.memory.detect = broken
    session.new_conversation()
    reply = say(session, "I live in Tromso.")
    assert reply.remembered == [] and not reply.cut


# --- the real detector --------------------------------------------------------------------------


def test_the_real_detector_keeps_a_statement_and_not_a_question(tmp_path):
    pytest.importorskip("assistant.extraction")
    with open_session(tmp_path / "home", tiny_model_dir()) as s:
        s.pause_learning()
        s.new_conversation()
        assert say(s, "Where do I live?").remembered == []
        kept = say(s, "My sister Ilse is a veterinarian.").remembered
        assert kept and all(m.conversation_id == s.current.id for m in kept)


def test_with_the_real_detector_a_move_supersedes_the_old_home_and_recall_prefers_it(tmp_path):
    pytest.importorskip("assistant.extraction")
    with open_session(tmp_path / "home", tiny_model_dir()) as s:
        s.pause_learning()
        s.new_conversation()
        say(s, "Hi! My name is Dana and I live in Tromso.")
        s.new_conversation()
        [moved] = say(s, "I moved to Oslo.").remembered
        states = {m.text: m.status for m in s.memories()}
        assert states == {"My name is Dana.": "current", "I live in Tromso.": "superseded", "I moved to Oslo.": "current"}
        here = s.chats.get(s.new_conversation().id)
        assert "I live in Tromso." not in [h.text for h in s.recall.hits("Tromso Oslo live", here)]
        assert moved.slot == "home"
