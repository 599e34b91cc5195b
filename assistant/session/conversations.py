"""Conversations, of two kinds: stored ones (rows in the encrypted store) and temporary chats.

A temporary chat lives in its object only: no row, no replay item, no adapter change, gone when
the session closes. Both kinds answer the same `Conversation` protocol, so a turn, the recall
policy and the session never ask which kind they hold. `Conversations` keeps them all and knows
which one is selected.

Temporary chats take ids from their own counter, counting down from -1, so an id names one
conversation (or message) of either kind.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from assistant.session.records import ConversationInfo, MessageInfo, local_time
from assistant.session.reply import ReplyState
from assistant.session.runtime import ModelRuntime
from assistant.session.states import StateKeeper
from memory.errors import RecordNotFound
from memory.records import Sources

if TYPE_CHECKING:
    from assistant.learning import LearningScheduler
    from assistant.store import Store

log = logging.getLogger(__name__)

TITLE_CHARS = 48
TEMPORARY_TITLE = "Temporary chat"


def title_from(text: str) -> str:
    """A conversation's title from its first message: one line, at most `TITLE_CHARS`."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


class Conversation(Protocol):
    """What the session and a turn need of a conversation, whichever kind it is."""

    @property
    def id(self) -> int: ...

    @property
    def stored_id(self) -> int | None:
        """Its id in the store (None: nothing of it is stored, so recall has nothing to leave out)."""
        ...

    def info(self) -> ConversationInfo: ...

    def rename(self, title: str) -> None: ...

    def messages(self) -> list[MessageInfo]: ...

    def delete(self) -> None: ...

    def begin_turn(self, text: str) -> ReplyState:
        """Write the user's message and an empty reply (marked cut until it is finished)."""
        ...

    def resume(self, before: int | None, reply: ReplyState | None = None) -> tuple[Any, int | None]:
        """The state to answer from, having read the messages before message `before` (None: all),
        and the adapter version it belongs to. Generation lock held."""
        ...

    def save_progress(self, reply: ReplyState) -> None:
        """The reply so far, kept in case of a crash."""
        ...

    def finish(self, reply: ReplyState, state: Any, version: int | None, learn: bool) -> None:
        """The reply is done: keep it and the state that read it (and, if `learn`, learn from it)."""
        ...

    def keep_cut(self, reply: ReplyState) -> None:
        """A reply that did not finish keeps what was shown, marked cut."""
        ...


# === stored ======================================================================================


class StoredConversation:
    """A conversation kept in the store: its rows, its saved state, what was learned from it."""

    def __init__(
        self, ident: int, store: Store, states: StateKeeper, learning: LearningScheduler, runtime: ModelRuntime
    ) -> None:
        self.id = ident
        self.store = store
        self.states = states
        self.learning = learning
        self.runtime = runtime

    @property
    def stored_id(self) -> int:
        return self.id

    def info(self) -> ConversationInfo:
        conv = self.store.get_conversation(self.id)
        return ConversationInfo(conv.id, conv.title, local_time(conv.updated), self.store.count_messages(conv.id))

    def rename(self, title: str) -> None:
        self.store.rename_conversation(self.id, title)

    def messages(self) -> list[MessageInfo]:
        return [
            MessageInfo(m.id, m.role, m.text, local_time(m.created), m.cut, m.conversation_id)
            for m in self.store.list_messages(self.id)
        ]

    def delete(self) -> None:
        """Delete it; what was learned from it is unlearned in the background."""
        self.learning.forget(lambda: self.store.delete_conversation(self.id), "conversation deleted")
        self.states.unpin(self.id)

    def begin_turn(self, text: str) -> ReplyState:
        with self.store.transaction():
            if not self.store.get_conversation(self.id).title:
                self.store.rename_conversation(self.id, title_from(text))
            user = self.store.add_message(self.id, "user", text)
            bot = self.store.add_message(self.id, "assistant", "", cut=True)
        return ReplyState(self.id, bot.id, user.id)

    def resume(self, before: int | None, reply: ReplyState | None = None) -> tuple[Any, int | None]:
        history = self.store.list_messages(self.id)  # oldest first; ids are random, so cut by position
        if before is not None:
            history = history[: next((i for i, m in enumerate(history) if m.id == before), len(history))]
        return self.states.resume_saved(self.id, history, reply)

    def save_progress(self, reply: ReplyState) -> None:
        self.store.update_message(reply.message_id, text=reply.text)

    def finish(self, reply: ReplyState, state: Any, version: int | None, learn: bool) -> None:
        """Store the finished reply, the new state and (if learning) the job, in one transaction."""
        data = self.states.to_bytes(state, reply.message_id)
        with self.store.transaction():
            self.store.update_message(reply.message_id, text=reply.text, cut=reply.cut)
            # What the state read besides this conversation: the recalled messages and memories
            # (kept with it, so deleting any of them drops it); a continued state keeps what it had read.
            read = Sources(
                frozenset(i for kind, i in reply.memory_sources if kind == "message"),
                frozenset(i for kind, i in reply.memory_sources if kind == "memory"),
            )
            self.store.save_state(self.id, data, self.states.tag(version), read=read, carry=not reply.reread)
            self.states.pin(self.id, version)
            if learn:
                self.learning.enqueue_exchange(reply.user_message_id, reply.message_id)
        self.learning.after_commit()

    def keep_cut(self, reply: ReplyState) -> None:
        if self.runtime.closed:
            return
        try:
            self.store.update_message(reply.message_id, text=reply.text, cut=True)
        except Exception:  # the store may be closing under us; the row stays marked cut
            log.exception("could not store the cut reply %s", reply.message_id)


