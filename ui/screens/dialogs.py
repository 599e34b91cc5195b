"""Small modal dialogs: confirm, ask for a line of text, export and import settings.

Each dismisses with its answer (None when cancelled); Escape always cancels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from ui.widgets.safe_input import SafeInput

DIALOG_CSS = """
NAME {
    align: center middle;
    background: $background 60%;
}
NAME > Vertical {
    width: 72;
    max-width: 95%;
    height: auto;
    max-height: 95%;
    border: thick $primary 80%;
    background: $surface;
    padding: 0 1;
}
NAME .title { text-style: bold; margin: 0 0 1 0; }
NAME .body { margin: 0 0 1 0; }
NAME .error { color: $error; height: auto; }
NAME .buttons { height: auto; align-horizontal: right; margin: 1 0 0 0; }
NAME .buttons Button { margin: 0 0 0 1; }
NAME Input { margin: 0 0 0 0; }
"""


class _Dialog(ModalScreen):
    """Base of the dialogs: Escape cancels (dismisses with None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _error(self, text: str) -> None:
        self.query_one(".error", Static).update(Content(text))


class _FormDialog(_Dialog):
    """A dialog with fields: the "ok" button submits (after checks in `_submit`), any other cancels."""

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        raise NotImplementedError


class ConfirmDialog(_Dialog):
    """Ask "are you sure?"; with `require_word`, the user must type that word to confirm."""

    DEFAULT_CSS = DIALOG_CSS.replace("NAME", "ConfirmDialog")

    def __init__(self, title: str, body: str, *, confirm: str = "Delete", danger: bool = True, require_word: str | None = None) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._confirm = confirm
        self._danger = danger
        self._word = require_word

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self._title), classes="title")
            yield Static(Content(self._body), classes="body")
            if self._word:
                yield Label(Content(f'Type "{self._word}" to confirm:'))
                yield SafeInput(id="word", max_length=40)
            yield Static("", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button(self._confirm, id="confirm", variant="error" if self._danger else "primary", compact=True)

    def on_mount(self) -> None:
        if self._word:
            self.query_one("#word").focus()
        else:
            self.query_one("#cancel" if self._danger else "#confirm").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self._confirm_if_typed()
        else:
            self.dismiss(False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._confirm_if_typed()

    def _confirm_if_typed(self) -> None:
        if self._word and self.query_one("#word", Input).value.strip() != self._word:
            self._error(f'Type "{self._word}" exactly, or press Escape to cancel.')
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class TextPrompt(_FormDialog):
    """Ask for one line of text (a title, a memory); dismisses with the text or None."""

    DEFAULT_CSS = DIALOG_CSS.replace("NAME", "TextPrompt")

    def __init__(self, title: str, *, value: str = "", placeholder: str = "", max_length: int = 2_000, hint: str = "") -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._placeholder = placeholder
        self._max = max_length
        self._hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self._title), classes="title")
            if self._hint:
                yield Static(Content(self._hint), classes="body")
            yield SafeInput(self._value, placeholder=self._placeholder, max_length=self._max, id="text")
            yield Static("", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("OK", id="ok", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#text").focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def _submit(self) -> None:
        text = self.query_one("#text", Input).value.strip()
        if not text:
            self._error("Type something, or press Escape to cancel.")
            return
        self.dismiss(text)


@dataclass(frozen=True)
class ExportRequest:
    """Where and how to export."""

    path: Path
    passphrase: str
    plaintext: bool


class ExportDialog(_FormDialog):
    """Ask where to export, and the export's own passphrase (twice), or plaintext."""

    DEFAULT_CSS = DIALOG_CSS.replace("NAME", "ExportDialog")

    def __init__(self, default_path: Path) -> None:
        super().__init__()
        self._default = default_path

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Export everything", classes="title")
            yield Static(
                Content("One encrypted file under its own passphrase; `assistant import` restores it."),
                classes="body",
            )
            yield SafeInput(str(self._default), placeholder="file to write", id="path")
            yield SafeInput(placeholder="export passphrase", password=True, id="passphrase", max_length=1_000)
            yield SafeInput(placeholder="repeat the export passphrase", password=True, id="repeat", max_length=1_000)
            yield Checkbox("Plaintext instead (anyone who can read it can read your chats)", id="plaintext")
            yield Static("", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Export", id="ok", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#passphrase").focus()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        for name in ("#passphrase", "#repeat"):
            self.query_one(name, Input).disabled = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "passphrase":
            self.query_one("#repeat").focus()
        else:
            self._submit()

    def _submit(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        plaintext = self.query_one("#plaintext", Checkbox).value
        passphrase = self.query_one("#passphrase", Input).value
        if not path:
            self._error("Say where to write the export.")
            return
        if not plaintext:
            if not passphrase:
                self._error("Choose a passphrase for the export (it can differ from your own).")
                return
            if passphrase != self.query_one("#repeat", Input).value:
                self._error("The two export passphrases differ.")
                return
        self.dismiss(ExportRequest(Path(path).expanduser(), "" if plaintext else passphrase, plaintext))


@dataclass(frozen=True)
class ImportRequest:
    """What to import and how."""

    path: Path
    passphrase: str
    merge: bool


class ImportDialog(_FormDialog):
    """Ask which export to import, its passphrase, and whether to merge or replace."""

    DEFAULT_CSS = DIALOG_CSS.replace("NAME", "ImportDialog")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Import an export", classes="title")
            yield Static(
                Content("Replacing deletes everything here first; merging keeps it. A damaged file changes nothing."),
                classes="body",
            )
            yield SafeInput(placeholder="export file to read", id="path")
            yield SafeInput(placeholder="its export passphrase", password=True, id="passphrase", max_length=1_000)
            yield Checkbox("Merge with what is here (instead of replacing it)", id="merge")
            yield Static("", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Import", id="ok", variant="warning", compact=True)

    def on_mount(self) -> None:
        self.query_one("#path").focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "path":
            self.query_one("#passphrase").focus()
        else:
            self._submit()

    def _submit(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        if not path:
            self._error("Say which file to import.")
            return
        if not Path(path).expanduser().is_file():
            self._error(f"There is no file {path}.")
            return
        self.dismiss(
            ImportRequest(Path(path).expanduser(), self.query_one("#passphrase", Input).value, self.query_one("#merge", Checkbox).value)
        )
