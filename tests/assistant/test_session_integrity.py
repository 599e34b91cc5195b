"""A damaged record costs only itself (issue 16): the session skips it, says so, and a damaged
state is re-read from the history instead of failing the turn."""

from __future__ import annotations

import sqlite3

import pytest

from .session_support import greedy, open_session, tiny_model_dir


@pytest.fixture
def session(tmp_path):
    s = open_session(tmp_path / "home", tiny_model_dir())
    s.pause_learning()
    yield s
    s.close()


def flip(session, table: str, column: str, key: str, ident) -> None:
    """Flip one byte of a stored envelope with a connection of its own (a disk error)."""
    conn = sqlite3.connect(session.store.path)
    try:
        with conn:
            (blob,) = conn.execute(f"SELECT {column} FROM {table} WHERE {key} = ?", [ident]).fetchone()
            data = bytearray(blob)
            data[len(data) // 2] ^= 0x40
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", [bytes(data), ident])
    finally:
        conn.close()


def test_a_damaged_state_is_re_read_from_the_history(session):
    """Regression (issue 16): a damaged state blob failed `ask --chat` instead of re-reading."""
    conv = session.new_conversation()
    session.send("my bike is blue", settings=greedy(4)).wait()
    flip(session, "states", "blob", "conversation_id", conv.id)
    reply = session.send("what colour is it?", settings=greedy(4))
    reply.wait()
    assert reply.reread and reply.text is not None
    events = [e.detail for e in session.learning_log() if e.kind == "state"]
    assert any("damaged" in e for e in events)
    assert session.store.load_state(conv.id) is not None  # saved again, whole


def test_a_damaged_title_leaves_only_its_conversation_out_of_the_list(session):
    """Regression (issue 16): one flipped byte in a title broke the whole conversation list."""
    first = session.new_conversation("first")
    second = session.new_conversation("second")
    flip(session, "conversations", "payload", "id", first.id)
    assert [c.id for c in session.conversations()] == [second.id]
    assert len(session.damaged_records()) == 1 and "conversations" in session.damaged_records()[0]


def test_a_damaged_message_leaves_the_rest_of_its_conversation_readable(session):
    """Regression (issue 16): one damaged message made its whole conversation unreadable."""
    conv = session.new_conversation()
    session.send("one", settings=greedy(3)).wait()
    session.send("two", settings=greedy(3)).wait()
    first = session.messages(conv.id)[0]
    flip(session, "messages", "payload", "id", first.id)
    texts = [m.text for m in session.messages(conv.id)]
    assert "one" not in texts and "two" in texts and len(texts) == 3


def test_a_damaged_setting_reads_as_its_default(session):
    """Regression (issue 16): one flipped byte in a settings envelope stopped `ask` and `history`."""
    session.store.set_setting("sampling.temperature", 0.3)
    ident = session.store._codec.setting_id("sampling.temperature")
    flip(session, "settings", "payload", "id", ident)
    assert session.store.get_setting("sampling.temperature", "default") == "default"
    session.settings.sampling()  # does not raise
    assert any("settings" in line for line in session.damaged_records())
