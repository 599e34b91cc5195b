"""What a reply did with memory, shown in the chat: the quiet "remembered: ..." line with its
undo, and the dialog that lists exactly the snippets a reply's `<|memory|>` block held.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Static

from assistant.session.records import MemoryInfo
from ui.screens.dialogs import DIALOG_CSS, _Dialog


def used_label(count: int) -> str:
    """ "used 1 memory", "used 3 memories"."""
    return f"used {count} memor{'y' if count == 1 else 'ies'}"


class RememberedLine(Horizontal):
    """One memory kept from the user's message: "remembered: TEXT" and an Undo button.

    Undo asks the screen (through `UndoRequested`) to forget the memory everywhere; the line
    then says it was forgotten.
    """

    DEFAULT_CSS = """
    RememberedLine {
        height: 1;
        margin: 0 0 1 0;
        padding: 0 1;
        color: $text-muted;
    }
    RememberedLine > .text { width: 1fr; text-style: italic; }
    RememberedLine > Button { margin: 0 0 0 1; }
    """

    class UndoRequested(Message):
        """The user pressed Undo on `line`: forget its memory."""

        def __init__(self, line: RememberedLine) -> None:
            super().__init__()
            self.line = line

    def __init__(self, memory: MemoryInfo) -> None:
        super().__init__(classes="remembered")
        self.memory = memory

    def compose(self) -> ComposeResult:
        yield Static(Content(f"remembered: {self.memory.text}"), classes="text")
        yield Button("Undo", id=f"undo-{self.memory.id}", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        event.button.disabled = True
        self.post_message(self.UndoRequested(self))

    def forgotten(self) -> None:
        """The memory is gone: say so, without the button."""
        self.query_one(".text", Static).update(Content(f"forgotten: {self.memory.text}"))
        for button in self.query(Button):
            button.remove()

    def failed(self, error: str) -> None:
        """Undo did not work: say why, and offer it again."""
        self.query_one(".text", Static).update(Content(f"remembered: {self.memory.text} (undo failed: {error})"))
        for button in self.query(Button):
            button.disabled = False


class MemoryBlockDialog(_Dialog):
    """Exactly the snippets a reply's `<|memory|>` block held, in the block's order."""

    DEFAULT_CSS = DIALOG_CSS.replace("NAME", "MemoryBlockDialog") + """
    MemoryBlockDialog VerticalScroll { height: auto; max-height: 20; }
    MemoryBlockDialog .snippet { margin: 0 0 1 0; }
    """

    def __init__(self, snippets: Sequence[str]) -> None:
        super().__init__()
        self.snippets = list(snippets)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(f"This reply {used_label(len(self.snippets))}"), classes="title")
            with VerticalScroll():
                for number, snippet in enumerate(self.snippets, 1):
                    yield Static(Content(f"{number}. {snippet}"), classes="snippet")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#close").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
