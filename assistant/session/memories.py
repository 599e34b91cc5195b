"""Memories: what the user asked the assistant to remember, and search over everything kept.

A memory is recalled into the `<|memory|>` block like a past message and learned from; editing
or deleting one unlearns what its old text taught.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.session.records import MemoryInfo, SearchHit, local_time

if TYPE_CHECKING:
    from assistant.learning import LearningScheduler
    from assistant.store import Store


class Memories:
    """The user's memories, learned from as they change."""

    def __init__(self, store: Store, learning: LearningScheduler) -> None:
        self.store = store
        self.learning = learning

    def all(self) -> list[MemoryInfo]:
        return [MemoryInfo(m.id, m.text, local_time(m.created)) for m in self.store.list_memories()]

    def add(self, text: str) -> MemoryInfo:
        if not text or not text.strip():
            raise ValueError("a memory needs some text")
        with self.store.transaction():
            memory = self.store.add_memory(text)
            self.learning.enqueue_memory(memory.id)
        self.learning.after_commit()
        return MemoryInfo(memory.id, memory.text, local_time(memory.created))

    def edit(self, memory_id: int, text: str) -> None:
        """Change a memory: what the old text taught is unlearned, the new text is learned."""
        self.learning.forget(lambda: self.store.unlearn(memory_ids=[memory_id]), "memory edited")
        with self.store.transaction():
            self.store.edit_memory(memory_id, text)
            self.learning.enqueue_memory(memory_id)
        self.learning.after_commit()

    def delete(self, memory_id: int) -> None:
        self.learning.forget(lambda: self.store.delete_memory(memory_id), "memory deleted")

    def count(self) -> int:
        return int(self.store.stats()["memories"])

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        """Messages and memories that match `query` best (all roles: this is the user's search)."""
        return [SearchHit(h.kind, h.id, h.conversation_id, h.text, h.score) for h in self.store.recall(query, k)]
