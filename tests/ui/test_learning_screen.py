"""The learning screen: versions and sparklines, pause/resume, roll back, the explanation."""

from __future__ import annotations

from textual.widgets import Button, DataTable, Sparkline, Static

from tests.ui.conftest import settle, unlock
from ui.screens.dialogs import ConfirmDialog
from ui.screens.learning import EXPLANATION, LearningScreen


async def open_learning(pilot) -> None:
    await unlock(pilot)
    await pilot.press("f4")
    await settle(pilot)
    assert isinstance(pilot.app.screen, LearningScreen)


async def test_f4_shows_the_versions_with_their_metrics_and_sparklines(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_learning(pilot)
        table = app.screen.query_one("#versions", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["3", "2", "1"]
        assert rows[0][2:6] == ["2.750", "2.500", "2.500", "in use"]
        assert app.screen.query_one("#personal", Sparkline).data == [3.05, 2.9, 2.75]
        assert len(app.screen.query_one("#anchor", Sparkline).data) == 3
        assert "State: idle · using version 3" in str(app.screen.query_one("#state", Static).render())


async def test_the_screen_explains_learning_in_plain_words(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_learning(pilot)
        text = str(app.screen.query_one("#explanation", Static).render())
        assert text == EXPLANATION
        assert "Pause stops learning" in text and "Roll back" in text and "never learned from" in text


async def test_pause_and_resume(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_learning(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert seeded.session.learning_status().state == "paused"
        assert str(app.screen.query_one("#pause", Button).label) == "Resume"
        await pilot.press("p")
        await settle(pilot)
        assert seeded.session.learning_status().state == "idle"
        assert str(app.screen.query_one("#pause", Button).label) == "Pause"


async def test_roll_back_to_the_selected_version_after_confirming(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_learning(pilot)
        await pilot.press("down", "r")
        assert isinstance(app.screen, ConfirmDialog)
        assert "version 2" in str(app.screen.query_one(".title", Static).render())
        await pilot.press("enter")  # not destructive: Enter confirms
        await settle(pilot)
        status = seeded.session.learning_status()
        assert (status.state, status.version) == ("rolled back", 2)
        assert "rolled back" in str(app.screen.query_one("#state", Static).render())


async def test_cancelling_a_roll_back_changes_nothing(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_learning(pilot)
        await pilot.press("down", "r", "escape")
        await settle(pilot)
        assert seeded.session.learning_status().version == 3


async def test_going_back_to_the_base_model(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_learning(pilot)
        await pilot.click("#base")
        await pilot.press("enter")
        await settle(pilot)
        assert seeded.session.learning_status().version is None
        assert "the base model" in str(app.screen.query_one("#state", Static).render())


async def test_the_screen_follows_learning_as_it_happens(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_learning(pilot)
        seeded.session.add_memory("x")  # no learning; then a delete, which unlearns in the background
        seeded.session.delete_memory(seeded.session.memories()[-1].id)
        await settle(pilot)
        log = app.screen.query_one("#log", DataTable)
        assert str(log.get_row_at(0)[1]) == "unlearned"