# === temporary ===================================================================================


class TemporaryConversation:
    """A temporary chat: its messages and its state live in this object only."""

    stored_id = None

    def __init__(self, ident: int, title: str, ids: Callable[[], int], states: StateKeeper) -> None:
        self.id = ident
        self.title = title
        self.updated_at = datetime.now()
        self._messages: list[MessageInfo] = []
        self._ids = ids
        self._states = states
        self._lock = threading.Lock()
        self._state: Any = None
        self._version: int | None = None
        self._last: int | None = None  # the last message the state has read

    def info(self) -> ConversationInfo:
        with self._lock:
            return ConversationInfo(self.id, self.title, self.updated_at, len(self._messages), True)

    def rename(self, title: str) -> None:
        with self._lock:
            self.title = title

    def messages(self) -> list[MessageInfo]:
        with self._lock:
            return list(self._messages)

    def has_message(self, message_id: int) -> bool:
        with self._lock:
            return any(m.id == message_id for m in self._messages)

    def delete_message(self, message_id: int) -> None:
        """Drop one message; the state is rebuilt from the rest at the next turn."""
        with self._lock:
            self._messages = [m for m in self._messages if m.id != message_id]
            self._state, self._last = None, None

    def delete(self) -> None:
        """Nothing to unlearn: it was never learned from."""

    def begin_turn(self, text: str) -> ReplyState:
        with self._lock:
            now = datetime.now()
            user_id, bot_id = self._ids(), self._ids()
            self._messages.append(MessageInfo(user_id, "user", text, now, False, self.id))
            self._messages.append(MessageInfo(bot_id, "assistant", "", now, True, self.id))
            if self.title == TEMPORARY_TITLE and len(self._messages) == 2:
                self.title, self.updated_at = title_from(text), now
        return ReplyState(self.id, bot_id, user_id)

    def resume(self, before: int | None, reply: ReplyState | None = None) -> tuple[Any, int | None]:
        with self._lock:
            history = _until(self._messages, before)
            unread = history[_position(history, self._last) + 1 :] if self._last is not None else history
            state, version = self._state, self._version
        return self._states.resume_held(state, version, unread, history)

    def save_progress(self, reply: ReplyState) -> None:
        """Nothing to save: it is in memory already (the text lives in the reply until it finishes)."""

    def finish(self, reply: ReplyState, state: Any, version: int | None, learn: bool) -> None:
        with self._lock:
            self._set_reply(reply, cut=reply.cut)
            self._state, self._version, self._last = state, version, reply.message_id
            self.updated_at = datetime.now()

    def keep_cut(self, reply: ReplyState) -> None:
        with self._lock:
            self._set_reply(reply, cut=True)
            self._state = None  # it did not read the reply: re-read next time

    def _set_reply(self, reply: ReplyState, *, cut: bool) -> None:
        self._messages = [
            MessageInfo(m.id, m.role, reply.text, m.created_at, cut, m.conversation_id) if m.id == reply.message_id else m
            for m in self._messages
        ]


