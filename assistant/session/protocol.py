"""`SessionLike`: exactly what the terminal UI needs of a session, and nothing more.

The screens type their session against it; the real `Session` and the UI tests' fake
(`tests/ui/fake_session.py`) both provide it, and `tests/ui/test_session_protocol.py` checks
both, member by member, signature by signature.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from assistant.session.records import (
    AdapterVersionInfo,
    ConversationInfo,
    LearningEvent,
    LearningStatus,
    MemoryInfo,
    MessageInfo,
    SearchHit,
)

ProgressFn = Callable[[int, int], None]


class SettingsLike(Protocol):
    """The user's settings, by dotted key ("voice.send_immediately", "ui.theme" ...)."""

    def get(self, key: str, default: Any = ...) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


class ReplyLike(Protocol):
    """A streaming reply: iterate for the text pieces; afterwards read what it produced."""

    @property
    def text(self) -> str: ...

    @property
    def message_id(self) -> int | None:
        """The stored reply's id."""
        ...

    @property
    def cut(self) -> bool:
        """Whether it was stopped before its end (what was shown is kept)."""
        ...

    @property
    def tokens_per_s(self) -> float: ...

    @property
    def memory_used(self) -> list[str]:
        """The snippets of its `<|memory|>` block."""
        ...

    @property
    def remembered(self) -> list[MemoryInfo]:
        """The memories kept from the user's message (none in a temporary chat); undo one with
        `SessionLike.delete_memory`."""
        ...

    def __iter__(self) -> Iterator[str]: ...

    def close(self) -> None:
        """Stop early (the text shown so far is kept, marked cut)."""
        ...


class SessionLike(Protocol):
    """One user's unlocked assistant, as the terminal UI sees it."""

    @property
    def model_name(self) -> str: ...

    @property
    def settings(self) -> SettingsLike: ...

    # --- conversations ----------------------------------------------------------------------

    @property
    def current(self) -> ConversationInfo | None:
        """The selected conversation (None: none yet, or it was deleted)."""
        ...

    def conversations(self) -> list[ConversationInfo]:
        """Every conversation, most recently updated first (temporary ones included)."""
        ...

    def damaged_records(self) -> list[str]:
        """The damaged records reads have left out so far (one sentence each; `assistant verify`)."""
        ...

    def new_conversation(self, title: str | None = None, *, temporary: bool = False) -> ConversationInfo:
        """Start a conversation and select it."""
        ...

    def select(self, conversation_id: int) -> None:
        """Make it the one `send` writes to (`RecordNotFound` if there is none)."""
        ...

    def rename(self, conversation_id: int, title: str) -> None: ...

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete it; what was learned from it is unlearned in the background."""
        ...

    def messages(self, conversation_id: int) -> list[MessageInfo]: ...

    def send(self, text: str, *, cancel: threading.Event | None = None) -> ReplyLike:
        """Store `text` in the selected conversation; the reply streams while it is iterated."""
        ...

    # --- memories ----------------------------------------------------------------------------

    def memories(self) -> list[MemoryInfo]: ...

    def add_memory(self, text: str) -> MemoryInfo: ...

    def edit_memory(self, memory_id: int, text: str) -> None: ...

    def delete_memory(self, memory_id: int) -> None:
        """Forget it everywhere (store, index, adapters, states that read it)."""
        ...

    def merge_memories(self, memory_ids: list[int], text: str) -> MemoryInfo:
        """Replace several memories by one with `text` (the others are forgotten)."""
        ...

    def memory_count(self) -> int: ...

    def search(self, query: str, k: int = 10) -> list[SearchHit]: ...

    # --- learning ----------------------------------------------------------------------------

    def learning_status(self) -> LearningStatus: ...

    def pause_learning(self) -> None: ...

    def resume_learning(self) -> None: ...

    def adapter_versions(self) -> list[AdapterVersionInfo]: ...

    def rollback(self, version: int | None) -> None:
        """Make a kept version the active one (None: the base model)."""
        ...

    def learning_log(self, limit: int = 100) -> list[LearningEvent]: ...

    def on_learning_event(self, callback: Callable[[LearningEvent], None]) -> None:
        """`callback(event)` for every learning event, on the learner's thread."""
        ...

    # --- the whole store ---------------------------------------------------------------------

    def export(
        self, path: Path | str, export_passphrase: str, *, plaintext: bool = False, progress: ProgressFn | None = None
    ) -> object: ...

    def import_(
        self, path: Path | str, export_passphrase: str, *, merge: bool = False, progress: ProgressFn | None = None
    ) -> object: ...

    def reset(self) -> object:
        """Destroy everything; the session is closed afterwards."""
        ...

    def close(self) -> None: ...
