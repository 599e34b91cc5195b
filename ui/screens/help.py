"""F1: every key the app knows, where it works, its id for `keys.json`, and how to rebind it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

EXTRA_KEYS: dict[str, list[tuple[str, str]]] = {
    "Message box": [
        ("up", "recall what you sent (on the first line); again for older"),
        ("down", "while recalling: the next newer message"),
        ("tab, shift+tab", "move between the list, the chat and the box"),
    ],
    "Everywhere": [("ctrl+c", "copy the selected text")],
}


def help_rows(groups: list[tuple[str, list[Any]]], keymap: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(where, keys, what it does, binding id) for every binding, with the user's keymap applied."""
    rows: list[tuple[str, str, str, str]] = []
    for where, bindings in groups:
        for binding in bindings:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            keys = keymap.get(binding.id or "", binding.key)
            rows.append((where, keys.replace(",", ", "), binding.description, binding.id or ""))
        rows += [(where, keys, description, "") for keys, description in EXTRA_KEYS.get(where, [])]
    return rows


def rebinding_note(keys_path: str) -> str:
    """How to rebind keys (shown under the table)."""
    return (
        f"Rebind: write binding id -> key as JSON in {keys_path}, for example "
        '{"chat.new": "ctrl+g", "app.memory": "f10"}, then start the app again. Several keys: '
        '"f10,ctrl+y". In the message box its own editing keys (ctrl+a, ctrl+k, ctrl+u, ctrl+w, f6, f7 ...) '
        "come first. The app only reads the file. Every action is also in the command palette (ctrl+p)."
    )


class HelpScreen(ModalScreen):
    """Every key, grouped by where it works; Escape or F1 closes it."""

    BINDINGS = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 60%; }
    HelpScreen > Vertical {
        width: 110;
        max-width: 100%;
        height: 100%;
        border: thick $primary 80%;
        background: $surface;
    }
    HelpScreen .title { text-style: bold; color: $primary; padding: 0 1; }
    HelpScreen DataTable { height: 1fr; }
    HelpScreen .note { height: auto; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, rows: Iterable[tuple[str, str, str, str]], keys_path: str) -> None:
        super().__init__()
        self.rows = list(rows)
        """(where, keys, what, id) as shown."""
        self.note = rebinding_note(keys_path)

    @property
    def text(self) -> str:
        """Everything the screen says, as plain text (for tests and screen readers)."""
        lines = [" | ".join(row) for row in self.rows]
        return "\n".join([*lines, self.note])

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Keys (Escape closes; arrows and page keys scroll)", classes="title")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="keys")
            yield Static(Content(self.note), classes="note")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Where", width=11)
        table.add_column("Key", width=15)
        table.add_column("Does", width=max(20, min(60, self.app.size.width - 58)))
        table.add_column("Id", width=18)
        previous = None
        for where, keys, what, ident in self.rows:
            table.add_row(Content(where if where != previous else ""), Content(keys), Content(what), Content(ident))
            previous = where
        table.focus()
