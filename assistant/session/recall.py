"""The recall policy: what a turn's `<|memory|>` block holds.

Snippets come from other conversations (the current one is in the state already) and from
memories. Only the user's own statements count: the assistant's past replies are left out by the
store's query itself (`roles=("user",)`), so the assistant never quotes itself as fact; and a
question or a bare "hi" tells nothing (a greeting matched by "Hi! What's my name?" pushed out
facts), so those are skipped here.

A message that a memory was kept from is stood for by its memory (which the user may have
edited, and whose uses are counted), so the message itself is left out. Facts change: a memory
superseded by a newer one about the same thing ("I moved to Oslo") is left out too, unless the
question is about the past ("where did I live before?"): then it stays where the ranking put
it. The store's ranking itself is not touched; this filters its results.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from assistant.session.conversations import Conversation

if TYPE_CHECKING:
    from assistant.settings import Settings
    from assistant.store import Snippet, Store
    from memory.records import Change

log = logging.getLogger(__name__)

RECALLED_ROLES = ("user",)

_PAST = re.compile(
    r"\b(before|used to|previous(ly)?|last (year|month|week|time)|(?<!how )old|former(ly)?|earlier|"
    r"originally|in the past|no longer|any ?more)\b",
    re.IGNORECASE,
)


def about_the_past(text: str) -> bool:
    """Whether a question asks how things were ("before", "used to", "last year", "my old job")."""
    return _PAST.search(text) is not None


def tells_something(text: str) -> bool:
    """Whether a recalled message states something (not a question, at least three words)."""
    return not text.rstrip().endswith("?") and len(text.split()) >= 3


class RecallPolicy:
    """Picks the snippets of a turn's memory block (`recall.k` of them at most)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._stale: tuple[frozenset[int], frozenset[int]] | None = None
        store.add_listener(self._memories_changed)

    def _memories_changed(self, change: Change) -> None:
        if change.table in ("memories", "*"):  # "*": a restore or a reset
            self._stale = None

    def stale(self) -> tuple[frozenset[int], frozenset[int]]:
        """The superseded memories' ids, and the ids of the messages memories were kept from."""
        stale = self._stale
        if stale is None:
            memories = self.store.list_memories()
            stale = (
                frozenset(m.id for m in memories if m.status == "superseded"),
                frozenset(m.message_id for m in memories if m.message_id is not None),
            )
            self._stale = stale
        return stale

    def count_used(self, sources: Iterable[tuple[str, int]]) -> None:
        """Count one use of each memory that went into a block."""
        ids = [ident for kind, ident in sources if kind == "memory"]
        if ids:
            self.store.count_memory_use(ids)

    def snippets(self, text: str, conversation: Conversation) -> list[str]:
        """The texts of the memory block (see `hits`)."""
        return [hit.text for hit in self.hits(text, conversation)]

    def hits(self, text: str, conversation: Conversation) -> list[Snippet]:
        """The recall hits whose texts make the memory block, with where each came from (so a
        state that reads them can record it: forgetting must reach that state too)."""
        k = int(self.settings.get("recall.k"))
        if k <= 0:
            return []
        # Questions and short greetings that repeat the question's words can fill the best hits,
        # so look further down the ranking until k are found.
        want = 3 * k
        old_memories, kept_messages = self.stale()
        if about_the_past(text):
            old_memories = frozenset()
        while True:
            found = self.store.recall(text, want, exclude_conversation=conversation.stored_id, roles=RECALLED_ROLES)
            chosen: list[Snippet] = []
            for hit in found:
                if hit.kind == "message" and not tells_something(hit.text):
                    continue
                if hit.kind == "memory" and hit.id in old_memories:
                    continue  # superseded: a newer statement holds
                if hit.kind == "message" and hit.id in kept_messages:
                    continue  # its memory stands for it (current, edited, or superseded)
                if hit.text.strip() and hit.text not in [c.text for c in chosen]:
                    chosen.append(hit)
                if len(chosen) == k:
                    return chosen
            if len(found) < want or want >= 100 * k:
                return chosen
            want *= 4

    def warm(self) -> None:
        """Build the recall index ahead of the first turn (in a background thread)."""
        try:
            self.store.build_recall_index()
        except Exception:  # locked or closed meanwhile: the first recall builds it instead
            log.debug("recall index warm-up skipped", exc_info=True)
