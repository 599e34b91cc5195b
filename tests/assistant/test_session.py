"""The session: conversations, streaming replies stored as they grow, persistent states, recall,
temporary chats. Tiny trained model, cheap vault keys; learning is paused where it is not the point."""

from __future__ import annotations

import threading

import pytest
import torch

from assistant.errors import ReplyInProgress
from assistant.session import Session
from memory.errors import InstanceLocked, RecordNotFound, VaultMissing, WrongPassphrase

from .session_support import PASSPHRASE, greedy, next_logits, open_session, tiny_hybrid_model_dir, tiny_model_dir


@pytest.fixture(params=["liquid", "hybrid"])
def model_dir(request):
    """Every session test runs on an all-liquid model and on one with a window-attention block."""
    return tiny_model_dir() if request.param == "liquid" else tiny_hybrid_model_dir()


@pytest.fixture
def session(tmp_path, model_dir):
    s = open_session(tmp_path / "home", model_dir)
    s.pause_learning()
    yield s
    s.close()


def reopen(s: Session, model_dir, **kwargs) -> Session:
    home = s.home
    s.close()
    return open_session(home, model_dir, **kwargs)


# --- opening ---------------------------------------------------------------------------------


def test_open_creates_a_vault_once_and_then_needs_the_passphrase(tmp_path, model_dir):
    home = tmp_path / "home"
    assert not Session.exists(home)
    with pytest.raises(VaultMissing):
        open_session(home, model_dir, create=False)
    open_session(home, model_dir, learn=False).close()
    assert Session.exists(home)
    with pytest.raises(WrongPassphrase):
        Session.open("not it", home=home, model_dir=model_dir)


def test_a_second_session_on_the_same_data_directory_is_refused(session, model_dir):
    with pytest.raises(InstanceLocked):
        Session.open(PASSPHRASE, home=session.home, model_dir=model_dir)


# --- conversations and messages ----------------------------------------------------------------


def test_conversations_are_created_renamed_listed_and_deleted(session):
    a = session.new_conversation("Trip")
    b = session.new_conversation()
    assert session.current.id == b.id
    session.rename(b.id, "Cooking")
    titles = [c.title for c in session.conversations()]
    assert titles == ["Cooking", "Trip"]
    session.select(a.id)
    assert session.current.title == "Trip"
    session.delete_conversation(a.id)
    assert session.current is None
    assert [c.title for c in session.conversations()] == ["Cooking"]
    with pytest.raises(RecordNotFound):
        session.select(a.id)


def test_the_user_message_is_stored_before_generation_and_the_reply_as_it_streams(session, monkeypatch):
    monkeypatch.setattr("assistant.session.turn.SAVE_EVERY_S", 0.0)
    conv = session.new_conversation()
    reply = session.send("hello there, how are you?", settings=greedy(8))
    stored = session.messages(conv.id)
    assert [(m.role, m.text, m.cut) for m in stored] == [("user", "hello there, how are you?", False), ("assistant", "", True)]
    first = next(reply)
    second = next(reply)
    # what a crash now would leave: the pieces shown so far, marked cut
    shown = session.messages(conv.id)[1]
    assert shown.text.startswith(first) and shown.cut
    rest = "".join(reply)
    assert reply.text == first + second + rest
    final = session.messages(conv.id)[1]
    assert (final.text, final.cut, final.id) == (reply.text, False, reply.message_id)
    assert reply.tokens_per_s > 0


def test_a_cancelled_reply_keeps_what_was_shown_marked_cut_and_is_not_learned(session):
    session.resume_learning()
    session.learning.stop()  # keep the job (if any) in the queue to look at it
    session.new_conversation()
    cancel = threading.Event()
    reply = session.send("tell me about the river", cancel=cancel, settings=greedy(30))
    pieces = [next(reply), next(reply)]
    cancel.set()
    rest = list(reply)
    assert reply.cut and reply.text == "".join(pieces + rest)
    message = session.messages(reply.conversation_id)[-1]
    assert message.cut and message.text == reply.text
    assert session.learning.pending() == []


