"""The turn: the user's message in, the reply streamed out, both stored as the reply grows.

    prompt(memory, text)      the one place a turn's prompt is built
    Turns.context(...)        what a reply starts from: the resumed state, its adapter, the prompt
    Turns.send(...)           one reply at a time, generated while it is iterated

The user message is written before generation starts; the assistant message is created at once
(empty, marked cut) and rewritten as it streams, so a crash leaves what was shown, marked cut.
Learning never delays a reply: the reply holds the generation lock and sets `generating`, and
the learning worker pauses between its steps while it is set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.errors import ReplyInProgress
from assistant.session.conversations import Conversation
from assistant.session.memories import Memories
from assistant.session.recall import RecallPolicy
from assistant.session.records import MemoryInfo
from assistant.session.reply import Reply, ReplyState
from assistant.session.runtime import ModelRuntime
from core.template import render_memory, render_turn

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger(__name__)

SAVE_EVERY_S = 0.5  # a streaming reply is written to the store at most this often


def prompt(memory: Sequence[str], text: str) -> str:
    """A turn's prompt: the memory block (if any snippets), the user's turn, the assistant's opening."""
    return render_memory(memory) + render_turn("user", text) + render_turn("assistant", "", close=False)


@dataclass
class TurnContext:
    """What a reply to one message starts from."""

    state: Any  # the conversation's state before the turn (None: the zero state)
    version: int | None  # the adapter version that state belongs to (worn by the model now)
    memory: list[str]  # the snippets of the <|memory|> block
    sources: list[tuple[str, int]]  # where each snippet came from: ("message" | "memory", id)
    prompt_ids: list[int]
    contrast_ids: list[int] | None  # the same turn without the block, for memory contrast (core.generate)


class Turns:
    """Sends messages and streams the replies, one at a time."""

    def __init__(self, runtime: ModelRuntime, recall: RecallPolicy, settings: Settings, memories: Memories | None = None) -> None:
        self.runtime = runtime
        self.recall = recall
        self.settings = settings
        self.memories = memories
        self._lock = threading.Lock()
        self._active = False

    def context(
        self,
        conversation: Conversation,
        text: str,
        *,
        before: int | None = None,
        reply: ReplyState | None = None,
        with_memory: bool = True,
    ) -> TurnContext:
        """Resume `conversation`'s state (from the messages before message `before`; None: all),
        wear its adapter, recall and build the prompt. Call with the generation lock held."""
        state, version = conversation.resume(before, reply)
        self.runtime.use_adapter(version)
        hits = self.recall.hits(text, conversation) if with_memory else []
        memory = [hit.text for hit in hits]
        tok = self.runtime.tok
        contrast = tok.encode(prompt([], text)) if memory else None
        return TurnContext(
            state, version, memory, [(hit.kind, hit.id) for hit in hits], tok.encode(prompt(memory, text)), contrast
        )

    def send(
        self,
        text: str,
        conversation: Callable[[], Conversation],
        *,
        cancel: threading.Event | None = None,
        settings: Any = None,
        learn: bool = True,
    ) -> Reply:
        """Store the user's message in `conversation()`, then return the reply as a stream.

        `settings`: the sampling settings (default: the user's); `learn=False` keeps this
        exchange out of learning.
        """
        if not text or not text.strip():
            raise ValueError("cannot send an empty message")
        with self._lock:
            if self._active:
                raise ReplyInProgress("the previous reply is still being generated; wait for it or cancel it")
            self._active = True
        try:
            conv = conversation()
            reply = conv.begin_turn(text)
            sampling = settings or self.settings.sampling()
            stream = self._stream(conv, reply, text, cancel or threading.Event(), sampling, learn)
            return Reply(reply, stream, lambda: self._abandoned(reply))
        except BaseException:
            self._release()
            raise

    def _remember(self, conversation: Conversation, reply: ReplyState, text: str, said_at: float) -> list[MemoryInfo]:
        """Keep what the user's message tells about them; nothing in a temporary chat. Run after
        the reply is generated: the first token does not wait for the detector, and the message
        is not recalled into its own reply."""
        if self.memories is None or conversation.stored_id is None:
            return []
        try:
            return self.memories.remember(text, conversation.stored_id, reply.user_message_id, said_at)
        except Exception:  # a detector's failure must not cost the reply; the message is kept anyway
            log.exception("no memories kept from message %s", reply.user_message_id)
            return []

    def _release(self) -> None:
        with self._lock:
            self._active = False

    def _abandoned(self, reply: ReplyState) -> None:
        """A reply closed before it was read: its message stays empty and cut."""
        reply.cut = reply.done = True
        self._release()

    def _stream(
        self,
        conversation: Conversation,
        reply: ReplyState,
        text: str,
        cancel: threading.Event,
        sampling: Any,
        learn: bool,
    ) -> Iterator[str]:
        from core.generate import Generator

        runtime = self.runtime
        finished = False
        said_at = time.time()  # about when the user's message was stored
        try:
            model, tok = runtime.load()
            with runtime.lock:
                if runtime.closed:
                    return
                runtime.generating.set()
                context = self.context(conversation, text, before=reply.user_message_id, reply=reply)
                reply.memory_used = context.memory
                reply.memory_sources = context.sources
                gen = Generator(model, tok)
                stop = _AnyEvent(cancel, runtime.closing)
                last_save = t_first = None
                for piece in gen.stream(context.prompt_ids, context.state, sampling, cancel=stop, contrast_ids=context.contrast_ids):
                    now = time.perf_counter()
                    if t_first is None:
                        t_first = last_save = now
                    reply.text += piece
                    if now - last_save >= SAVE_EVERY_S:
                        conversation.save_progress(reply)
                        last_save = now
                    yield piece
                reply.tokens = len(gen.reply_ids)
                if t_first is not None and reply.tokens > 1:
                    reply.tokens_per_s = (reply.tokens - 1) / max(time.perf_counter() - t_first, 1e-6)
                reply.cut = gen.stopped_by == "cancel"
                self.recall.count_used(context.sources)  # a store write: after the reply, not before its first token
                reply.remembered = self._remember(conversation, reply, text, said_at)
                conversation.finish(reply, gen.state, context.version, learn and not reply.cut)
                finished = True
        finally:
            runtime.generating.clear()
            if not finished:
                reply.cut = True
                conversation.keep_cut(reply)
            reply.done = True
            self._release()


class _AnyEvent:
    """Looks like one `threading.Event` to the generator: set when any of its events is."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)
