"""Snapshots of the main screens at 80x24 and 120x40 (pytest-textual-snapshot; Textual pinned).

Update after a deliberate change with `pytest tests/ui/test_snapshots.py --snapshot-update` and
look at the SVGs in `__snapshots__/` before committing them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.ui import fake_session
from tests.ui.conftest import PASSPHRASE, fill, no_voice, settle, unlock, wait_until
from tests.ui.fake_session import FakeOpener
from ui.app import make_app

SIZES = [(80, 24), (120, 40)]
KEYS = Path("/nonexistent-assistant-home/keys.json")  # shown on the help screen: must not vary


@pytest.fixture(autouse=True)
def _fixed_home_dir(monkeypatch):
    monkeypatch.setenv("HOME", "/home/user")


def steady(run_before=None):
    """`run_before`, then the cursors stop blinking: a blink caught mid-way would change the snapshot."""

    async def run(pilot):
        if run_before is not None:
            await run_before(pilot)
        for widget in pilot.app.screen.query("Input, TextArea"):
            widget.cursor_blink = False
        await pilot.pause()

    return run


def app_for(opener: FakeOpener, **kwargs):
    kwargs.setdefault("theme", "dark")
    return make_app(opener, keys_path=KEYS, voice_factory=no_voice, **kwargs)


def seeded_app(**kwargs):
    fake_session.seed(passphrase=PASSPHRASE)
    return app_for(FakeOpener(), **kwargs)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_first_run(snap_compare, size):
    assert snap_compare(app_for(FakeOpener()), terminal_size=size, run_before=steady())


def test_unlock_after_a_wrong_passphrase(snap_compare):
    async def run_before(pilot):
        await unlock(pilot, "not the passphrase")

    assert snap_compare(seeded_app(), terminal_size=(80, 24), run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_chat(snap_compare, size):
    async def run_before(pilot):
        await unlock(pilot)

    assert snap_compare(seeded_app(), terminal_size=size, run_before=steady(run_before))


def test_chat_light_theme(snap_compare):
    async def run_before(pilot):
        await unlock(pilot)

    assert snap_compare(seeded_app(theme="light"), terminal_size=(80, 24), run_before=steady(run_before))


def test_chat_with_a_stopped_reply(snap_compare):
    fake_session.seed(passphrase=PASSPHRASE)
    opener = FakeOpener(hold=threading.Event())

    async def run_before(pilot):
        await unlock(pilot)
        await fill(pilot, "Tell me a long story")
        await pilot.press("enter")
        await wait_until(pilot, lambda: pilot.app.screen.replying and pilot.app.screen.query("MessageView.-assistant Markdown"))
        await pilot.pause(0.1)
        await pilot.press("escape")
        await settle(pilot)

    assert snap_compare(app_for(opener), terminal_size=(120, 40), run_before=steady(run_before))


def test_temporary_chat(snap_compare):
    async def run_before(pilot):
        await unlock(pilot)
        await pilot.press("ctrl+t")
        await fill(pilot, "Just between us")
        await pilot.press("enter")
        await settle(pilot)
        pilot.app.clear_notifications()

    assert snap_compare(seeded_app(), terminal_size=(80, 24), run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_memory_screen(snap_compare, size):
    async def run_before(pilot):
        await unlock(pilot)
        await pilot.press("f3")
        await settle(pilot)

    assert snap_compare(seeded_app(), terminal_size=size, run_before=steady(run_before))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_learning_screen(snap_compare, size):
    async def run_before(pilot):
        await unlock(pilot)
        await pilot.press("f4")
        await settle(pilot)

    assert snap_compare(seeded_app(), terminal_size=size, run_before=steady(run_before))


def test_help(snap_compare):
    async def run_before(pilot):
        await unlock(pilot)
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(seeded_app(), terminal_size=(80, 24), run_before=steady(run_before))


def test_delete_conversation_confirmation(snap_compare):
    async def run_before(pilot):
        await unlock(pilot)
        await pilot.press("f8")
        await settle(pilot)

    assert snap_compare(seeded_app(), terminal_size=(80, 24), run_before=steady(run_before))


def test_export_dialog(snap_compare):
    async def run_before(pilot):
        await unlock(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)

    assert snap_compare(seeded_app(), terminal_size=(80, 24), run_before=steady(run_before))


def test_reset_confirmation(snap_compare):
    async def run_before(pilot):
        await unlock(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.click("#reset")
        await settle(pilot)

    assert snap_compare(seeded_app(), terminal_size=(80, 24), run_before=steady(run_before))