def test_a_reply_closed_unread_leaves_an_empty_cut_message_and_frees_the_session(session):
    conv = session.new_conversation()
    session.send("first", settings=greedy(4)).close()
    assert session.messages(conv.id)[1].cut
    session.send("second", settings=greedy(4)).wait()
    assert [m.cut for m in session.messages(conv.id)] == [False, True, False, False]


def test_a_reply_dropped_mid_stream_is_cut_and_frees_the_model_at_once(session):
    """Regression: the reply's generator once held the reply itself, and the reference cycle kept
    the generation lock (and the learning worker waiting) until a garbage collection."""
    conv = session.new_conversation()
    reply = session.send("tell me a long story", settings=greedy(30))
    next(reply)
    del reply
    assert not session.runtime.generating.is_set()
    session.send("and another", settings=greedy(4)).wait()
    assert [m.cut for m in session.messages(conv.id)] == [False, True, False, False]


def test_one_reply_at_a_time(session):
    session.new_conversation()
    first = session.send("one", settings=greedy(4))
    with pytest.raises(ReplyInProgress):
        session.send("two")
    first.wait()
    session.send("two", settings=greedy(4)).wait()


def test_empty_messages_are_refused(session):
    with pytest.raises(ValueError, match="empty"):
        session.send("   ")


def test_sending_without_a_conversation_starts_one_titled_by_the_message(session):
    reply = session.send("Plans for the weekend in Porto", settings=greedy(4))
    reply.wait()
    assert session.current.title == "Plans for the weekend in Porto"
    assert session.current.message_count == 2


# --- persistent state ------------------------------------------------------------------------


def test_reopening_continues_with_logits_identical_to_never_closing(session, model_dir):
    conv = session.new_conversation()
    for text in ("my cat is called Miso", "we like tea and long walks"):
        session.send(text, settings=greedy(10)).wait()
    before = next_logits(session, conv.id, "what is my cat called?")
    again = reopen(session, model_dir)
    try:
        after = next_logits(again, conv.id, "what is my cat called?")
        assert torch.equal(before, after)
        assert not [e for e in again.learning_log() if e.kind == "state"]  # nothing was re-read
    finally:
        again.close()


def test_a_turn_feeds_only_new_tokens_into_the_stored_state(session):
    """The stored state is exactly the live one: prompt, sampled reply and <|end|>, from zero."""
    from core.generate import Generator
    from core.template import render_turn

    conv = session.new_conversation()
    reply = session.send("hello", settings=greedy(6))
    reply.wait()
    model, tok = session.runtime.load()
    gen = Generator(model, tok)
    prompt = tok.encode(render_turn("user", "hello") + render_turn("assistant", "", close=False))
    assert "".join(gen.stream(prompt, None, greedy(6))) == reply.text
    expected = next_logits(session, conv.id, "next", with_memory=False)
    with torch.inference_mode():
        logits, _ = model(torch.tensor([tok.encode(render_turn("user", "next") + render_turn("assistant", "", close=False))]), gen.state)
    assert torch.allclose(expected, logits[0, -1], atol=1e-5)


def test_a_new_conversation_starts_from_a_clean_state(session):
    from core.template import render_turn

    session.new_conversation()
    session.send("my sister is called Ines", settings=greedy(8)).wait()
    fresh = session.new_conversation()
    model, tok = session.runtime.load()
    with torch.inference_mode():
        zero, _ = model(torch.tensor([tok.encode(render_turn("user", "hi") + render_turn("assistant", "", close=False))]))
    assert torch.equal(next_logits(session, fresh.id, "hi", with_memory=False), zero[0, -1])


def test_a_conversation_keeps_the_adapter_version_its_state_was_made_with(session):
    session.resume_learning()
    session.new_conversation()
    session.send("my cat is called Miso", settings=greedy(6)).wait()
    assert session.wait_for_learning(60)  # version 1, active
    conv = session.new_conversation()
    session.send("and my dog is Biscuit", settings=greedy(6)).wait()  # its state: made with version 1
    assert session.wait_for_learning(60)  # version 2 is active now
    assert session.learning_status().version == 2
    reply = session.send("what are their names?", settings=greedy(6))
    reply.wait()
    assert not reply.reread and session.runtime.adapter_version == 1
    assert session.store.load_state(conv.id).tag.endswith(":1")


