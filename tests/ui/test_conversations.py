"""The conversation list: new, choose, rename, delete (confirmed), temporary chat."""

from __future__ import annotations

from textual.widgets import Input, OptionList, Static

from tests.ui.conftest import fill, settle, unlock
from tests.ui.fake_session import reply_for
from ui.screens.chat import ChatScreen
from ui.screens.dialogs import ConfirmDialog, TextPrompt
from ui.widgets.chat_log import MessageView


def titles(app) -> list[str]:
    listing = app.screen.query_one("#conversations", OptionList)
    return [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]


def chat_title(app) -> str:
    return str(app.screen.query_one("#chat-title", Static).render())


async def send(pilot, text: str) -> None:
    await fill(pilot, text)
    await pilot.press("enter")
    await settle(pilot)


async def test_the_latest_conversation_opens_with_its_history(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        assert titles(app) == ["Python questions", "Trip to Lisbon"]
        assert chat_title(app) == "Python questions"
        texts = [v.markdown.source for v in app.screen.query(MessageView)]
        assert texts == ["How do I reverse a list in Python?", reply_for("How do I reverse a list in Python?")]


async def test_choosing_a_conversation_in_the_list_shows_its_messages(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("ctrl+o", "down", "enter")
        await settle(pilot)
        assert chat_title(app) == "Trip to Lisbon"
        assert len(app.screen.query(MessageView)) == 4
        assert app.screen.query_one("#input").has_focus


async def test_new_conversation_starts_empty_and_exists_once_a_message_is_sent(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("ctrl+n")
        assert chat_title(app) == "New conversation"
        assert not app.screen.query(MessageView)
        assert len(titles(app)) == 2
        await send(pilot, "Plan my week")
        assert titles(app)[0] == "Plan my week"
        assert chat_title(app) == "Plan my week"
        assert len(seeded.session.messages(seeded.session.current.id)) == 2


async def test_rename_asks_for_a_title_and_renames(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("f2")
        assert isinstance(app.screen, TextPrompt)
        field = app.screen.query_one("#text", Input)
        assert field.value == "Python questions"
        field.value = "Coding help"
        await pilot.press("enter")
        await settle(pilot)
        assert titles(app)[0] == "Coding help"
        assert chat_title(app) == "Coding help"


async def test_escape_cancels_a_rename(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("f2", "escape")
        assert isinstance(app.screen, ChatScreen)
        assert titles(app)[0] == "Python questions"


async def test_delete_asks_first_and_cancelling_keeps_the_conversation(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("f8")
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.query_one("#cancel").has_focus  # Enter on a destructive dialog does not delete
        await pilot.press("enter")
        await settle(pilot)
        assert len(titles(app)) == 2


async def test_delete_confirmed_removes_the_conversation_and_unlearns_it(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("f8")
        await pilot.click("#confirm")
        await settle(pilot)
        assert titles(app) == ["Trip to Lisbon"]
        assert chat_title(app) == "Trip to Lisbon"
        kinds = [e.kind for e in seeded.session.learning_log()]
        assert kinds[-3:] == ["unlearning", "unlearning", "unlearned"]


async def test_a_temporary_chat_is_clearly_marked_and_not_learned_from(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        versions = len(seeded.session.adapter_versions())
        await pilot.press("ctrl+t")
        assert "TEMPORARY CHAT" in chat_title(app) and "not learned from" in chat_title(app)
        assert app.screen.query_one("#chat-title").has_class("-temporary")
        await send(pilot, "Just between us")
        assert seeded.session.current.temporary
        assert "TEMPORARY CHAT" in chat_title(app)
        assert titles(app)[0] == "TEMP Just between us"
        assert len(seeded.session.adapter_versions()) == versions
