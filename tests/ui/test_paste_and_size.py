"""Huge or hostile pastes and small terminals neither crash nor freeze the app."""

from __future__ import annotations

import time

from textual import events

from tests.ui.conftest import notifications, settle, unlock
from ui.screens.chat import ChatScreen
from ui.widgets.chat_input import ChatInput
from ui.widgets.sanitize import MAX_MESSAGE_CHARS
from ui.widgets.status_bar import StatusBar

MEGABYTE = ("All work and no play makes Jack a dull boy. " * 24_000)[: 1024 * 1024]


async def paste(pilot, widget, text: str) -> None:
    widget.post_message(events.Paste(text))
    await pilot.pause()


async def test_pasting_a_megabyte_is_cut_to_the_limit_with_a_message(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        box = app.screen.query_one(ChatInput)
        started = time.perf_counter()
        await paste(pilot, box, MEGABYTE)
        assert time.perf_counter() - started < 10
        assert len(box.text) == MAX_MESSAGE_CHARS
        assert any("cut to the first 20,000 characters" in n for n in notifications(app))
        await pilot.press("enter")
        await settle(pilot)
        assert len(seeded.session.sent[-1]) == MAX_MESSAGE_CHARS
        assert box.text == ""


async def test_a_paste_into_a_full_box_is_refused(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        box = app.screen.query_one(ChatInput)
        await paste(pilot, box, MEGABYTE)
        await paste(pilot, box, "more")
        assert len(box.text) == MAX_MESSAGE_CHARS
        assert any("the paste was refused" in n for n in notifications(app))


async def test_control_characters_and_escape_sequences_are_removed_from_a_paste(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        box = app.screen.query_one(ChatInput)
        await paste(pilot, box, "\x1b[31mred\x1b[0m\x00\x07 ok\r\nnext\u202eline\x1b]0;title\x07")
        assert box.text == "red ok\nnextline"
        assert any("control characters removed" in n for n in notifications(app))


async def test_a_paste_into_the_passphrase_field_is_cleaned_and_bounded(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        field = app.screen.query_one("#passphrase")
        await paste(pilot, field, "\x1b[2Jsecret\nsecond line")
        assert field.value == "secret"
        await paste(pilot, field, MEGABYTE)
        assert len(field.value) == 1_000


async def test_shrinking_to_80x24_keeps_the_chat_usable(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        for widget in (screen.query_one(ChatInput), screen.query_one(StatusBar), screen.query_one("#log"), screen.query_one("#sidebar")):
            region = widget.region
            assert region.width > 0 and region.height > 0
            assert region.right <= 80 and region.bottom <= 24
        assert screen.query_one(ChatInput).region.width >= 40
        await pilot.press("h", "i", "enter")
        await settle(pilot)
        assert seeded.session.sent[-1] == "hi"


async def test_every_screen_fits_in_80x24(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(pilot)
        for key in ("f3", "f4"):
            await pilot.press(key)
            await settle(pilot)
            for widget in app.screen.query("Button, Footer, DataTable, Input"):
                if widget.display and widget.region.width:
                    assert widget.region.right <= 80 and widget.region.bottom <= 24, widget
