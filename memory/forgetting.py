"""Forgetting that reaches the recurrent states: what each saved state has read, and dropping the
states that read something deleted.

A state records (sealed in its payload, `read`) the messages of other conversations and the
memories recalled into its `<|memory|>` blocks; its own conversation's messages it has read by
definition. Deleting a message, a conversation or a memory drops every state that read any of
them, and every state whose reading is unknown (saved before this was kept, imported, or with a
payload that does not open): the session re-reads those conversations from their own remaining
history at their next turn.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from memory.errors import CorruptRecord
from memory.records import Sources

if TYPE_CHECKING:
    from memory.base import StoreBase


def states_read(store: StoreBase) -> list[tuple[int, Sources | None]]:
    """(conversation id, what its saved state read) for every state; None where that is unknown."""
    codec = store._require_codec()
    result: list[tuple[int, Sources | None]] = []
    for ident, payload in store._execute("SELECT conversation_id, payload FROM states").fetchall():
        try:
            obj = codec.open_json("states", ident, payload)
            result.append((ident, Sources.from_json(obj["read"]) if "read" in obj else None))
        except (CorruptRecord, KeyError, ValueError):
            result.append((ident, None))
    return result


def drop_states_that_read(
    store: StoreBase, message_ids: Iterable[int] = (), memory_ids: Iterable[int] = ()
) -> list[int]:
    """Delete (in the caller's transaction) every saved state that read any of these messages or
    memories, or whose reading is unknown; the conversations whose state was dropped."""
    gone = Sources(frozenset(int(i) for i in message_ids), frozenset(int(i) for i in memory_ids))
    if not gone:
        return []
    dropped = [ident for ident, read in states_read(store) if read is None or read.intersects(gone)]
    if dropped:
        store._delete_ids("states", dropped, key="conversation_id")
        store._changed("states", "deleted", *dropped)
    return dropped
