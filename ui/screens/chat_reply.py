"""The chat screen's reply streaming: the model's side of a turn, off the UI thread.

A reply is produced in a thread worker that posts typed messages back (`ReplyStarted`,
`ReplyToken`, `ReplyFinished`, `ReplyFailed`; `post_message` is thread-safe); the handlers
stream the pieces into the Markdown log. Esc sets the reply's cancel event, which the session
checks between tokens.

What the reply did with memory is shown with it: "used N memories" on its label opens exactly
the snippets of its memory block (a click, or `action_memory_block` from a key), and each
memory kept from the user's message gets a quiet "remembered: ..." line with an Undo.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from textual import work
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static
from textual.widgets.markdown import MarkdownStream

from assistant.errors import USER_ERRORS
from assistant.session.protocol import ReplyLike
from ui.screens.base import SessionScreen
from ui.screens.chat_memory import MemoryBlockDialog, RememberedLine, used_label
from ui.widgets.chat_log import ChatLog, MessageView
from ui.widgets.status_bar import StatusBar


@dataclass
class _Reply:
    """The reply being written: where it goes and how to stop it."""

    conversation_id: int
    cancel: threading.Event
    view: MessageView | None = None
    stream: MarkdownStream | None = None
    stopping: bool = False


async def stop_stream(stream: MarkdownStream) -> None:
    """Stop a Markdown stream, and only that.

    Regression: a `MarkdownStream` stopped before its task ever ran re-raised the task's
    `CancelledError` in the caller, which silently ended the chat screen's message loop (a reply
    that failed before its first piece froze the screen).
    """
    try:
        await stream.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


class ReplyStreaming(SessionScreen):
    """The reply part of `ChatScreen` (no keys or style of its own; the screen that mixes it in
    provides `conversation_id`, `refresh_conversations()` and `refresh_status()`)."""

    conversation_id: int | None

    replying: reactive[bool] = reactive(False, bindings=True)
    """Whether a reply is being written (Esc stops it)."""

    # --- the typed messages of a reply --------------------------------------------------------

    class ReplyStarted(Message):
        """The worker began a reply in `conversation_id`."""

        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    class ReplyToken(Message):
        """One piece of the reply's text."""

        def __init__(self, conversation_id: int, piece: str) -> None:
            super().__init__()
            self.conversation_id = conversation_id
            self.piece = piece

    class ReplyFinished(Message):
        """The reply ended (completely, or `cut` because it was stopped)."""

        def __init__(self, conversation_id: int, reply: ReplyLike, cut: bool) -> None:
            super().__init__()
            self.conversation_id = conversation_id
            self.text = reply.text
            self.message_id = reply.message_id
            self.cut = cut
            self.tokens_per_s = reply.tokens_per_s
            self.memory_used = list(reply.memory_used)
            self.remembered = list(reply.remembered)

    class ReplyFailed(Message):
        """The reply could not be produced; `error` says why."""

        def __init__(self, conversation_id: int, error: str) -> None:
            super().__init__()
            self.conversation_id = conversation_id
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self._reply: _Reply | None = None
        self._blocks: list[list[str]] = []
        """The memory blocks of the replies shown since the screen opened (a label names its index)."""

    # --- starting and stopping ----------------------------------------------------------------

    def start_reply(self, conversation_id: int, text: str) -> None:
        """Send `text` in that conversation and stream the reply into the log."""
        self._reply = _Reply(conversation_id, threading.Event())
        self.replying = True
        self._write_reply(conversation_id, text, self._reply.cancel)

    async def detach_reply(self) -> None:
        """Stop drawing the running reply (it keeps running and is stored by the session)."""
        if self._reply is not None and self._reply.stream is not None:
            await stop_stream(self._reply.stream)
        if self._reply is not None:
            self._reply.stream = None
            self._reply.view = None

    def stop_reply_in(self, conversation_id: int) -> None:
        """Stop the running reply if it is written in that conversation (it is being deleted)."""
        if self._reply is not None and self._reply.conversation_id == conversation_id:
            self._reply.cancel.set()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_reply":
            return self.replying
        return True

    def action_stop_reply(self) -> None:
        if self._reply is not None and not self._reply.stopping:
            self._reply.stopping = True
            self._reply.cancel.set()
            self.query_one(StatusBar).notice = "stopping…"

    def cancel_reply(self) -> None:
        """Stop any running reply (used when the app quits)."""
        if self._reply is not None:
            self._reply.cancel.set()

    # --- the worker ---------------------------------------------------------------------------

    @work(thread=True, group="reply")
    def _write_reply(self, conversation_id: int, text: str, cancel: threading.Event) -> None:
        """The model's side of a turn, off the UI thread."""
        session = self.session
        self.post_message(self.ReplyStarted(conversation_id))
        reply: ReplyLike | None = None
        try:
            current = session.current
            if current is None or current.id != conversation_id:
                session.select(conversation_id)
            reply = session.send(text, cancel=cancel)
            for piece in reply:
                self.post_message(self.ReplyToken(conversation_id, piece))
        except (*USER_ERRORS, OSError, RuntimeError) as exc:
            # RuntimeError: what torch raises; the user should see it rather than lose the app.
            self.post_message(self.ReplyFailed(conversation_id, str(exc) or type(exc).__name__))
            return
        finally:
            if reply is not None:
                reply.close()  # a reply left unread keeps what was shown, marked cut
        assert reply is not None  # sent: the failures returned above
        self.post_message(self.ReplyFinished(conversation_id, reply, reply.cut or cancel.is_set()))

    # --- drawing it ---------------------------------------------------------------------------

    async def on_reply_streaming_reply_started(self, message: ReplyStarted) -> None:
        reply = self._reply
        if reply is None or message.conversation_id != self.conversation_id:
            return
        reply.view = await self.query_one(ChatLog).add("assistant", "")
        self.query_one(StatusBar).notice = "writing… (Esc stops)"
        self.refresh_conversations()  # the session may have titled it from the first message

    async def on_reply_streaming_reply_token(self, message: ReplyToken) -> None:
        reply = self._reply
        if reply is None or reply.view is None:
            return
        if reply.stream is None:  # started on the first piece, so it is running before it can be stopped
            reply.stream = reply.view.stream()
        await reply.stream.write(message.piece)

    async def on_reply_streaming_reply_finished(self, message: ReplyFinished) -> None:
        reply, self._reply = self._reply, None
        self.replying = False
        status = self.query_one(StatusBar)
        status.notice = ""
        status.tokens_per_s = float(message.tokens_per_s)
        if reply is not None and reply.stream is not None:
            await stop_stream(reply.stream)
        if reply is not None and reply.view is not None:
            reply.view.message_id = message.message_id
            if message.cut:
                reply.view.cut = True
            if message.memory_used:
                self._blocks.append(message.memory_used)
                link = (used_label(len(message.memory_used)), f"@click=screen.memory_block({len(self._blocks) - 1})")
                reply.view.query_one(".role", Static).update(Content.assemble("Assistant · ", link))
            if message.remembered:
                log = self.query_one(ChatLog)
                await log.mount_all([RememberedLine(memory) for memory in message.remembered])
                log.anchor()
        self.refresh_conversations()
        self.refresh_status()

    # --- what a reply did with memory ---------------------------------------------------------

    def action_memory_block(self, index: int = -1) -> None:
        """Show the snippets of a reply's memory block (by default the last reply that had one)."""
        if not self._blocks:
            self.notify("No reply here has used a memory yet.", timeout=3)
            return
        self.app.push_screen(MemoryBlockDialog(self._blocks[index]))

    def on_remembered_line_undo_requested(self, message: RememberedLine.UndoRequested) -> None:
        message.stop()
        self._undo_memory(message.line)

    @work(thread=True, group="undo")
    def _undo_memory(self, line: RememberedLine) -> None:
        try:
            self.session.delete_memory(line.memory.id)
        except (*USER_ERRORS, OSError) as exc:
            self.app.call_from_thread(line.failed, str(exc) or type(exc).__name__)
            return
        self.app.call_from_thread(line.forgotten)
        self.app.call_from_thread(self.refresh_status)

    async def on_reply_streaming_reply_failed(self, message: ReplyFailed) -> None:
        reply, self._reply = self._reply, None
        self.replying = False
        self.query_one(StatusBar).notice = ""
        if reply is not None and reply.stream is not None:
            await stop_stream(reply.stream)
        if reply is not None and reply.view is not None:
            reply.view.mark_failed(message.error)
        self.notify(f"No reply: {message.error}", severity="error", timeout=8)
        self.refresh_conversations()
