"""A one-line input whose pastes are cleaned and bounded."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from ui.widgets.sanitize import clean_text

DEFAULT_MAX = 4_000


class SafeInput(Input):
    """An `Input` that refuses control characters and over-long pastes, and says so.

    `max_length` defaults to 4,000 characters; a paste is cut to what still fits.
    """

    def __init__(self, value: str | None = None, *, max_length: int = DEFAULT_MAX, **kwargs) -> None:
        super().__init__(value, max_length=max_length, **kwargs)

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()
        room = max(0, self.max_length - len(self.value) + len(self.selected_text)) if self.max_length else 10**6
        cleaned = clean_text(event.text, room, single_line=True)
        if notice := cleaned.notice(room):
            self.notify(notice, severity="warning", timeout=6)
        if cleaned.text:
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(cleaned.text)
            else:
                self.replace(cleaned.text, *selection)
