"""The terminal app: `make_app(...)` builds it, for the `assistant` command and for the tests alike.

    app = make_app()                        # the real session, the user's data directory
    app = make_app(opener=FakeOpener())     # tests: any opener with the same two methods

An opener turns a passphrase into an unlocked session, `opener(passphrase, create=False)`, and
says whether a vault exists, `opener.exists()`. It may also offer the OS keyring:
`keyring_status()`, `enable_keyring(session, passphrase)`, `open_with_keyring()`.

Screens: unlock (or first run) -> chat; memory (F3) and learning (F4) are pushed on top of the
chat and Escape returns. Every action is in the command palette (Ctrl+P); F1 lists every key.
Keys are rebound in `keys.json` in the data directory (binding id -> key), read at start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.worker import WorkerCancelled, WorkerFailed

from assistant.errors import USER_ERRORS
from assistant.session.protocol import SessionLike
from assistant.session.records import LearningEvent
from ui.screens.chat import ChatScreen
from ui.screens.help import HelpScreen, help_rows
from ui.screens.learning import LearningScreen
from ui.screens.memory import MemoryScreen
from ui.screens.unlock import UnlockScreen
from ui.widgets.chat_input import ChatInput

if TYPE_CHECKING:
    from assistant.opener import SessionOpener

THEMES = {"dark": "textual-dark", "light": "textual-light"}


class AssistantApp(App[int]):
    """A private assistant in the terminal: unlock, chat, and see and control what it keeps and learns."""

    CSS_PATH = "app.tcss"
    TITLE = "assistant"

    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("ctrl+p", "command_palette", "Commands", id="app.palette", priority=True, show=False),
        Binding("f3", "show_memory", "Memory", id="app.memory"),
        Binding("f4", "show_learning", "Learning", id="app.learning"),
        Binding("f5", "show_chat", "Chat", id="app.chat", show=False),
        Binding("f9", "toggle_theme", "Light/dark", id="app.theme", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]
    """
    | Key | Action |
    | :- | :- |
    | f1 | Every key, and how to rebind them. |
    | ctrl+p | The command palette: every action by name. |
    | f3 | The memory screen. |
    | f4 | The learning screen. |
    | f5 | Back to the chat. |
    | f9 | Switch between the light and the dark theme. |
    | ctrl+q | Quit (a reply being written is stopped and kept). |
    """

    class LearningChanged(Message):
        """The learner reported `event` (posted from the learner's thread)."""

        def __init__(self, event: LearningEvent) -> None:
            super().__init__()
            self.event = event

    def __init__(
        self,
        opener: SessionOpener | None,
        *,
        session: SessionLike | None = None,
        passphrase: str | None = None,
        keymap: dict[str, str] | None = None,
        keymap_problems: Iterable[str] = (),
        keys_path: Path | None = None,
        theme: str | None = None,
        voice_factory: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        self.opener = opener
        """Turns a passphrase into a session (see the module docstring)."""
        self.session: SessionLike | None = None
        """The unlocked session, or None before unlock (and after a reset)."""
        self.keymap: dict[str, str] = dict(keymap or {})
        """The user's key bindings (binding id -> keys) from `keys.json`."""
        self.keys_path = keys_path
        self.voice_factory = voice_factory
        """`factory(on_state=, on_level=, on_transcript=, on_error=)` -> a push-to-talk with `toggle()`."""
        self._keymap_problems = list(keymap_problems)
        self._initial_session = session
        self._passphrase = passphrase
        self._theme_choice = theme

    # --- start --------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.theme = THEMES.get(self._theme_choice or "dark", THEMES["dark"])
        unknown = sorted(set(self.keymap) - set(known_binding_ids()))
        for binding_id in unknown:
            self._keymap_problems.append(f"keys.json: there is no binding {binding_id!r} (see F1 for the ids)")
        self.set_keymap({k: v for k, v in self.keymap.items() if k not in unknown})
        for problem in self._keymap_problems:
            self.notify(problem, severity="warning", timeout=10)
        if self._initial_session is not None:
            session, self._initial_session = self._initial_session, None
            self.unlocked(session)
            return
        try:
            exists = bool(self.opener.exists())
        except USER_ERRORS as exc:
            self.exit(None, return_code=2, message=f"assistant: {exc}")
            return
        passphrase, self._passphrase = self._passphrase, None
        self.push_screen(UnlockScreen(create=not exists, passphrase=passphrase))

    def unlocked(self, session: SessionLike, warning: str = "") -> None:
        """The session is open: show the chat."""
        self.session = session
        session.on_learning_event(self._learning_event)
        if self._theme_choice is None:
            saved = session.settings.get("ui.theme", None)
            if saved in THEMES:
                self.theme = THEMES[saved]
        if isinstance(self.screen, UnlockScreen):
            self.switch_screen(ChatScreen())
        else:
            self.push_screen(ChatScreen())
        if warning:
            self.notify(warning, severity="warning", timeout=8)
        self.call_after_refresh(self._report_damage)

    def _report_damage(self) -> None:
        """Say so when the conversation list (or anything read so far) left damaged records out."""
        if self.session is None:
            return
        damaged = self.session.damaged_records()
        if damaged:
            self.notify(
                f"{len(damaged)} damaged record{'s' if len(damaged) != 1 else ''} left out (the rest reads fine): "
                + damaged[0] + (" ..." if len(damaged) > 1 else "")
                + ". Run `assistant verify` to list them and `assistant verify --repair` to drop them.",
                severity="warning", timeout=15,
            )  # fmt: skip

    def _learning_event(self, event: LearningEvent) -> None:
        """The session's learning callback; may run on any thread (`post_message` is thread-safe)."""
        self.post_message(self.LearningChanged(event))

    def on_assistant_app_learning_changed(self, message: LearningChanged) -> None:
        if self.session is None:
            return
        for screen in list(self.screen_stack):
            handler = getattr(screen, "learning_changed", None)
            if handler is not None and screen.is_mounted:
                handler(message.event)

    # --- navigation ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Screens that need the session are hidden from the footer (and inert) until unlock."""
        if action in {"show_memory", "show_learning", "show_chat", "on"} and self.session is None:
            return False
        return True

    def chat_screen(self) -> ChatScreen | None:
        """The chat screen, if the app is unlocked."""
        for screen in self.screen_stack:
            if isinstance(screen, ChatScreen):
                return screen
        return None

    async def _go(self, kind: type[Screen] | None) -> Screen | None:
        """Show the chat (kind None or ChatScreen) or push `kind` on top of it; returns that screen."""
        chat = self.chat_screen()
        if chat is None:
            return None
        if kind is not None and isinstance(self.screen, kind):
            return self.screen
        while self.screen is not chat:
            await self.pop_screen()
        if kind is None or kind is ChatScreen:
            return chat
        screen = kind()
        await self.push_screen(screen)
        return screen

    async def action_show_memory(self) -> None:
        await self._go(MemoryScreen)

    async def action_show_learning(self) -> None:
        await self._go(LearningScreen)

    async def action_show_chat(self) -> None:
        await self._go(None)

    async def action_on(self, screen: str, action: str) -> None:
        """Run `action` on the chat, memory or learning screen, showing it first."""
        kinds: dict[str, type[Screen]] = {"chat": ChatScreen, "memory": MemoryScreen, "learning": LearningScreen}
        target = await self._go(kinds[screen])
        if target is not None:
            await target.run_action(action)

    def open_conversation(self, conversation_id: int) -> None:
        """Show a conversation in the chat (from the memory screen's lists)."""

        async def show() -> None:
            chat = await self._go(None)
            if isinstance(chat, ChatScreen):
                await chat.open_conversation(conversation_id)
                chat.query_one(ChatInput).focus()

        self.run_worker(show(), group="navigate", exclusive=True)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        path = str(self.keys_path) if self.keys_path is not None else "keys.json in the data directory"
        self.push_screen(HelpScreen(help_rows(binding_groups(), self.keymap), path))

    def action_toggle_theme(self) -> None:
        light = self.theme != THEMES["light"]
        self.theme = THEMES["light" if light else "dark"]
        if self.session is not None:
            self.session.settings.set("ui.theme", "light" if light else "dark")

    # --- the command palette ------------------------------------------------------------------

    def key_for(self, binding_id: str) -> str:
        """The key(s) bound to `binding_id` now (after keys.json), or ""."""
        if binding_id in self.keymap:
            return self.keymap[binding_id]
        for _title, bindings in binding_groups():
            for binding in bindings:
                if isinstance(binding, Binding) and binding.id == binding_id:
                    return binding.key
        return ""

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for title, help_text, action, binding_id in palette_commands(unlocked=self.session is not None):
            key = self.key_for(binding_id) if binding_id else ""
            yield SystemCommand(title, f"{help_text} ({key})" if key else help_text, self._runner(action))
        for command in super().get_system_commands(screen):
            if command.title not in {"Quit", "Keys"}:
                yield command

    def _runner(self, action: str) -> Callable[[], Any]:
        async def run() -> None:
            await self.run_action(action)

        return run

    # --- reset and quit -----------------------------------------------------------------------

    def after_reset(self) -> None:
        """Everything was deleted: close the session and start over at the first-run screen."""
        self.close_session()

        async def restart() -> None:
            while len(self.screen_stack) > 1:
                await self.pop_screen()
            await self.push_screen(UnlockScreen(create=True))
            self.notify("Everything was deleted. Choose a passphrase to start again.", timeout=8)

        self.run_worker(restart(), group="navigate", exclusive=True)

    def close_session(self) -> None:
        """Close the session (idempotent)."""
        session, self.session = self.session, None
        if session is not None:
            try:
                session.close()
            except USER_ERRORS as exc:
                self.log.warning(f"closing the session: {exc}")

    async def action_quit(self) -> None:
        chat = self.chat_screen()
        if chat is not None:
            chat.cancel_reply()
        for worker in [w for w in self.workers if w.group == "reply" and not w.is_finished]:
            try:
                await asyncio.wait_for(worker.wait(), timeout=5)
            except (asyncio.TimeoutError, WorkerCancelled, WorkerFailed):
                pass
        self.exit(0)

    def on_unmount(self) -> None:
        # the chat screen closes its own voice input when it unmounts (the stack is empty here)
        self.close_session()


def palette_commands(*, unlocked: bool) -> list[tuple[str, str, str, str]]:
    """(title, help, action, binding id) of every command the palette offers."""
    always = [
        ("Help: keys", "List every key and how to rebind it", "app.help", "app.help"),
        ("Toggle light/dark theme", "Switch between the light and the dark theme", "app.toggle_theme", "app.theme"),
        ("Quit", "Quit the assistant (a reply being written is stopped and kept)", "app.quit", "app.quit"),
    ]
    if not unlocked:
        return always
    return [
        ("New conversation", "Start a new conversation", "app.on('chat', 'new_conversation')", "chat.new"),
        ("Temporary chat", "A chat that is neither saved nor learned from", "app.on('chat', 'temporary_chat')", "chat.temporary"),
        ("Rename conversation", "Give the conversation a new title", "app.on('chat', 'rename_conversation')", "chat.rename"),
        ("Delete conversation", "Delete the conversation and unlearn it (asks first)", "app.on('chat', 'delete_conversation')", "chat.delete"),
        ("Stop reply", "Stop the reply being written", "app.on('chat', 'stop_reply')", "chat.stop"),
        ("Toggle conversation list", "Show or hide the list of conversations", "app.on('chat', 'toggle_sidebar')", "chat.sidebar"),
        ("Push to talk", "Dictate a message (where voice input is available)", "app.on('chat', 'push_to_talk')", "chat.talk"),
        ("Show chat", "Back to the conversation", "app.show_chat", "app.chat"),
        ("Show memory", "Browse, search and edit what the assistant keeps", "app.show_memory", "app.memory"),
        ("Add memory", "Tell the assistant a fact to keep", "app.on('memory', 'add_memory')", "memory.add"),
        ("Edit memory", "Change the selected memory", "app.on('memory', 'edit_memory')", "memory.edit"),
        ("Delete selected memory or conversation", "Delete it and unlearn it (asks first)", "app.on('memory', 'delete_selected')", "memory.delete"),
        ("Search memory", "Search conversations and memories", "app.on('memory', 'focus_search')", "memory.search"),
        ("Export", "Write everything to one encrypted file", "app.on('memory', 'export')", "memory.export"),
        ("Import", "Restore an export (replace or merge)", "app.on('memory', 'import')", "memory.import"),
        ("Reset", "Destroy the keys and delete everything (asks you to type reset)", "app.on('memory', 'reset')", ""),
        ("Show learning", "What the assistant learned, and how to undo it", "app.show_learning", "app.learning"),
        ("Pause or resume learning", "Stop or restart learning from new chats", "app.on('learning', 'toggle_pause')", "learning.pause"),
        ("Roll back learning", "Go back to the selected adapter version (asks first)", "app.on('learning', 'rollback')", "learning.rollback"),
        *always,
    ]


def binding_groups() -> list[tuple[str, list[Any]]]:
    """Every binding of the app, grouped by where it works (for F1 and the keymap check)."""
    from ui.screens.dialogs import _Dialog

    return [
        ("Everywhere", list(AssistantApp.BINDINGS)),
        ("Unlock", list(UnlockScreen.BINDINGS)),
        ("Chat", list(ChatScreen.BINDINGS)),
        ("Message box", list(ChatInput.BINDINGS)),
        ("Memory", list(MemoryScreen.BINDINGS)),
        ("Learning", list(LearningScreen.BINDINGS)),
        ("Dialogs", list(_Dialog.BINDINGS)),
        ("Help", list(HelpScreen.BINDINGS)),
    ]


def known_binding_ids() -> set[str]:
    """The ids `keys.json` may rebind."""
    return {b.id for _title, bindings in binding_groups() for b in bindings if isinstance(b, Binding) and b.id}


def make_app(
    opener: SessionOpener | None = None,
    *,
    session: SessionLike | None = None,
    passphrase: str | None = None,
    home: Path | None = None,
    model_dir: Path | None = None,
    keys_path: Path | None = None,
    theme: str | None = None,
    voice_factory: Callable[..., Any] | None = None,
) -> AssistantApp:
    """The app, ready to `run()` (or `run_test()`).

    `opener` defaults to the real session of `home` (the data directory) with the model in
    `model_dir`. `session` skips the unlock screen. `passphrase` unlocks (or, on a first run,
    creates) at once. `keys_path` defaults to `keys.json` in the data directory; `theme` is
    "dark" or "light" (default: the last one chosen, else dark). `voice_factory` defaults to
    `assistant.voice.make_push_to_talk`.
    """
    from assistant.opener import SessionOpener
    from ui.keymap import keys_file, load_keymap

    if opener is None:
        opener = SessionOpener(home=home, model_dir=model_dir)
    if voice_factory is None:
        from assistant.voice import make_push_to_talk

        voice_factory = make_push_to_talk
    if keys_path is None:
        keys_path = keys_file(home)
    keymap, problems = load_keymap(keys_path)
    if theme is not None and theme not in THEMES:
        raise ValueError(f"theme must be one of {sorted(THEMES)}, not {theme!r}")
    return AssistantApp(
        opener,
        session=session,
        passphrase=passphrase,
        keymap=keymap,
        keymap_problems=problems,
        keys_path=keys_path,
        theme=theme,
        voice_factory=voice_factory,
    )
