"""The command palette, F1 help, key bindings from keys.json, and the light and dark themes."""

from __future__ import annotations

import json

from textual.command import CommandPalette

from tests.ui.conftest import notifications, settle, type_text, unlock
from ui.app import known_binding_ids, palette_commands
from ui.screens.chat import ChatScreen
from ui.screens.dialogs import TextPrompt
from ui.screens.help import HelpScreen
from ui.screens.memory import MemoryScreen


async def test_the_palette_offers_every_action(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        expected = {title for title, *_ in palette_commands(unlocked=True)}
        assert expected <= titles
        for needed in ("New conversation", "Temporary chat", "Delete conversation", "Add memory", "Export",
                       "Import", "Reset", "Pause or resume learning", "Roll back learning", "Push to talk"):
            assert needed in titles


async def test_the_palette_runs_an_action_on_another_screen(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "add memory")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TextPrompt)
        assert isinstance(app.screen_stack[-2], MemoryScreen)


async def test_the_palette_before_unlock_offers_only_what_works_locked(opener, new_app):
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "New conversation" not in titles and "Quit" in titles


async def test_f1_lists_every_key(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        rows = app.screen.rows
        assert {ident for *_, ident in rows if ident} == known_binding_ids()
        keys = {keys for _, keys, _, _ in rows}
        for key in ("ctrl+j, shift+enter", "enter", "escape", "f3", "f4", "ctrl+t", "up", "down"):
            assert key in keys
        assert app.screen.query_one("#keys").row_count == len(rows)
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)


async def test_keys_json_rebinds_a_key(seeded, new_app, keys_path):
    keys_path.write_text(json.dumps({"chat.new": "ctrl+g", "app.memory": "f10"}))
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("ctrl+g")
        assert str(app.screen.query_one("#chat-title").render()) == "New conversation"
        await pilot.press("f3")
        assert isinstance(app.screen, ChatScreen)
        await pilot.press("f10")
        await settle(pilot)
        assert isinstance(app.screen, MemoryScreen)
        await pilot.press("f1")
        assert ("Chat", "ctrl+g", "New", "chat.new") in app.screen.rows


async def test_a_broken_keys_json_is_reported_and_left_alone(seeded, new_app, keys_path):
    keys_path.write_text('{"chat.new": ')
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        assert any("not valid JSON" in n for n in notifications(app))
        await pilot.press("ctrl+n")
        assert str(app.screen.query_one("#chat-title").render()) == "New conversation"
    assert keys_path.read_text() == '{"chat.new": '


async def test_an_unknown_binding_id_in_keys_json_is_reported(seeded, new_app, keys_path):
    keys_path.write_text(json.dumps({"chat.nwe": "ctrl+k"}))
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert any("no binding 'chat.nwe'" in n for n in notifications(app))


async def test_f9_switches_theme_and_the_choice_is_remembered(seeded, new_app):
    app = new_app(seeded, theme=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        assert app.theme == "textual-dark"
        await pilot.press("f9")
        assert app.theme == "textual-light"
        await pilot.press("ctrl+q")
    again = new_app(seeded, theme=None)
    async with again.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        assert again.theme == "textual-light"


async def test_push_to_talk_without_voice_says_so(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("ctrl+r")
        assert any(n.startswith("Voice not available") for n in notifications(app))


async def test_push_to_talk_puts_the_transcript_in_the_box(seeded, new_app):
    """The hook the voice module plugs into: toggle starts and stops, the transcript lands in the input."""

    class FakeTalk:
        def __init__(self, **callbacks):
            self.callbacks = callbacks
            self.listening = False

        def toggle(self):
            import threading

            def run(name, value):
                threading.Thread(target=self.callbacks[name], args=(value,)).start()

            if not self.listening:
                self.listening = True
                run("on_state", "listening")
            else:
                self.listening = False
                run("on_transcript", "remind me to call Ana")

    app = new_app(seeded, voice_factory=FakeTalk)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "listening" in str(app.screen.query_one("StatusBar").render())
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.screen.query_one("#input").text == "remind me to call Ana"