def _until(messages: Sequence[MessageInfo], message_id: int | None) -> list[MessageInfo]:
    """The messages before `message_id` (all of them if it is None or not there)."""
    at = _position(messages, message_id)
    return list(messages[:at]) if at >= 0 else list(messages)


def _position(messages: Sequence[MessageInfo], message_id: int | None) -> int:
    return next((i for i, m in enumerate(messages) if m.id == message_id), -1)


# === all of them =================================================================================


class Conversations:
    """Every conversation of the session, stored and temporary, and the one selected."""

    def __init__(self, store: Store, states: StateKeeper, learning: LearningScheduler, runtime: ModelRuntime) -> None:
        self.store = store
        self.states = states
        self.learning = learning
        self.runtime = runtime
        self._temporary: dict[int, TemporaryConversation] = {}
        self._counter = itertools.count(-1, -1)
        self._lock = threading.Lock()
        self._current: int | None = None

    def _next_temporary_id(self) -> int:
        with self._lock:
            return next(self._counter)

    def _stored(self, ident: int) -> StoredConversation:
        return StoredConversation(ident, self.store, self.states, self.learning, self.runtime)

    def get(self, conversation_id: int) -> Conversation:
        """The conversation with that id (its existence is checked when it is used)."""
        with self._lock:
            temp = self._temporary.get(conversation_id)
        return temp if temp is not None else self._stored(conversation_id)

    def info(self, conversation_id: int) -> ConversationInfo:
        """Raises `RecordNotFound` if there is no such conversation."""
        return self.get(conversation_id).info()

    def all(self) -> list[ConversationInfo]:
        """Every conversation, most recently updated first (temporary ones included)."""
        result = [
            ConversationInfo(c.id, c.title, local_time(c.updated), self.store.count_messages(c.id))
            for c in self.store.list_conversations()
        ]
        with self._lock:
            temps = list(self._temporary.values())
        result += [t.info() for t in temps]
        return sorted(result, key=lambda c: (c.updated_at, c.id), reverse=True)

    def new(self, title: str | None = None, *, temporary: bool = False) -> ConversationInfo:
        """Start a conversation (from a clean state) and select it."""
        if temporary:
            ident = self._next_temporary_id()
            temp = TemporaryConversation(ident, title or TEMPORARY_TITLE, self._next_temporary_id, self.states)
            with self._lock:
                self._temporary[temp.id] = temp
            info = temp.info()
        else:
            conv = self.store.add_conversation(title or "")
            info = ConversationInfo(conv.id, conv.title, local_time(conv.updated), 0)
        self._current = info.id
        return info

    def find(self, name: str) -> ConversationInfo | None:
        """A conversation by id (digits) or by title (case-insensitive), most recent first."""
        if name.lstrip("-").isdigit():
            try:
                return self.info(int(name))
            except RecordNotFound:
                return None
        wanted = name.strip().casefold()
        return next((c for c in self.all() if c.title.strip().casefold() == wanted), None)

    def delete(self, conversation_id: int) -> None:
        with self._lock:
            temp = self._temporary.pop(conversation_id, None)
        (temp if temp is not None else self._stored(conversation_id)).delete()
        if self._current == conversation_id:
            self._current = None

    def delete_message(self, message_id: int) -> None:
        """Delete one message; its conversation's state is rebuilt from the rest at the next turn."""
        with self._lock:
            temps = list(self._temporary.values())
        for temp in temps:
            if temp.has_message(message_id):
                temp.delete_message(message_id)
                return
        self.learning.forget(lambda: self.store.delete_message(message_id), "message deleted")

    # --- the selected one -----------------------------------------------------------------------

    def select(self, conversation_id: int) -> None:
        self.info(conversation_id)  # raises RecordNotFound if there is none
        self._current = conversation_id

    def deselect(self) -> None:
        self._current = None

    @property
    def current(self) -> ConversationInfo | None:
        if self._current is None:
            return None
        try:
            return self.info(self._current)
        except RecordNotFound:
            self._current = None
            return None

    def current_or_new(self) -> Conversation:
        """The selected conversation, or a new stored one if none is."""
        if self.current is None:
            self.new()
        assert self._current is not None
        return self.get(self._current)
