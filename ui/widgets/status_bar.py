"""The one-line status bar under the chat: model, speed, learning, memories."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

LEARNING_LABELS = {
    "idle": "idle",
    "learning": "learning…",
    "paused": "paused",
    "rolled back": "rolled back",
    "unlearning": "unlearning…",
}


class StatusBar(Widget):
    """Model name, tokens per second of the last reply, learning state and number of memories.

    Every field is a reactive; the bar redraws when any changes. `notice` (recording, stopping
    a reply ...) takes the right-hand end while it is set.
    """

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text-muted;
        padding: 0 1;
    }
    StatusBar.-busy { color: $text; }
    """

    model: reactive[str] = reactive("")
    """The model's name."""
    tokens_per_s: reactive[float | None] = reactive(None)
    """Decoding speed of the last reply, or None before the first."""
    learning: reactive[str] = reactive("idle")
    """The learner's state: idle, learning, paused, rolled back or unlearning."""
    version: reactive[int | None] = reactive(None)
    """The adapter version in use (None: the base model)."""
    pending: reactive[int] = reactive(0)
    """Exchanges waiting to be learned."""
    memories: reactive[int] = reactive(0)
    """How many memories the assistant keeps."""
    notice: reactive[str] = reactive("")
    """A transient note (recording, stopping ...), shown at the end."""

    def render(self) -> Content:
        speed = f"{self.tokens_per_s:.1f} tok/s" if self.tokens_per_s is not None else "– tok/s"
        learning = LEARNING_LABELS.get(self.learning, self.learning)
        if self.version is not None:
            learning += f" v{self.version}"
        if self.pending:
            learning += f" ({self.pending} pending)"
        plural = "y" if self.memories == 1 else "ies"
        parts = [self.model or "no model", speed, f"learning: {learning}", f"{self.memories} memor{plural}"]
        if self.notice:
            parts.append(self.notice)
        return Content(" · ".join(parts))

    def watch_learning(self, state: str) -> None:
        self.set_class(state in {"learning", "unlearning"}, "-busy")
