"""The memory screen: browse, search, add, edit, delete (with unlearning progress), export, import, reset."""

from __future__ import annotations

import json

from textual.widgets import Checkbox, DataTable, Input, Static, TabbedContent

from tests.ui.conftest import PASSPHRASE, notifications, settle, unlock, wait_until
from tests.ui.fake_session import FakeSession
from ui.screens.chat import ChatScreen
from ui.screens.dialogs import ConfirmDialog, ExportDialog, ImportDialog, TextPrompt
from ui.screens.memory import MemoryScreen
from ui.screens.unlock import UnlockScreen


BUTTON_REST = 0.25
"""A button ignores presses for 0.2 s after one (its press animation); a person never notices."""


def cells(app, table_id: str, column: int = 0) -> list[str]:
    table = app.screen.query_one(f"#{table_id}", DataTable)
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


async def open_memory(pilot) -> None:
    await unlock(pilot)
    await pilot.press("f3")
    await settle(pilot)
    assert isinstance(pilot.app.screen, MemoryScreen)


async def test_f3_lists_memories_and_conversations_and_escape_returns(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        assert cells(app, "memories") == ["My sister is called Ana.", "I prefer short answers."]
        assert cells(app, "conversations") == ["Python questions", "Trip to Lisbon"]
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)


async def test_add_a_memory(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, TextPrompt)
        app.screen.query_one("#text", Input).value = "I live in Porto."
        await pilot.press("enter")
        await settle(pilot)
        assert cells(app, "memories")[-1] == "I live in Porto."
        assert [m.text for m in seeded.session.memories()][-1] == "I live in Porto."


async def test_edit_the_selected_memory(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        await pilot.press("down", "e")
        field = app.screen.query_one("#text", Input)
        assert field.value == "I prefer short answers."
        field.value = "I prefer detailed answers."
        await pilot.press("enter")
        await settle(pilot)
        assert cells(app, "memories") == ["My sister is called Ana.", "I prefer detailed answers."]


async def test_delete_a_memory_asks_first_and_shows_unlearning_progress(seeded, new_app):
    seeded.configure["learn_delay"] = 2.0  # wide enough to be seen on a loaded CPU
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmDialog)
        assert "My sister is called Ana." in str(app.screen.query_one(".body", Static).render())
        await pilot.click("#confirm")
        row = app.screen.query_one("#progress-row")
        await wait_until(pilot, lambda: row.has_class("-active"))
        assert "Unlearning" in str(app.screen.query_one("#progress-label", Static).render())
        await settle(pilot)
        assert not row.has_class("-active")
        assert cells(app, "memories") == ["I prefer short answers."]


