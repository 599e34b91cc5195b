"""Forgetting that reaches the recurrent states: what each saved state has read, and dropping the
states that read something deleted.

A state records (sealed in its payload, `read`) the messages of other conversations and the
memories recalled into its `<|memory|>` blocks; its own conversation's messages it has read by
definition. Deleting a message, a conversation or a memory drops every state that read any of
them, and every state whose reading is unknown (saved before this was kept, imported from an
export without it, or with a payload that does not open): the session re-reads those
conversations from their own remaining history at their next turn.

Editing is forgetting the old text: a memory's new text drops the states that recalled it, a
message's new text those that recalled it and its own conversation's state where that state was
saved after the message was written (`upto`, the place the next message would have taken then:
see `memory.chats`). A reply written while it streams is so left alone by its own edits.
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
    return [(ident, read) for ident, read, _ in _saved_states(store)]


def _saved_states(store: StoreBase) -> list[tuple[int, Sources | None, int | None]]:
    """(conversation id, what else its state read, its `upto`) per state; None where unknown."""
    codec = store._require_codec()
    result: list[tuple[int, Sources | None, int | None]] = []
    for ident, payload in store._execute("SELECT conversation_id, payload FROM states").fetchall():
        try:
            obj = codec.open_json("states", ident, payload)
            read = Sources.from_json(obj["read"]) if "read" in obj else None
            upto = obj.get("upto")
            result.append((ident, read, upto if type(upto) is int else None))
        except (AttributeError, CorruptRecord, KeyError, ValueError):
            result.append((ident, None, None))
    return result


def _drop(store: StoreBase, dropped: list[int]) -> list[int]:
    if dropped:
        store._delete_ids("states", dropped, key="conversation_id")
        store._changed("states", "deleted", *dropped)
    return dropped


def drop_states_that_read(
    store: StoreBase, message_ids: Iterable[int] = (), memory_ids: Iterable[int] = ()
) -> list[int]:
    """Delete (in the caller's transaction) every saved state that read any of these messages or
    memories, or whose reading is unknown; the conversations whose state was dropped."""
    gone = Sources(frozenset(int(i) for i in message_ids), frozenset(int(i) for i in memory_ids))
    if not gone:
        return []
    return _drop(store, [ident for ident, read, _ in _saved_states(store) if read is None or read.intersects(gone)])


def drop_states_after_edit(store: StoreBase, message_id: int, conversation_id: int, place: int) -> list[int]:
    """Delete (in the caller's transaction) every saved state that may have read the old text of
    message `message_id` (of `conversation_id`, at `place` in the order of messages): the
    conversation's own state where it was saved after the message was written (or when that is
    unknown), the states that recalled it, and those whose reading is unknown."""
    gone = Sources(frozenset({int(message_id)}))
    dropped = []
    for ident, read, upto in _saved_states(store):
        if read is None or read.intersects(gone):
            dropped.append(ident)
        elif ident == conversation_id and (upto is None or upto > place):
            dropped.append(ident)
    return _drop(store, dropped)