def test_a_state_from_an_adapter_no_longer_in_use_is_re_read_once_and_logged(session):
    session.resume_learning()
    session.new_conversation()
    session.send("my cat is called Miso", settings=greedy(6)).wait()
    assert session.wait_for_learning(60)
    session.new_conversation()
    session.send("and my dog is Biscuit", settings=greedy(6)).wait()  # state made with version 1
    assert session.wait_for_learning(60)
    session.rollback(0)  # back to the base model: version 1 leaves the active lineage
    reply = session.send("what are their names?", settings=greedy(6))
    reply.wait()
    assert reply.reread and session.runtime.adapter_version is None
    events = [e.detail for e in session.learning_log() if e.kind == "state"]
    assert len(events) == 1
    assert "re-read 2 messages" in events[0] and "adapter version 1" in events[0] and "no longer in use" in events[0]
    reply = session.send("thanks", settings=greedy(6))
    reply.wait()
    assert not reply.reread  # once


def test_a_reply_cut_by_a_crash_is_caught_up_from_the_saved_state(session, model_dir):
    conv = session.new_conversation()
    session.send("first message", settings=greedy(6)).wait()
    # a crash mid-reply: the rows exist, the state was not saved for that turn
    session.store.add_message(conv.id, "user", "second message")
    session.store.add_message(conv.id, "assistant", "half a rep", cut=True)
    session.send("third", settings=greedy(6)).wait()
    events = [e.detail for e in session.learning_log() if e.kind == "state"]
    assert events == [f"conversation {conv.id}: caught up on 2 messages written after its state"]


def test_deleting_a_message_drops_its_conversation_state(session):
    conv = session.new_conversation()
    session.send("one", settings=greedy(4)).wait()
    session.send("two", settings=greedy(4)).wait()
    session.delete_message(session.messages(conv.id)[0].id)
    assert session.store.load_state(conv.id) is None
    reply = session.send("three", settings=greedy(4))
    reply.wait()
    assert reply.reread


# --- recall and memories ---------------------------------------------------------------------


def test_recall_brings_user_messages_from_other_conversations_and_memories(session):
    session.new_conversation()
    session.send("What a week it was for Ines in Porto, wow", settings=greedy(6)).wait()  # no fact to keep
    session.send("My sister Ines lives in Porto", settings=greedy(6)).wait()  # kept as a memory
    session.add_memory("Ines likes green tea")
    current = session.new_conversation()
    session.send("Where does Ines live?", settings=greedy(6)).wait()
    reply = session.send("Does Ines like tea in Porto?", settings=greedy(6))
    reply.wait()
    assert "What a week it was for Ines in Porto, wow" in reply.memory_used  # a message, recalled as it is
    assert "My sister Ines lives in Porto." in reply.memory_used  # the memory kept from the message...
    assert "My sister Ines lives in Porto" not in reply.memory_used  # ...stands for it
    assert "Ines likes green tea" in reply.memory_used
    assert "Where does Ines live?" not in reply.memory_used  # the current conversation is in the state
    own = {m.text for m in session.messages(current.id) if m.role == "assistant"}
    assert not own & set(reply.memory_used)


def test_recall_leaves_out_questions_and_greetings_which_tell_nothing(session):
    session.new_conversation()
    session.send("Hi there!", settings=greedy(4)).wait()
    session.send("Where did I grow up?", settings=greedy(4)).wait()
    session.send("I grew up in Charleston.", settings=greedy(4)).wait()
    session.new_conversation()
    reply = session.send("Hi! Sorry, where did I grow up?", settings=greedy(4))
    reply.wait()
    assert reply.memory_used == ["I grew up in Charleston."]