async def test_delete_a_conversation_from_the_conversations_tab(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        app.screen.query_one(TabbedContent).active = "conversations-tab"
        app.screen.query_one("#conversations", DataTable).focus()
        await pilot.press("down", "d")
        assert "Trip to Lisbon" in str(app.screen.query_one(".body", Static).render())
        await pilot.click("#confirm")
        await settle(pilot)
        assert cells(app, "conversations") == ["Python questions"]


async def test_search_asks_the_recall_index_and_opens_a_hit(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        await pilot.press("slash")
        app.screen.query_one("#search", Input).value = "Lisbon"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one(TabbedContent).active == "results-tab"
        assert cells(app, "results")[0] == "message"
        assert "Lisbon" in cells(app, "results", 1)[0]
        await pilot.press("enter")  # open the hit's conversation
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        assert app.screen.conversation_id == seeded.session.search("Lisbon")[0].conversation_id


async def test_typing_in_the_search_box_filters_the_lists(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        app.screen.query_one("#search", Input).value = "sister"
        await pilot.pause()
        assert cells(app, "memories") == ["My sister is called Ana."]


async def fill_export(app, path, first: str, second: str) -> None:
    dialog = app.screen
    assert isinstance(dialog, ExportDialog)
    dialog.query_one("#path", Input).value = str(path)
    dialog.query_one("#passphrase", Input).value = first
    dialog.query_one("#repeat", Input).value = second


async def test_export_asks_for_its_passphrase_twice_and_writes_the_file(seeded, new_app, tmp_path):
    target = tmp_path / "backup.enc"
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        await pilot.press("x")
        await fill_export(app, target, "export pass", "export typo")
        await pilot.click("#ok")
        error = app.screen.query_one(".error", Static)
        await wait_until(pilot, lambda: "differ" in str(error.render()))
        await fill_export(app, target, "export pass", "export pass")
        await pilot.pause(BUTTON_REST)
        await pilot.click("#ok")
        await settle(pilot)
        assert isinstance(app.screen, MemoryScreen)
        assert json.loads(target.read_text())["passphrase"] == "export pass"
        assert f"Exported to {target}." in notifications(app)
        assert not app.screen.query_one("#progress-row").has_class("-active")


async def test_a_plaintext_export_is_confirmed_explicitly(seeded, new_app, tmp_path):
    target = tmp_path / "readable"
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        await pilot.press("x")
        await fill_export(app, target, "", "")
        app.screen.query_one("#plaintext", Checkbox).value = True
        await pilot.click("#ok")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "unencrypted" in str(app.screen.query_one(".title", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert not target.exists()


async def test_import_replacing_is_confirmed_and_a_wrong_passphrase_changes_nothing(seeded, new_app, tmp_path):
    export = tmp_path / "backup.enc"
    export.write_text(json.dumps({"passphrase": "right", "memories": ["Imported fact."], "conversations": ["Old chat"]}))
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        await pilot.press("i")
        assert isinstance(app.screen, ImportDialog)
        app.screen.query_one("#path", Input).value = str(export)
        app.screen.query_one("#passphrase", Input).value = "wrong"
        await pilot.click("#ok")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await settle(pilot)
        await pilot.click("#confirm")
        await settle(pilot)
        assert any(n.startswith("Import failed, nothing was changed") for n in notifications(app))
        assert len(cells(app, "memories")) == 2

        await pilot.press("i")
        app.screen.query_one("#path", Input).value = str(export)
        app.screen.query_one("#passphrase", Input).value = "right"
        await pilot.click("#ok")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await settle(pilot)
        await pilot.click("#confirm")
        await settle(pilot)
        assert cells(app, "memories") == ["Imported fact."]
        assert "Imported." in notifications(app)


async def test_reset_requires_typing_reset_and_starts_over(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        await pilot.click("#reset")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        dialog = app.screen
        await settle(pilot)
        await pilot.click("#confirm")
        error = dialog.query_one(".error", Static)
        await wait_until(pilot, lambda: 'Type "reset"' in str(error.render()))
        assert FakeSession.exists()
        dialog.query_one("#word", Input).value = "reset"
        await pilot.pause(BUTTON_REST)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, UnlockScreen) and app.screen.create
        assert not FakeSession.exists()
        assert app.session is None
        await pilot.press("escape")
        assert app.screen.query_one("#passphrase").has_focus
        _ = PASSPHRASE


# --- where a memory came from, its use and status; merging ----------------------------------


async def test_memories_show_source_use_and_status(seeded, new_app):
    seeded.configure["auto_memories"] = True
    app = new_app(seeded)
    async with app.run_test(size=(120, 30)) as pilot:
        await unlock(pilot)
        session = seeded.session
        conv = session.new_conversation("Moving house")
        for text in ("I live in Tromso.", "I live in Oslo now."):
            for _ in session.send(text):
                pass
        await pilot.press("f3")
        await settle(pilot)
        assert cells(app, "memories")[-2:] == ["I live in Tromso.", "I live in Oslo now."]
        assert cells(app, "memories", 1)[-2:] == [conv.title] * 2
        assert cells(app, "memories", 1)[0] == "typed in"
        assert cells(app, "memories", 3)[-1] == "0"
        assert cells(app, "memories", 4)[-2:] == ["superseded", "current"]


async def test_marking_two_memories_merges_them_into_one(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        await pilot.press("m")
        assert cells(app, "memories")[0].startswith("[m] ")
        await pilot.press("down", "m")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPrompt))
        assert app.screen.query_one("#text", Input).value == "My sister is called Ana. I prefer short answers."
        app.screen.query_one("#text", Input).value = "My sister is Ana; I like short answers."
        await pilot.press("enter")
        await settle(pilot)
        assert [m.text for m in seeded.session.memories()] == ["My sister is Ana; I like short answers."]
        await wait_until(pilot, lambda: cells(app, "memories") == ["My sister is Ana; I like short answers."])


async def test_unmarking_a_memory_cancels_the_merge(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_memory(pilot)
        await pilot.press("m", "m")
        assert not isinstance(app.screen, TextPrompt)
        assert cells(app, "memories") == ["My sister is called Ana.", "I prefer short answers."]
