"""A streaming reply: what it has produced so far (`ReplyState`) and what the interface reads (`Reply`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from assistant.session.records import MemoryInfo


@dataclass
class ReplyState:
    """What a reply has produced so far (read it through `Reply`)."""

    conversation_id: int
    message_id: int
    user_message_id: int
    text: str = ""
    cut: bool = False
    done: bool = False
    tokens: int = 0
    tokens_per_s: float = 0.0
    memory_used: list[str] = field(default_factory=list)  # the snippets of the <|memory|> block
    memory_sources: list[tuple[str, int]] = field(default_factory=list)  # ("message"|"memory", id) of each
    reread: bool = False  # whether the history had to be re-read for this reply
    remembered: list[MemoryInfo] = field(default_factory=list)  # the memories kept from the user's message


class Reply:
    """A streaming reply: iterate for text pieces; afterwards read `text`, `cut`, `message_id`,
    `tokens_per_s`, `memory_used`, `remembered` (all from its `ReplyState`).

    `close()` stops it early (the text shown so far is kept, marked cut); so does dropping it.
    The generator holds the state, not the `Reply`, so a dropped reply is closed at once (no
    reference cycle keeps the model busy until a garbage collection).
    """

    def __init__(self, state: ReplyState, stream: Iterator[str], abandon: Callable[[], None]) -> None:
        self._state = state
        self._it = stream
        self._abandon = abandon
        self._started = False

    # --- what it has produced (read-only views of its state) ------------------------------------

    @property
    def conversation_id(self) -> int:
        return self._state.conversation_id

    @property
    def message_id(self) -> int:
        return self._state.message_id

    @property
    def user_message_id(self) -> int:
        return self._state.user_message_id

    @property
    def text(self) -> str:
        return self._state.text

    @property
    def cut(self) -> bool:
        return self._state.cut

    @property
    def done(self) -> bool:
        return self._state.done

    @property
    def tokens(self) -> int:
        return self._state.tokens

    @property
    def tokens_per_s(self) -> float:
        return self._state.tokens_per_s

    @property
    def memory_used(self) -> list[str]:
        return self._state.memory_used

    @property
    def remembered(self) -> list[MemoryInfo]:
        return self._state.remembered

    @property
    def reread(self) -> bool:
        return self._state.reread

    # --- streaming ------------------------------------------------------------------------------

    def __iter__(self) -> Reply:
        return self

    def __next__(self) -> str:
        self._started = True
        return next(self._it)

    def close(self) -> None:
        """Stop early: the text shown so far is kept, marked cut (a reply never read stays empty)."""
        if not self._started and not self._state.done:
            self._abandon()
        self._it.close()

    def wait(self) -> str:
        """Consume the rest of the reply; returns its text."""
        for _ in self:
            pass
        return self._state.text

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
