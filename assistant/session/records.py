"""The records the interfaces see: plain frozen dataclasses, no behaviour.

The screens, the command line and the test fake all import these; a session (real or fake) hands
out nothing else. Times are local `datetime`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ConversationInfo:
    id: int
    title: str
    updated_at: datetime
    message_count: int
    temporary: bool = False


@dataclass(frozen=True)
class MessageInfo:
    id: int
    role: str  # "user" or "assistant"
    text: str
    created_at: datetime
    cut: bool = False
    conversation_id: int | None = None


@dataclass(frozen=True)
class MemoryInfo:
    id: int
    text: str
    created_at: datetime
    conversation_id: int | None = None  # where it was said (None: typed in by hand)
    said_at: datetime | None = None  # when it was said (None: typed in by hand)
    times_used: int = 0  # how many memory blocks it went into
    status: str = "current"  # "current" or "superseded"
    superseded_by: int | None = None  # the memory that took its place
    superseded_at: datetime | None = None
    slot: str | None = None  # what it is about ("home", "manager" ...), where known


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "message" or "memory"
    id: int
    conversation_id: int | None
    text: str
    score: float


@dataclass(frozen=True)
class LearningStatus:
    state: str  # "idle", "learning", "paused", "rolled back" or "unlearning"
    version: int | None  # the active adapter version (None: the base model)
    pending: int  # jobs waiting
    last_event: str


@dataclass(frozen=True)
class AdapterVersionInfo:
    version: int
    created_at: datetime
    personal_loss: float | None
    anchor_loss: float | None
    base_anchor_loss: float | None
    accepted: bool
    kept_reason: str
    kind: str = "update"  # "update", "memory" or "retrain"
    active: bool = False


@dataclass(frozen=True)
class LearningEvent:
    at: datetime
    kind: str  # "update", "rejected", "rollback", "unlearning", "retrained", "progress", "state" ...
    detail: str


def local_time(ts: float) -> datetime:
    """A stored timestamp (seconds since the epoch) as the records give it."""
    return datetime.fromtimestamp(ts)
