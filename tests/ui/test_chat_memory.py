"""The chat's memory lines: "remembered: ..." with its Undo, and "used N memories" opening the
snippets of the reply's memory block."""

from __future__ import annotations

from textual.widgets import Button, Static

from tests.ui.conftest import fill, settle, unlock, wait_until
from tests.ui.fake_session import FakeOpener
from ui.screens.chat_memory import MemoryBlockDialog, RememberedLine
from ui.widgets.chat_log import MessageView


async def send(pilot, text: str) -> None:
    await fill(pilot, text)
    await pilot.press("enter")
    await settle(pilot)


async def test_a_statement_shows_a_remembered_line(seeded: FakeOpener, new_app):
    seeded.configure["auto_memories"] = True
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "My manager is Priya.")
        lines = list(app.screen.query(RememberedLine))
        assert [line.memory.text for line in lines] == ["My manager is Priya."]
        assert "remembered: My manager is Priya." in str(lines[0].query_one(".text", Static).render())


async def test_a_question_shows_no_remembered_line(seeded: FakeOpener, new_app):
    seeded.configure["auto_memories"] = True
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "My manager is who?")
        assert not app.screen.query(RememberedLine)


async def test_a_temporary_chat_shows_no_remembered_line(seeded: FakeOpener, new_app):
    seeded.configure["auto_memories"] = True
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("ctrl+t")
        await send(pilot, "My manager is Priya.")
        assert not app.screen.query(RememberedLine)
        assert not [m for m in seeded.session.memories() if "Priya" in m.text]


async def test_undo_forgets_the_memory(seeded: FakeOpener, new_app):
    seeded.configure["auto_memories"] = True
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "My manager is Priya.")
        line = app.screen.query_one(RememberedLine)
        line.query_one(Button).press()
        await settle(pilot)
        await wait_until(pilot, lambda: not line.query(Button))
        assert not [m for m in seeded.session.memories() if "Priya" in m.text]
        assert "forgotten: My manager is Priya." in str(line.query_one(".text", Static).render())


async def test_used_memories_opens_exactly_the_block(seeded: FakeOpener, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "What is my sister called")
        label = list(app.screen.query(MessageView))[-1].query_one(".role", Static)
        assert "used 1 memory" in str(label.render())
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.screen, MemoryBlockDialog))
        assert app.screen.snippets == ["My sister is called Ana."]
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, MemoryBlockDialog))


async def test_clicking_used_memories_opens_the_block(seeded: FakeOpener, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await send(pilot, "What is my sister called")
        label = list(app.screen.query(MessageView))[-1].query_one(".role", Static)
        await pilot.click(label, offset=(len("Assistant · ") + 2, 0))
        await wait_until(pilot, lambda: isinstance(app.screen, MemoryBlockDialog))
        assert app.screen.snippets == ["My sister is called Ana."]


# --- on the real session (a tiny model, the real detector) --------------------------------------


async def test_on_the_real_session_a_statement_is_remembered_and_undo_forgets_it(tmp_path, new_app):
    import pytest

    pytest.importorskip("assistant.extraction")
    from tests.ui.test_real_session import PASSPHRASE as REAL_PASSPHRASE
    from tests.ui.test_real_session import real_opener, wait_for_reply
    from tests.assistant.session_support import tiny_model_dir
    from ui.screens.chat import ChatScreen

    opener = real_opener(tmp_path / "home", tiny_model_dir())
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for _ in range(2):  # first run: the passphrase twice
            await fill(pilot, REAL_PASSPHRASE)
            await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen), timeout=60)
        await fill(pilot, "My sister Ilse is a veterinarian.")
        await pilot.press("enter")
        await wait_for_reply(pilot)
        [line] = list(app.screen.query(RememberedLine))
        assert line.memory.text == "My sister Ilse is a veterinarian."
        assert [m.text for m in app.session.memories()] == [line.memory.text]
        line.query_one(Button).press()
        await wait_until(pilot, lambda: not line.query(Button), timeout=30)
        assert app.session.memories() == []
