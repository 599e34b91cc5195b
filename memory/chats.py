"""Conversations, their messages and their recurrent states.

Message ids are random (`StoreBase._next_ids`), so a message's place in time is sealed inside it:
`order`, taken from a counter sealed in `meta` (`ORDER_KEY`). Lists sort by it; a message written
before this was kept has none and is placed by its id (those ids counted up in order, and the
counter starts above them).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from memory.base import StoreBase
from memory.codec import RowCodec
from memory.errors import CorruptRecord
from memory.forgetting import drop_states_after_edit, drop_states_that_read, states_read
from memory.migrations import link_of
from memory.records import Conversation, Deletion, Message, RecurrentState, Sources

ORDER_KEY = "message_order"
"""The `meta` row holding (sealed) the place the next message takes in the order of all messages."""


class ChatsMixin(StoreBase):
    """Record methods for conversations, messages and recurrent states."""

    # === conversations =======================================================================

    def _conversation(self, codec: RowCodec, ident: int, payload: bytes) -> Conversation:
        obj = codec.open_json("conversations", ident, payload)
        try:
            return Conversation(ident, str(obj["title"]), float(obj["created"]), float(obj["updated"]))
        except (KeyError, TypeError, ValueError):
            raise CorruptRecord("conversations", ident, "payload", "has an unexpected shape") from None

    def _put_conversation(self, codec: RowCodec, conv: Conversation, insert: bool) -> None:
        payload = codec.seal_json(
            "conversations", conv.id, {"title": conv.title, "created": conv.created, "updated": conv.updated}
        )
        if insert:
            self._execute("INSERT INTO conversations (id, payload) VALUES (?, ?)", [conv.id, payload])
        else:
            self._execute("UPDATE conversations SET payload = ? WHERE id = ?", [payload, conv.id])

    def add_conversation(self, title: str = "", *, created: float | None = None) -> Conversation:
        """Start a conversation (its title may be set later with `rename_conversation`)."""
        now = time.time() if created is None else float(created)
        with self.transaction():
            codec = self._require_codec()
            conv = Conversation(self._next_id("conversations"), str(title), now, now)
            self._put_conversation(codec, conv, insert=True)
            self._changed("conversations", "added", conv.id)
        return conv

    def get_conversation(self, conversation_id: int) -> Conversation:
        """The conversation's header; `RecordNotFound` if there is none."""
        with self._lock:
            codec = self._require_codec()
            (payload,) = self._row("conversations", "id", conversation_id, "payload")
            return self._conversation(codec, conversation_id, payload)

    def list_conversations(self, *, skipped: list[CorruptRecord] | None = None) -> list[Conversation]:
        """All readable conversations, most recently updated first.

        A damaged header is left out (and added to `skipped`, and to `Store.skipped`).
        """
        with self._lock:
            codec = self._require_codec()
            rows = self._execute("SELECT id, payload FROM conversations").fetchall()
            convs = self._readable(rows, lambda i, p: self._conversation(codec, i, p), skipped)
        return sorted(convs, key=lambda c: (-c.updated, -c.id))

    def rename_conversation(self, conversation_id: int, title: str) -> Conversation:
        """Set a conversation's title."""
        with self.transaction():
            codec = self._require_codec()
            conv = self.get_conversation(conversation_id)
            conv = Conversation(conv.id, str(title), conv.created, conv.updated)
            self._put_conversation(codec, conv, insert=False)
            self._changed("conversations", "updated", conv.id)
        return conv

    def _touch(self, codec: RowCodec, conversation_id: int, when: float) -> None:
        conv = self.get_conversation(conversation_id)
        if when > conv.updated:
            self._put_conversation(codec, Conversation(conv.id, conv.title, conv.created, when), insert=False)

    def delete_conversation(self, conversation_id: int) -> Deletion:
        """Delete a conversation, its messages and state, and everything learned from them."""
        with self.transaction():
            self._require_codec()
            self._row("conversations", "id", conversation_id, "id")
            message_ids = [r[0] for r in self._execute("SELECT id FROM messages WHERE conversation_id = ?", [conversation_id])]
            replay, adapters = self._unlearn(message_ids, ())
            had_state = self._execute("DELETE FROM states WHERE conversation_id = ?", [conversation_id]).rowcount
            others = drop_states_that_read(self, message_ids)
            self._execute("DELETE FROM messages WHERE conversation_id = ?", [conversation_id])
            self._execute("DELETE FROM conversations WHERE id = ?", [conversation_id])
            for ident in message_ids:
                self._index_remove("message", ident)
            self._changed("messages", "deleted", *message_ids)
            self._changed("conversations", "deleted", conversation_id)
            kept = self._delete_memories_kept_from(message_ids)
        return _with_memories(Deletion(
            conversations=(conversation_id,),
            messages=tuple(message_ids),
            replay_items=replay,
            adapter_versions=adapters,
            states=((conversation_id,) if had_state else ()) + tuple(others),
        ), kept)

    # === messages ============================================================================

    def _message(self, codec: RowCodec, ident: int, conversation_id: int, payload: bytes) -> Message:
        return self._placed_message(codec, ident, conversation_id, payload)[1]

    def _placed_message(self, codec: RowCodec, ident: int, conversation_id: int, payload: bytes) -> tuple[int, Message]:
        """(its place in the order of all messages, the message)."""
        # The conversation is in the associated data: a message moved by SQL fails here.
        obj = codec.open_json("messages", ident, payload, link=link_of("messages", conversation_id))
        try:
            place = obj.get("order", ident)  # written before places were kept: its id counted up in order
            if type(place) is not int:
                raise TypeError("order must be an integer")
            return place, Message(
                ident, conversation_id, str(obj["role"]), str(obj["text"]), float(obj["created"]), bool(obj["cut"])
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise CorruptRecord("messages", ident, "payload", "has an unexpected shape") from None

    def _in_order(
        self, codec: RowCodec, rows: Iterable[tuple[Any, ...]], skipped: list[CorruptRecord] | None
    ) -> list[Message]:
        """The readable messages of `rows` (id, conversation id, payload), oldest first."""
        placed = self._readable(rows, lambda *row: self._placed_message(codec, *row), skipped)
        return [msg for _, msg in sorted(placed, key=lambda pm: (pm[0], pm[1].id))]

    def _next_place(self, codec: RowCodec, *, take: bool) -> int:
        """The place the next message takes (and, with `take`, count it as taken).

        Where the counter is missing or unreadable (a new store; after a rekey, which copies only
        the user's tables; damage) it starts again above every readable message's place.
        """
        row = self._execute("SELECT value FROM meta WHERE key = ?", [ORDER_KEY]).fetchone()
        place = None
        if row is not None:
            try:
                place = int(codec.open("meta", "value", ORDER_KEY, row[0]).decode("ascii"))
            except (CorruptRecord, UnicodeDecodeError, ValueError):
                place = None
        if place is None:
            place = 1
            for ident, conversation_id, payload in self._execute("SELECT id, conversation_id, payload FROM messages").fetchall():
                try:
                    place = max(place, self._placed_message(codec, ident, conversation_id, payload)[0] + 1)
                except CorruptRecord:
                    continue
        if take:
            self._execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [ORDER_KEY, codec.seal("meta", "value", ORDER_KEY, str(place + 1).encode("ascii"))],
            )
        return place

    def _put_message(self, codec: RowCodec, msg: Message, insert: bool, place: int | None = None) -> None:
        """Write a message; a new one takes the next place unless `place` is given."""
        if place is None:
            place = self._next_place(codec, take=True)
        payload = codec.seal_json(
            "messages",
            msg.id,
            {"role": msg.role, "text": msg.text, "created": msg.created, "cut": msg.cut, "order": place},
            link=link_of("messages", msg.conversation_id),
        )
        if insert:
            self._execute(
                "INSERT INTO messages (id, conversation_id, payload) VALUES (?, ?, ?)",
                [msg.id, msg.conversation_id, payload],
            )
        else:
            self._execute(
                "UPDATE messages SET payload = ? WHERE id = ? AND conversation_id = ?", [payload, msg.id, msg.conversation_id]
            )
        self._index_add("message", msg.id, msg.text, msg.conversation_id, msg.role)

    def add_message(
        self, conversation_id: int, role: str, text: str, *, cut: bool = False, created: float | None = None
    ) -> Message:
        """Append a message to a conversation (`role` such as "user" or "assistant")."""
        if not isinstance(role, str) or not role:
            raise ValueError("role must be a non-empty string such as 'user' or 'assistant'")
        now = time.time() if created is None else float(created)
        with self.transaction():
            codec = self._require_codec()
            self._touch(codec, conversation_id, now)
            msg = Message(self._next_id("messages"), conversation_id, role, str(text), now, bool(cut))
            self._put_message(codec, msg, insert=True)
            self._changed("messages", "added", msg.id)
        return msg

    def add_turn(
        self,
        conversation_id: int,
        user_text: str,
        reply_text: str,
        *,
        cut: bool = False,
        state: bytes | None = None,
        state_tag: str = "",
        created: float | None = None,
    ) -> tuple[Message, Message]:
        """Write one exchange atomically: the user's message, the reply and (optionally) the new state.

        After a crash either the whole turn is there or none of it is.
        """
        now = time.time() if created is None else float(created)
        with self.transaction():
            user = self.add_message(conversation_id, "user", user_text, created=now)
            reply = self.add_message(conversation_id, "assistant", reply_text, cut=cut, created=now)
            if state is not None:
                self.save_state(conversation_id, state, state_tag, updated=now)
        return user, reply

    def get_message(self, message_id: int) -> Message:
        """One message; `RecordNotFound` if there is none."""
        return self._get_placed_message(message_id)[1]

    def _get_placed_message(self, message_id: int) -> tuple[int, Message]:
        with self._lock:
            codec = self._require_codec()
            conversation_id, payload = self._row("messages", "id", message_id, "conversation_id, payload")
            return self._placed_message(codec, message_id, conversation_id, payload)

    def list_messages(self, conversation_id: int, *, skipped: list[CorruptRecord] | None = None) -> list[Message]:
        """A conversation's readable messages, oldest first (damaged ones left out, as in
        `list_conversations`)."""
        with self._lock:
            codec = self._require_codec()
            rows = self._execute(
                "SELECT id, conversation_id, payload FROM messages WHERE conversation_id = ?", [conversation_id]
            ).fetchall()
            return self._in_order(codec, rows, skipped)

    def count_messages(self, conversation_id: int | None = None) -> int:
        """How many messages (in one conversation, or in all)."""
        with self._lock:
            self._require_codec()
            if conversation_id is None:
                return self._execute("SELECT count(*) FROM messages").fetchone()[0]
            return self._execute("SELECT count(*) FROM messages WHERE conversation_id = ?", [conversation_id]).fetchone()[0]

    def update_message(self, message_id: int, *, text: str | None = None, cut: bool | None = None) -> Message:
        """Change a message's text or `cut` flag (for example when an interrupted reply is kept).

        A new text drops every saved state that may have read the old one (`memory.forgetting`):
        its conversation's state if saved after the message was written, and the states that
        recalled it. What was learned from the old text is not unlearned here; call `unlearn` for that.
        """
        with self.transaction():
            codec = self._require_codec()
            place, old = self._get_placed_message(message_id)
            msg = Message(
                old.id,
                old.conversation_id,
                old.role,
                old.text if text is None else str(text),
                old.created,
                old.cut if cut is None else bool(cut),
            )
            self._put_message(codec, msg, insert=False, place=place)
            self._changed("messages", "updated", msg.id)
            if msg.text != old.text:
                drop_states_after_edit(self, msg.id, msg.conversation_id, place)
        return msg

    def delete_message(self, message_id: int) -> Deletion:
        """Delete a message and everything learned from it.

        The conversation's recurrent state has absorbed the message, so it is dropped too (the
        session rebuilds it from the remaining history).
        """
        with self.transaction():
            self._require_codec()
            (conversation_id,) = self._row("messages", "id", message_id, "conversation_id")
            replay, adapters = self._unlearn([message_id], ())
            had_state = self._execute("DELETE FROM states WHERE conversation_id = ?", [conversation_id]).rowcount
            others = drop_states_that_read(self, [message_id])
            self._execute("DELETE FROM messages WHERE id = ?", [message_id])
            self._index_remove("message", message_id)
            self._changed("messages", "deleted", message_id)
            if had_state:
                self._changed("states", "deleted", conversation_id)
            kept = self._delete_memories_kept_from([message_id])
        return _with_memories(Deletion(
            messages=(message_id,),
            replay_items=replay,
            adapter_versions=adapters,
            states=((conversation_id,) if had_state else ()) + tuple(others),
        ), kept)

    # === recurrent states ====================================================================

    def save_state(
        self,
        conversation_id: int,
        data: bytes,
        tag: str,
        *,
        updated: float | None = None,
        read: Sources | None = None,
        carry: bool = False,
    ) -> RecurrentState:
        """Store (replacing) a conversation's recurrent state and the model/adapter tag it fits.

        `read`: the messages of other conversations and the memories the state has read (recalled
        into its memory blocks), sealed with it so that deleting any of them drops the state
        (`memory.forgetting`). `carry`: the state continues the saved one, so what that one
        had read is kept in the record too.
        """
        now = time.time() if updated is None else float(updated)
        with self.transaction():
            codec = self._require_codec()
            self._row("conversations", "id", conversation_id, "id")
            known: Sources | None = read if read is not None else Sources()
            if self._execute("SELECT 1 FROM states WHERE conversation_id = ?", [conversation_id]).fetchone():
                self._overwrote()
                if carry:  # what the continued state read stays read (unknown stays unknown)
                    before = dict(states_read(self)).get(conversation_id)
                    known = None if before is None or known is None else known | before
            state = RecurrentState(conversation_id, bytes(data), str(tag), now, known)
            self._put_state(codec, state, replace=True)
            self._changed("states", "updated", conversation_id)
        return state

    def _put_state(self, codec: RowCodec, state: RecurrentState, *, replace: bool) -> None:
        """Write a state row: its tag, what else it read (`read`, None: unknown) and `upto`, the
        next message's place at this moment (the state may have read any message placed before)."""
        meta: dict[str, object] = {"tag": state.tag, "updated": state.updated, "upto": self._next_place(codec, take=False)}
        if state.read is not None:
            meta["read"] = state.read.to_json()
        cid = state.conversation_id
        self._execute(
            f"INSERT {'OR REPLACE ' if replace else ''}INTO states (conversation_id, payload, blob) VALUES (?, ?, ?)",
            [cid, codec.seal_json("states", cid, meta), codec.seal("states", "blob", cid, state.data)],
        )

    def load_state(self, conversation_id: int) -> RecurrentState | None:
        """A conversation's saved state, or None if it has none."""
        with self._lock:
            codec = self._require_codec()
            row = self._execute("SELECT payload, blob FROM states WHERE conversation_id = ?", [conversation_id]).fetchone()
            if row is None:
                return None
            return self._state(codec, conversation_id, *row)

    def _state(self, codec: RowCodec, conversation_id: int, payload: bytes, blob: bytes) -> RecurrentState:
        obj = codec.open_json("states", conversation_id, payload)
        data = codec.open("states", "blob", conversation_id, blob)
        try:
            read = Sources.from_json(obj["read"]) if "read" in obj else None
            return RecurrentState(conversation_id, data, str(obj["tag"]), float(obj["updated"]), read)
        except (KeyError, TypeError, ValueError):
            raise CorruptRecord("states", conversation_id, "payload", "has an unexpected shape") from None

    def delete_state(self, conversation_id: int) -> bool:
        """Drop a conversation's state; whether there was one."""
        with self.transaction():
            found = self._execute("DELETE FROM states WHERE conversation_id = ?", [conversation_id]).rowcount > 0
            if found:
                self._changed("states", "deleted", conversation_id)
        return found


def _with_memories(deletion: Deletion, kept: list[Deletion]) -> Deletion:
    """`deletion` plus the deletions of the memories kept from its messages."""
    if not kept:
        return deletion

    def union(field: str) -> tuple[int, ...]:
        return tuple(sorted({*getattr(deletion, field), *(i for d in kept for i in getattr(d, field))}))

    return Deletion(
        conversations=deletion.conversations, messages=deletion.messages, memories=union("memories"),
        replay_items=union("replay_items"), adapter_versions=union("adapter_versions"), states=union("states"),
    )
