"""The one-line status bar under the chat: model, speed, learning, memories, and the microphone."""

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

METER = "▁▂▃▄▅▆▇█"
"""The level meter's bars, quietest first."""


class StatusBar(Widget):
    """Model name, tokens per second of the last reply, learning state and number of memories.

    Every field is a reactive; the bar redraws when any changes. `notice` (writing or stopping
    a reply ...) and the push-to-talk state (listening with a level meter, transcribing) take
    the right-hand end while they are set; they are separate, so dictating during a reply
    neither hides nor clears the reply's notice.
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
    """A transient note (writing, stopping ...), shown at the end."""
    voice: reactive[str] = reactive("idle")
    """Push-to-talk: "idle" (nothing shown), "listening" or "transcribing"."""
    voice_level: reactive[float] = reactive(0.0)
    """The microphone's level while listening, 0..1 (drawn as one meter bar)."""
    talk_key: reactive[str] = reactive("ctrl+r")
    """The push-to-talk key, named in the "stops" hint while listening."""

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
        text = Content(" · ".join(parts))
        if self.voice == "listening":
            bar = METER[min(len(METER) - 1, max(0, int(self.voice_level * len(METER))))]
            hint = f" {bar} ({self.talk_key} stops)" if self.talk_key else f" {bar}"
            text = Content.assemble(text, " · ", ("● listening", "bold $error"), hint)
        elif self.voice == "transcribing":
            text = Content.assemble(text, " · transcribing…")
        return text

    def watch_learning(self, state: str) -> None:
        self.set_class(state in {"learning", "unlearning"}, "-busy")
