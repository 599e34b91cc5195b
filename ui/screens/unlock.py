"""The first screen: choose a passphrase on the first run, unlock on later runs.

Nothing is written to the data directory until a passphrase has been accepted: this screen
only reads whether a vault exists, and the opener (in a thread worker, since unlocking derives
a key and loads the model) creates or unlocks it.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Static

from assistant.errors import USER_ERRORS
from ui.widgets.safe_input import SafeInput
from ui.widgets.strength import StrengthHint, describe

MIN_LENGTH = 8
"""The shortest passphrase accepted for a new vault."""

FORGET_WARNING = (
    "If you forget this passphrase, everything the assistant keeps is gone: it is encrypted with "
    "it, and there is no recovery. Write it down somewhere safe, or export a backup."
)


def _is(exc: BaseException, name: str) -> bool:
    return any(cls.__name__ == name for cls in type(exc).__mro__)


class UnlockScreen(Screen):
    """Create a passphrase (typed twice, with a strength hint) or unlock with it.

    A wrong passphrase says so and clears the field for another try. With `passphrase` given
    (from `--passphrase-file` or the environment) the screen unlocks at once.
    """

    BINDINGS = [Binding("escape", "clear_error", "Clear the message", id="unlock.clear", show=False)]

    DEFAULT_CSS = """
    UnlockScreen { align: center middle; }
    UnlockScreen #unlock-box {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        padding: 0 2;
        overflow-y: auto;
    }
    UnlockScreen .title { text-style: bold; color: $primary; }
    UnlockScreen .intro { margin: 0 0 1 0; }
    UnlockScreen .warning { color: $warning; margin: 1 0 0 0; }
    UnlockScreen .error { color: $error; }
    UnlockScreen .status { color: $text-muted; }
    UnlockScreen .note { display: none; height: auto; }
    UnlockScreen .note.-shown { display: block; }
    UnlockScreen .buttons { height: auto; margin: 1 0 0 0; }
    UnlockScreen .buttons Button { margin: 0 1 0 0; }
    UnlockScreen Checkbox { margin: 1 0 0 0; }
    """

    busy: reactive[bool] = reactive(False)
    """Whether an unlock is in progress (the form is disabled meanwhile)."""

    def __init__(self, *, create: bool, passphrase: str | None = None) -> None:
        super().__init__()
        self.create = create
        self.attempts = 0
        """Wrong passphrases so far."""
        self._preset = passphrase
        self._keyring_ok = False

    @property
    def opener(self) -> Any:
        return self.app.opener

    def compose(self) -> ComposeResult:
        with Vertical(id="unlock-box"):
            if self.create:
                yield Static("Welcome: choose a passphrase", classes="title")
                yield Static(
                    "Everything the assistant keeps (conversations, memories, what it learns) is "
                    "encrypted with this passphrase and never leaves this computer.",
                    classes="intro",
                )
                yield SafeInput(placeholder="passphrase", password=True, id="passphrase", max_length=1_000)
                yield SafeInput(placeholder="the same passphrase again", password=True, id="repeat", max_length=1_000)
                yield StrengthHint(id="strength")
                yield Static(Content(FORGET_WARNING), classes="warning")
                yield Checkbox("Also unlock with the OS keyring", id="keyring", disabled=True, compact=True)
                yield Static("", id="keyring-reason", classes="status note")
            else:
                yield Static("Unlock the assistant", classes="title")
                yield Static("Type your passphrase.", classes="intro")
                yield SafeInput(placeholder="passphrase", password=True, id="passphrase", max_length=1_000)
            yield Static("", classes="error note", id="error")
            yield Static("", classes="status note", id="status")
            with Horizontal(classes="buttons"):
                yield Button("Create" if self.create else "Unlock", id="submit", variant="primary", compact=True)
                if not self.create and hasattr(self.opener, "open_with_keyring"):
                    yield Button("Use the OS keyring", id="use-keyring", compact=True)
                yield Button("Quit", id="quit", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#passphrase").focus()
        for widget in self.query("#keyring, #use-keyring"):
            widget.display = False
        if hasattr(self.opener, "keyring_status"):
            self._probe_keyring()
        if self._preset:
            preset, self._preset = self._preset, None
            self._start(preset)

    @work(thread=True, exclusive=True, group="keyring-probe")
    def _probe_keyring(self) -> None:
        try:
            available, reason = self.opener.keyring_status()
            if available and not self.create and hasattr(self.opener, "has_keyring_slot"):
                available = bool(self.opener.has_keyring_slot())
        except (*USER_ERRORS, OSError) as exc:
            available, reason = False, str(exc)
        self.app.call_from_thread(self._show_keyring, available, reason)

    def _show_keyring(self, available: bool, reason: str) -> None:
        if not self.create:
            for button in self.query("#use-keyring"):
                button.display = available
            return
        box = self.query_one("#keyring", Checkbox)
        box.display = True
        self._keyring_ok = available
        box.disabled = not available or self.busy
        box.tooltip = reason
        if not available:
            box.label = Content("OS keyring: not available here")
            self._note("#keyring-reason", reason if len(reason) <= 72 else reason[:71] + "…")

    # --- events -------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "passphrase" and self.create:
            self.query_one(StrengthHint).passphrase = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.create and event.input.id == "passphrase":
            self.query_one("#repeat").focus()
            return
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            self.action_submit()
        elif event.button.id == "use-keyring":
            self.busy = True
            self._status("Unlocking with the OS keyring…")
            self._open_with_keyring()
        elif event.button.id == "quit":
            self.app.exit()

    def action_clear_error(self) -> None:
        self._error("")

    def action_submit(self) -> None:
        if self.busy:
            return
        passphrase = self.query_one("#passphrase", Input).value
        if not passphrase:
            self._error("Type a passphrase.")
            return
        if self.create:
            if len(passphrase) < MIN_LENGTH:
                self._error(f"Use at least {MIN_LENGTH} characters (four or more words are easier to remember).")
                return
            if passphrase != self.query_one("#repeat", Input).value:
                self._error("The two passphrases differ. Type them again.")
                self.query_one("#repeat", Input).clear()
                self.query_one("#repeat").focus()
                return
            if describe(passphrase)[0] == "very weak":
                self._error("This passphrase is too easy to guess. Add words or make it longer.")
                return
        self._start(passphrase)

    def _start(self, passphrase: str) -> None:
        keyring = False
        if self.create:
            keyring = self.query_one("#keyring", Checkbox).value and self._keyring_ok
        self.busy = True
        self._error("")
        self._status("Creating your encrypted store…" if self.create else "Unlocking… (this loads the model)")
        self._open(passphrase, self.create, keyring)

    def watch_busy(self, busy: bool) -> None:
        for widget in self.query("Input, Button#submit, Button#use-keyring"):
            widget.disabled = busy
        for box in self.query("#keyring"):
            box.disabled = busy or not self._keyring_ok
        if not busy:
            self._status("")

    # --- the work -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="unlock")
    def _open(self, passphrase: str, create: bool, keyring: bool) -> None:
        try:
            session = self.opener(passphrase, create=create)
        except (*USER_ERRORS, OSError) as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        warning = ""
        if keyring:
            try:
                self.opener.enable_keyring(session, passphrase)
            except (*USER_ERRORS, OSError) as exc:
                warning = f"The OS keyring was not set up: {exc}"
        self.app.call_from_thread(self.app.unlocked, session, warning)

    @work(thread=True, exclusive=True, group="unlock")
    def _open_with_keyring(self) -> None:
        try:
            session = self.opener.open_with_keyring()
        except (*USER_ERRORS, OSError) as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self.app.unlocked, session, "")

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        field = self.query_one("#passphrase", Input)
        if _is(exc, "WrongPassphrase"):
            self.attempts += 1
            again = f" (attempt {self.attempts})" if self.attempts > 1 else ""
            self._error(f"Wrong passphrase. Try again{again}.")
            field.clear()
        elif _is(exc, "InstanceLocked"):
            self._error(f"{exc}")
        else:
            self._error(f"Could not open the store: {exc}")
        field.focus()

    def _note(self, selector: str, text: str) -> None:
        note = self.query_one(selector, Static)
        note.update(Content(text))
        note.set_class(bool(text), "-shown")

    def _error(self, text: str) -> None:
        self._note("#error", text)

    def _status(self, text: str) -> None:
        self._note("#status", text)
