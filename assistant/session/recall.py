"""The recall policy: what a turn's `<|memory|>` block holds.

Snippets come from other conversations (the current one is in the state already) and from
memories. Only the user's own statements count: the assistant's past replies are left out by the
store's query itself (`roles=("user",)`), so the assistant never quotes itself as fact; and a
question or a bare "hi" tells nothing (a greeting matched by "Hi! What's my name?" pushed out
facts), so those are skipped here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from assistant.session.conversations import Conversation

if TYPE_CHECKING:
    from assistant.settings import Settings
    from assistant.store import Snippet, Store

log = logging.getLogger(__name__)

RECALLED_ROLES = ("user",)


def tells_something(text: str) -> bool:
    """Whether a recalled message states something (not a question, at least three words)."""
    return not text.rstrip().endswith("?") and len(text.split()) >= 3


class RecallPolicy:
    """Picks the snippets of a turn's memory block (`recall.k` of them at most)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

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
        while True:
            found = self.store.recall(text, want, exclude_conversation=conversation.stored_id, roles=RECALLED_ROLES)
            chosen: list[Snippet] = []
            for hit in found:
                if hit.kind == "message" and not tells_something(hit.text):
                    continue
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