def test_recall_finds_the_users_statement_under_many_replies_that_repeat_the_question(session):
    """Replies are indexed too (search finds them), and a dozen replies about the notebook
    outrank the one statement that answers; the block must still hold the statement."""
    told = session.store.add_conversation()
    session.store.add_turn(told.id, "I put my notebook in the biscuit tin.", "Noted.")
    for _ in range(12):
        conv = session.store.add_conversation()
        session.store.add_turn(conv.id, "Where is it?", "You left your notebook, your old notebook, somewhere I do not know.")
    session.new_conversation()
    reply = session.send("Where did I leave my notebook?", settings=greedy(4))
    reply.wait()
    assert "I put my notebook in the biscuit tin." in reply.memory_used
    assert not any("You left" in snippet for snippet in reply.memory_used)


def test_a_reply_with_a_memory_block_is_decoded_with_memory_contrast(session, model_dir, monkeypatch):
    """With a recalled block, the Generator is given the same turn without it as the contrast
    (core.generate's memory contrast) and the reply is what that decoding gives; without a
    block there is no contrast."""
    from dataclasses import replace

    from core.checkpoint import load_model
    from core.generate import Generator
    from core.template import render_memory, render_turn

    seen: list = []
    real_stream = Generator.stream

    def recording_stream(self, prompt_ids, state=None, settings=None, cancel=None, contrast_ids=None):
        seen.append(contrast_ids)
        return real_stream(self, prompt_ids, state, settings, cancel, contrast_ids)

    monkeypatch.setattr(Generator, "stream", recording_stream)
    session.settings.set("learning.paused", True)  # the base model answers both
    session.new_conversation()
    session.send("I grew up in Charleston.", settings=greedy(4)).wait()
    session.new_conversation()
    question = "Sorry, where did I grow up?"
    settings = replace(greedy(12), memory_contrast=4.0)
    reply = session.send(question, settings=settings)
    reply.wait()
    assert reply.memory_used == ["I grew up in Charleston."]
    model, tok = load_model(model_dir)
    turn = render_turn("user", question) + render_turn("assistant", "", close=False)
    assert seen == [None, tok.encode(turn)]  # no block for the first message, then the contrast
    monkeypatch.undo()
    gen = Generator(model, tok)
    pieces = gen.stream(tok.encode(render_memory(reply.memory_used) + turn), None, settings, contrast_ids=tok.encode(turn))
    assert reply.text == "".join(pieces)


def test_memories_are_added_edited_deleted_and_counted(session):
    memory = session.add_memory("My locker number is 311")
    session.edit_memory(memory.id, "My locker number is 312")
    assert [m.text for m in session.memories()] == ["My locker number is 312"]
    assert session.memory_count() == 1
    session.delete_memory(memory.id)
    assert session.memories() == [] and session.memory_count() == 0


def test_search_finds_messages_and_memories(session):
    conv = session.new_conversation()
    session.send("the parrot is called Kiwi", settings=greedy(4)).wait()
    session.add_memory("Kiwi is a parrot")
    hits = session.search("parrot Kiwi")
    assert {(h.kind, h.conversation_id) for h in hits} >= {("message", conv.id), ("memory", None)}


# --- temporary chats -------------------------------------------------------------------------


def test_a_temporary_chat_leaves_no_row_no_replay_item_and_no_adapter_change(session):
    session.resume_learning()
    session.new_conversation()
    session.send("my cat is called Miso", settings=greedy(6)).wait()
    assert session.wait_for_learning(60)
    before = session.store.stats()
    versions = [v.version for v in session.adapter_versions()]
    log = len(session.learning_log(limit=1000))
    temp = session.new_conversation(temporary=True)
    assert temp.temporary and temp.id < 0
    for text in ("my secret is swordfish", "remember the secret"):
        reply = session.send(text, settings=greedy(6))
        reply.wait()
    assert session.wait_for_learning(60)
    assert [m.role for m in session.messages(temp.id)] == ["user", "assistant"] * 2
    assert any(c.temporary for c in session.conversations())
    assert session.store.stats() == before
    assert [v.version for v in session.adapter_versions()] == versions
    assert len(session.learning_log(limit=1000)) == log
    assert session.learning.pending() == []
    assert not session.search("swordfish")
    session.delete_conversation(temp.id)
    assert not any(c.temporary for c in session.conversations())


