"""The records the store hands out: plain frozen dataclasses, decrypted, never tied to a connection.

Times are seconds since the epoch (`time.time()`), stored encrypted like everything else that
reveals when the user talks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SOURCE_KINDS = ("message", "memory")
"""What a replay item (or what an adapter version saw) can come from."""


@dataclass(frozen=True)
class Conversation:
    """A conversation's header. Its messages are listed with `Store.list_messages`."""

    id: int
    title: str
    created: float
    updated: float


@dataclass(frozen=True)
class Message:
    """One message. `cut` marks a reply that was interrupted before it finished."""

    id: int
    conversation_id: int
    role: str
    text: str
    created: float
    cut: bool = False


@dataclass(frozen=True)
class RecurrentState:
    """A conversation's saved recurrent state: opaque bytes and the model/adapter tag they fit."""

    conversation_id: int
    data: bytes
    tag: str
    updated: float
    read: Sources | None = field(default=None, compare=False)
    """What else the state has read besides its own conversation's messages: the messages of
    other conversations and the memories recalled into its `<|memory|>` blocks (None: not recorded,
    a state saved before this was kept, or imported from an export that did not carry it). Bookkeeping, left
    out of comparisons."""


@dataclass(frozen=True)
class Sources:
    """Ids of what something was derived from (a replay item) or trained on (an adapter version)."""

    message_ids: frozenset[int] = frozenset()
    memory_ids: frozenset[int] = frozenset()
    replay_ids: frozenset[int] = frozenset()

    def __or__(self, other: Sources) -> Sources:
        return Sources(
            self.message_ids | other.message_ids,
            self.memory_ids | other.memory_ids,
            self.replay_ids | other.replay_ids,
        )

    def __bool__(self) -> bool:
        return bool(self.message_ids or self.memory_ids or self.replay_ids)

    def intersects(self, other: Sources) -> bool:
        """Whether the two share any message, memory or replay-item id."""
        return bool(
            self.message_ids & other.message_ids
            or self.memory_ids & other.memory_ids
            or self.replay_ids & other.replay_ids
        )

    def to_json(self) -> dict[str, list[int]]:
        """The ids as JSON lists (sealed inside adapter-version and replay-item payloads)."""
        return {
            "messages": sorted(self.message_ids),
            "memories": sorted(self.memory_ids),
            "replay_items": sorted(self.replay_ids),
        }

    @classmethod
    def from_json(cls, obj: object) -> Sources:
        """Read `to_json`'s output; `ValueError` if it has another shape."""
        if not isinstance(obj, dict):
            raise ValueError("sources must be a JSON object")
        groups = []
        for name in ("messages", "memories", "replay_items"):
            ids = obj.get(name, [])
            if not isinstance(ids, list) or not all(type(i) is int for i in ids):
                raise ValueError(f"sources.{name} must be a list of integer ids")
            groups.append(frozenset(ids))
        return cls(*groups)


@dataclass(frozen=True)
class AdapterInfo:
    """An adapter version without its weights (cheap to list).

    `seen` is cumulative: it includes everything the parent version saw, and the messages and
    memories behind every replay item seen, so deleting any of them finds this version even after
    the replay item itself was evicted.
    """

    version: int
    metrics: dict[str, Any]
    created: float
    parent: int | None = None
    seen: Sources = field(default_factory=Sources)


@dataclass(frozen=True)
class AdapterVersion(AdapterInfo):
    """An adapter version with its weights (`data`, opaque bytes such as safetensors)."""

    data: bytes = b""


@dataclass(frozen=True)
class ReplayItem:
    """One exchange kept in the replay buffer, with the messages or memories it came from."""

    id: int
    text: str
    created: float
    sources: Sources = field(default_factory=Sources)


MEMORY_STATUSES = ("current", "superseded")


@dataclass(frozen=True)
class Memory:
    """A user-visible fact the assistant keeps (the user can read, edit and delete it).

    Kept by hand or automatically from what the user said: then `conversation_id` and
    `message_id` say where and `said_at` when. `slot` names what the fact is about ("home",
    "manager" ...); a newer memory with the same slot supersedes this one (`superseded_by`,
    `superseded_at`): it stays, marked. `times_used` counts the memory blocks it went into.
    Everything but the id is sealed inside the row's encrypted payload; a row written before
    these fields existed reads with the defaults.
    """

    id: int
    text: str
    created: float
    updated: float
    conversation_id: int | None = None
    message_id: int | None = None
    said_at: float | None = None
    slot: str | None = None
    times_used: int = 0
    superseded_by: int | None = None
    superseded_at: float | None = None

    @property
    def status(self) -> str:
        """"current", or "superseded" once a newer memory took its place."""
        return "current" if self.superseded_by is None else "superseded"


@dataclass(frozen=True)
class LogEvent:
    """One entry of the learning log (an update, a rollback, an unlearning ...)."""

    id: int
    kind: str
    detail: dict[str, Any]
    time: float


@dataclass(frozen=True)
class Snippet:
    """A recall hit: the text of a past message or memory, where it came from and its BM25 score."""

    kind: str  # "message" or "memory"
    id: int
    text: str
    score: float
    conversation_id: int | None = None


@dataclass(frozen=True)
class Deletion:
    """What a deletion removed, so the learner can retrain from what remains.

    `adapter_versions` are the versions that had seen any removed item (they are deleted too);
    `states` are the conversations whose recurrent state was dropped because it had absorbed a
    removed message.
    """

    conversations: tuple[int, ...] = ()
    messages: tuple[int, ...] = ()
    memories: tuple[int, ...] = ()
    replay_items: tuple[int, ...] = ()
    adapter_versions: tuple[int, ...] = ()
    states: tuple[int, ...] = ()


@dataclass(frozen=True)
class Change:
    """A committed change, as told to listeners: `action` is "added", "updated" or "deleted"."""

    table: str
    action: str
    ids: tuple[Any, ...]


@dataclass
class Snapshot:
    """Everything in a store, decrypted: what an export holds and an import restores."""

    conversations: list[Conversation] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    states: list[RecurrentState] = field(default_factory=list)
    adapter_versions: list[AdapterVersion] = field(default_factory=list)
    replay_items: list[ReplayItem] = field(default_factory=list)
    memories: list[Memory] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    learning_log: list[LogEvent] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many records of each kind the snapshot holds."""
        return {
            "conversations": len(self.conversations),
            "messages": len(self.messages),
            "states": len(self.states),
            "adapter_versions": len(self.adapter_versions),
            "replay_items": len(self.replay_items),
            "memories": len(self.memories),
            "settings": len(self.settings),
            "learning_log": len(self.learning_log),
        }
