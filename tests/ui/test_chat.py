"""The chat screen: sending, streaming, stopping, recalling, the status bar, responsiveness."""

from __future__ import annotations

import threading

from textual.widgets import Static

from assistant.errors import ReplyInProgress
from tests.ui.conftest import (
    assistant_views,
    fill,
    last_reply_source,
    notifications,
    settle,
    type_text,
    unlock,
    wait_until,
)
from tests.ui.fake_session import FakeOpener, pieces_of, reply_for
from ui.screens.chat import ChatScreen
from ui.widgets.chat_input import ChatInput
from ui.widgets.chat_log import MessageView
from ui.widgets.status_bar import StatusBar


async def send(pilot, text: str) -> None:
    await fill(pilot, text)
    await pilot.press("enter")


async def test_enter_sends_and_the_reply_appears_as_markdown(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "I like green tea")
        await settle(pilot)
        assert seeded.session.sent[-1] == "I like green tea"
        assert last_reply_source(app) == reply_for("I like green tea")
        views = list(app.screen.query(MessageView))
        assert [v.role for v in views[-2:]] == ["user", "assistant"]
        assert app.screen.query_one(ChatInput).text == ""


async def test_the_reply_streams_piece_by_piece(seeded, new_app):
    hold = threading.Event()
    seeded.configure["hold"] = hold
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "tell me something")
        first = pieces_of(reply_for("tell me something"))[0]
        await wait_until(pilot, lambda: last_reply_source(app) == first)
        assert app.screen.replying
        hold.set()
        await settle(pilot)
        assert last_reply_source(app) == reply_for("tell me something")
        assert not app.screen.replying


async def test_ctrl_j_inserts_a_newline_instead_of_sending(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await type_text(pilot, "one")
        await pilot.press("ctrl+j")
        await type_text(pilot, "two")
        assert app.screen.query_one(ChatInput).text == "one\ntwo"
        assert seeded.session.sent == []
        await pilot.press("enter")
        await settle(pilot)
        assert seeded.session.sent == ["one\ntwo"]


async def test_escape_stops_a_reply_and_keeps_what_was_shown_marked_stopped(seeded, new_app):
    seeded.configure["hold"] = threading.Event()  # never set: the reply waits after its first piece
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "write a long story")
        first = pieces_of(reply_for("write a long story"))[0]
        await wait_until(pilot, lambda: last_reply_source(app) == first)
        await pilot.press("escape")
        await settle(pilot)
        session = seeded.session
        stored = session.messages(session.current.id)[-1]
        assert stored.role == "assistant" and stored.cut and stored.text == first
        view = assistant_views(app)[-1]
        assert view.cut and view.query(".cut")
        assert not app.screen.replying


async def test_up_recalls_the_last_message_for_editing(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "first message")
        await settle(pilot)
        await send(pilot, "second message")
        await settle(pilot)
        box = app.screen.query_one(ChatInput)
        await pilot.press("up")
        assert box.text == "second message"
        await pilot.press("up")
        assert box.text == "first message"
        await pilot.press("down")
        assert box.text == "second message"
        await type_text(pilot, "!")
        await pilot.press("enter")
        await settle(pilot)
        assert seeded.session.sent[-1] == "second message!"


async def test_the_status_bar_shows_model_speed_learning_and_memories(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(120, 30)) as pilot:
        await unlock(pilot)
        bar = str(app.screen.query_one(StatusBar).render())
        assert "liquid-14m (fake)" in bar and "– tok/s" in bar and "learning: idle v3" in bar and "2 memories" in bar
        await send(pilot, "hello")
        await settle(pilot)
        bar = str(app.screen.query_one(StatusBar).render())
        assert "42.0 tok/s" in bar and "learning: idle v4" in bar


async def test_learning_events_from_another_thread_update_the_status_bar(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(120, 30)) as pilot:
        await unlock(pilot)
        thread = threading.Thread(target=seeded.session.pause_learning)
        thread.start()
        thread.join()
        await settle(pilot)
        assert app.screen.query_one(StatusBar).learning == "paused"


async def test_the_input_stays_responsive_while_a_reply_is_written(seeded, new_app):
    hold = threading.Event()
    seeded.configure["hold"] = hold
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "think hard")
        await wait_until(pilot, lambda: app.screen.replying and last_reply_source(app))
        await type_text(pilot, "next question")
        assert app.screen.query_one(ChatInput).text == "next question"
        await pilot.press("enter")  # refused while the reply runs, and said so
        assert any("still being written" in n for n in notifications(app))
        assert seeded.session.sent == ["think hard"]
        hold.set()
        await settle(pilot)
        assert app.screen.query_one(ChatInput).text == "next question"


async def test_a_failed_reply_is_reported_and_the_chat_goes_on(seeded, new_app):
    """Regression: a reply that failed before its first piece froze the chat screen (see `stop_stream`)."""
    seeded.configure["fail_next"] = ReplyInProgress("the previous reply is still being generated")
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "hello")
        await settle(pilot)
        assert any(n.startswith("No reply: the previous reply") for n in notifications(app))
        assert not app.screen.replying
        await send(pilot, "hello again")
        await settle(pilot)
        assert last_reply_source(app) == reply_for("hello again")


async def test_the_first_run_chat_starts_empty_with_a_hint(opener, new_app):
    app = new_app(opener, passphrase="plum kettle orbit seven")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        assert "Type a message" in str(app.screen.query_one(".empty", Static).render())
        await send(pilot, "hi")
        await settle(pilot)
        assert not app.screen.query(".empty")
        assert [c.title for c in opener.session.conversations()] == ["hi"]


async def test_quitting_during_a_reply_stops_it_and_closes_the_session(seeded, new_app):
    seeded.configure["hold"] = threading.Event()
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "a long one")
        await wait_until(pilot, lambda: last_reply_source(app))
        await pilot.press("ctrl+q")
    session = seeded.session
    assert session.closed
    assert session.messages(session.current.id)[-1].cut


def test_fake_opener_is_what_the_app_expects():
    """The fake offers what `make_app` documents for an opener."""
    opener = FakeOpener()
    assert callable(opener) and callable(opener.exists)