def test_a_temporary_chat_keeps_its_state_between_turns(session):
    session.new_conversation(temporary=True)
    session.send("hello", settings=greedy(6)).wait()
    reply = session.send("again", settings=greedy(6))
    reply.wait()
    assert not reply.reread


# --- settings --------------------------------------------------------------------------------


def test_settings_have_defaults_and_persist_encrypted(session, model_dir):
    assert session.settings.get("sampling.temperature") == 0.7
    assert session.settings.get("keys.send", "enter") == "enter"
    assert session.settings.sampling().memory_contrast == 0.5
    session.settings.set("sampling.temperature", 0.2)
    session.settings.set("sampling.memory_contrast", 0.0)
    session.settings.set("keys.send", "ctrl+s")
    with pytest.raises(ValueError, match="learning.strategy"):
        session.settings.set("learning.strategy", "everything")
    again = reopen(session, model_dir, learn=False)
    try:
        assert again.settings.get("sampling.temperature") == 0.2
        assert again.settings.get("keys.send") == "ctrl+s"
        assert again.settings.sampling().temperature == 0.2
        assert again.settings.sampling().memory_contrast == 0.0
        assert again.settings.get("learning.paused") is True
    finally:
        again.close()
    raw = b"".join(p.read_bytes() for p in (session.home).iterdir() if p.is_file())
    assert b"ctrl+s" not in raw and b"keys.send" not in raw


def test_learner_settings_follow_the_stored_settings(session):
    assert session.learning.learner_settings().tolerance == 0.02
    session.settings.set("learning.tolerance", 0.05)
    session.settings.set("learning.strategy", "replay")
    settings = session.learning.learner_settings()
    assert settings.tolerance == 0.05 and not settings.gate and settings.distill_weight == 0
    session.settings.set("learning.strategy", "frozen")
    assert session.learning.learner_settings() is None and not session.learning.enabled()


# --- the whole store -------------------------------------------------------------------------


def test_export_and_import_carry_conversations_states_and_learning(tmp_path, model_dir):
    first = open_session(tmp_path / "a", model_dir)
    try:
        conv = first.new_conversation("pets")
        first.send("my cat is called Miso", settings=greedy(6)).wait()
        assert first.wait_for_learning(60)
        logits = next_logits(first, conv.id, "and her name?")
        steps = []
        first.export(tmp_path / "backup.enc", "export pass", progress=lambda d, t: steps.append((d, t)))
        assert steps == [(0, 1), (1, 1)]
    finally:
        first.close()
    second = open_session(tmp_path / "b", model_dir)
    try:
        second.import_(tmp_path / "backup.enc", "export pass")
        assert [c.title for c in second.conversations()] == ["pets"]
        assert second.learning_status().version == 1
        assert torch.equal(next_logits(second, conv.id, "and her name?"), logits)
        second.select(conv.id)
        second.send("thanks", settings=greedy(4)).wait()
        assert second.wait_for_learning(60)
        assert second.learning_status().version == 2
    finally:
        second.close()


def test_reset_destroys_everything_and_closes_the_session(tmp_path, model_dir):
    s = open_session(tmp_path / "home", model_dir)
    s.new_conversation()
    s.send("something private", settings=greedy(4)).wait()
    s.reset()
    assert s.closed and not Session.exists(tmp_path / "home")


def test_change_passphrase(tmp_path, model_dir):
    s = open_session(tmp_path / "home", model_dir, learn=False)
    s.change_passphrase(PASSPHRASE, "a new one")
    s.close()
    with pytest.raises(WrongPassphrase):
        Session.open(PASSPHRASE, home=tmp_path / "home", model_dir=model_dir)
    Session.open("a new one", home=tmp_path / "home", model_dir=model_dir, learn=False).close()
