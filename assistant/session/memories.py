"""Memories: what the user told about themselves, kept automatically or typed in, and search.

A memory is recalled into the `<|memory|>` block like a past message and learned from; editing
or deleting one unlearns what its old text taught.

Automatic memories: after each user message in a stored conversation (never a temporary chat)
the detector (`assistant.extraction.find_memories`) proposes candidates in a clean standalone
form; each is kept unless a current memory already says exactly that, and one whose slot
("home", "manager" ...) a current memory has supersedes it: the older stays, marked superseded
with its date. The turn hands what it kept to the interface, which can undo it (`delete`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from assistant.session.records import MemoryInfo, SearchHit, local_time

if TYPE_CHECKING:
    from assistant.learning import LearningScheduler
    from assistant.store import Memory, Store

log = logging.getLogger(__name__)

Detector = Callable[[str], Sequence[Any]]
"""`find_memories(text)`: candidates with `.text`, `.slot` (None: no slot) and `.score`."""


def memory_info(memory: Memory) -> MemoryInfo:
    """A stored memory as the interfaces see it."""
    return MemoryInfo(
        memory.id,
        memory.text,
        local_time(memory.created),
        memory.conversation_id,
        None if memory.said_at is None else local_time(memory.said_at),
        memory.times_used,
        memory.status,
        memory.superseded_by,
        None if memory.superseded_at is None else local_time(memory.superseded_at),
        memory.slot,
    )


def same_text(a: str, b: str) -> bool:
    """Whether two memories say exactly the same (case, spacing and a final full stop aside)."""

    def norm(text: str) -> str:
        return " ".join(text.split()).rstrip(".!").casefold()

    return norm(a) == norm(b)


def _default_detector(text: str) -> Sequence[Any]:
    from assistant.extraction import find_memories  # the detector's model loads on first use, not at import

    return find_memories(text)


class Memories:
    """The user's memories, learned from as they change."""

    def __init__(self, store: Store, learning: LearningScheduler, detect: Detector | None = None) -> None:
        self.store = store
        self.learning = learning
        self.detect = detect or _default_detector

    def all(self) -> list[MemoryInfo]:
        return [memory_info(m) for m in self.store.list_memories()]

    def add(self, text: str) -> MemoryInfo:
        if not text or not text.strip():
            raise ValueError("a memory needs some text")
        with self.store.transaction():
            memory = self.store.add_memory(text.strip())
            self.learning.enqueue_memory(memory.id)
        self.learning.after_commit()
        return memory_info(memory)

    def remember(self, text: str, conversation_id: int, message_id: int, said_at: float | None = None) -> list[MemoryInfo]:
        """Keep what the user's message `text` tells about them (see the module docstring); the
        memories kept, none for a question or small talk. Not queued for learning: the exchange
        they come from is learned already."""
        candidates = [c for c in self.detect(text) if str(c.text).strip()]
        if not candidates:
            return []
        kept: list[Memory] = []
        with self.store.transaction():
            current = [m for m in self.store.list_memories() if m.status == "current"]
            for candidate in candidates:
                wording, slot = str(candidate.text).strip(), candidate.slot or None
                if any(same_text(m.text, wording) for m in current):
                    continue  # said before, and still true
                older = [m.id for m in current if slot is not None and m.slot == slot]
                memory = self.store.add_memory(
                    wording, conversation_id=conversation_id, message_id=message_id, said_at=said_at, slot=slot, supersedes=older
                )
                current = [m for m in current if m.id not in older] + [memory]
                kept.append(memory)
        return [memory_info(m) for m in kept]

    def edit(self, memory_id: int, text: str) -> None:
        """Change a memory: what the old text taught is unlearned, the new text is learned."""
        if not text or not text.strip():
            raise ValueError("a memory needs some text")
        self.learning.forget(lambda: self.store.unlearn(memory_ids=[memory_id]), "memory edited")
        with self.store.transaction():
            self.store.edit_memory(memory_id, text.strip())
            self.learning.enqueue_memory(memory_id)
        self.learning.after_commit()

    def delete(self, memory_id: int) -> None:
        self.learning.forget(lambda: self.store.delete_memory(memory_id), "memory deleted")

    def merge(self, memory_ids: Sequence[int], text: str) -> MemoryInfo:
        """Several memories become one with `text`: it is added (with the first one's source and
        slot), then the others are forgotten the way `delete` forgets."""
        if len(set(memory_ids)) < 2:
            raise ValueError("merging needs two or more memories")
        if not text or not text.strip():
            raise ValueError("a memory needs some text")
        first = self.store.get_memory(memory_ids[0])
        for ident in memory_ids[1:]:
            self.store.get_memory(ident)  # RecordNotFound before anything changes
        with self.store.transaction():
            merged = self.store.add_memory(
                text.strip(), conversation_id=first.conversation_id, message_id=first.message_id, said_at=first.said_at, slot=first.slot
            )
            self.learning.enqueue_memory(merged.id)
        self.learning.after_commit()
        for ident in dict.fromkeys(memory_ids):
            self.delete(ident)
        return memory_info(self.store.get_memory(merged.id))

    def count(self) -> int:
        return int(self.store.stats()["memories"])

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        """Messages and memories that match `query` best (all roles: this is the user's search)."""
        return [SearchHit(h.kind, h.id, h.conversation_id, h.text, h.score) for h in self.store.recall(query, k)]

    def search_memories(self, query: str, k: int = 10) -> list[tuple[MemoryInfo, float]]:
        """The memories that match `query` best, with their scores."""
        found = []
        for hit in self.store.recall(query, k, kinds=("memory",)):
            try:
                found.append((memory_info(self.store.get_memory(hit.id)), hit.score))
            except KeyError:  # deleted since the index saw it
                continue
        return found
