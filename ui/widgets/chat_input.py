"""The message box of the chat screen."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.widgets import TextArea

from ui.widgets.sanitize import MAX_MESSAGE_CHARS, clean_text


class ChatInput(TextArea):
    """A multi-line message box: Enter sends, Ctrl+J adds a newline, Up recalls earlier messages.

    Pastes are cleaned (control characters and escape sequences removed) and cut so the whole
    message stays under `MAX_MESSAGE_CHARS`; the user is told when that happens.
    """

    BINDINGS = [
        Binding("enter", "submit", "Send", id="input.send", show=False),
        Binding("ctrl+j,shift+enter", "newline", "Newline", id="input.newline", show=False),
    ]
    """
    | Key | Action |
    | :- | :- |
    | enter | Send the message. |
    | ctrl+j | Insert a newline (shift+enter too, where the terminal reports it). |
    | up | On the first line: recall the previous message sent (again for older ones). |
    | down | While recalling: the next newer message, then back to an empty box. |
    """

    DEFAULT_CSS = """
    ChatInput {
        height: auto;
        min-height: 3;
        max-height: 10;
    }
    """

    limit: var[int] = var(MAX_MESSAGE_CHARS)
    """The longest message accepted, in characters."""

    class Submitted(Message):
        """The user asked to send `text` (never empty or only whitespace)."""

        def __init__(self, chat_input: ChatInput, text: str) -> None:
            super().__init__()
            self.chat_input = chat_input
            self.text = text

        @property
        def control(self) -> ChatInput:
            return self.chat_input

    def __init__(self, *, placeholder: str = "", id: str | None = None) -> None:
        super().__init__(
            "",
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            highlight_cursor_line=False,
            placeholder=placeholder,
            id=id,
        )
        self.sent: list[str] = []
        """Messages sent, oldest first (what Up walks back through)."""
        self._recalled: int | None = None

    # --- actions ------------------------------------------------------------------------------

    def action_submit(self) -> None:
        text = self.text
        if not text.strip():
            return
        if len(text) > self.limit:
            self.notify(f"The message is longer than {self.limit:,} characters; shorten it first.", severity="warning")
            return
        self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        self.insert_text("\n")

    def remember(self, text: str) -> None:
        """Add a sent message to the history Up walks through, and empty the box."""
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)
        self._recalled = None
        self.clear()

    def action_cursor_up(self, select: bool = False) -> None:
        at_top = self.cursor_location[0] == 0
        if not select and at_top and self.sent and (not self.text or self._recalled is not None):
            index = len(self.sent) - 1 if self._recalled is None else max(0, self._recalled - 1)
            self._recall(index)
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        at_bottom = self.cursor_location[0] == self.document.line_count - 1
        if not select and at_bottom and self._recalled is not None:
            if self._recalled + 1 < len(self.sent):
                self._recall(self._recalled + 1)
            else:
                self._recalled = None
                self.clear()
            return
        super().action_cursor_down(select)

    def _recall(self, index: int) -> None:
        self._recalled = index
        self.load_text(self.sent[index])
        self.move_cursor(self.document.end)

    # --- input --------------------------------------------------------------------------------

    def _send_keys(self) -> set[str]:
        keymap = getattr(self.app, "keymap", {}) or {}
        return {key.strip() for key in keymap.get("input.send", "enter").split(",")}

    async def _on_key(self, event: events.Key) -> None:
        """Send on Enter (or its rebinding) here, in order with the typed keys before it.

        Regression: as a priority binding, Enter jumped the queue of keys typed just before it
        (a fast typist, or tmux), found the box still empty and the message was not sent.
        """
        if event.key in self._send_keys():
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        await super()._on_key(event)

    def insert_text(self, text: str) -> None:
        """Insert `text` at the cursor (replacing any selection)."""
        result = self.replace(text, *self.selection)
        self.move_cursor(result.end_location)

    async def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()
        if self.read_only:
            return
        start, end = sorted(self.selection)
        kept = len(self.text) - len(self.get_text_range(start, end))
        room = max(0, self.limit - kept)
        cleaned = clean_text(event.text, room)
        if notice := cleaned.notice(room):
            if room == 0:
                notice = f"The message is already {self.limit:,} characters long; the paste was refused."
            self.notify(notice, severity="warning", timeout=6)
        if cleaned.text:
            self.insert_text(cleaned.text)
        self.focus()
