"""The chat screen: conversations on the left, the streaming chat on the right, status below.

The model never runs on the UI thread. A reply is produced in a thread worker that posts typed
messages back (`ReplyStarted`, `ReplyToken`, `ReplyFinished`, `ReplyFailed`; `post_message` is
thread-safe); the handlers stream the pieces into the Markdown log. Esc sets the reply's cancel
event, which the session checks between tokens.

Push-to-talk works the same way: the voice controller's callbacks run on its worker thread and
only post typed messages (`VoiceStateChanged`, `VoiceLevel`, `VoiceTranscript`, `VoiceFailed`),
so the worker never waits on the UI and closing the screen cannot deadlock with it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.markdown import MarkdownStream
from textual.widgets.option_list import Option, OptionDoesNotExist

from assistant.errors import USER_ERRORS, NotAvailable
from ui.screens.dialogs import ConfirmDialog, TextPrompt
from ui.widgets.chat_input import ChatInput
from ui.widgets.chat_log import ChatLog, MessageView
from ui.widgets.status_bar import StatusBar

EMPTY_HINT = (
    "Type a message and press Enter. Ctrl+J adds a newline, Up recalls what you sent, "
    "F1 lists every key and Ctrl+P every command."
)
TEMPORARY_HINT = "Temporary chat: nothing here is saved or learned from, and it is gone when you leave it."
UNTITLED = "Untitled"


@dataclass
class _Reply:
    """The reply being written: where it goes and how to stop it."""

    conversation_id: Any
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


def conversation_label(info: Any) -> Content:
    """How a conversation is shown in the list (plain text: titles are never markup)."""
    title = (info.title or UNTITLED).replace("\n", " ")
    if getattr(info, "temporary", False):
        return Content.assemble(("TEMP ", "bold $warning"), title)
    return Content(title)


class ChatScreen(Screen):
    """Talk with the assistant; manage conversations; see what the model and the learner do."""

    BINDINGS = [
        Binding("ctrl+n", "new_conversation", "New", id="chat.new"),
        Binding("ctrl+t", "temporary_chat", "Temporary", id="chat.temporary"),
        Binding("escape", "stop_reply", "Stop", id="chat.stop"),
        Binding("f2", "rename_conversation", "Rename", id="chat.rename", show=False),
        Binding("f8", "delete_conversation", "Delete chat", id="chat.delete", show=False),
        Binding("ctrl+b", "toggle_sidebar", "Chat list", id="chat.sidebar", show=False),
        Binding("ctrl+o", "focus_list", "Focus chat list", id="chat.focus_list", show=False),
        Binding("ctrl+r", "push_to_talk", "Talk", id="chat.talk", show=False),
    ]
    """
    | Key | Action |
    | :- | :- |
    | ctrl+n | Start a new conversation. |
    | ctrl+t | Start a temporary chat (not saved, not learned from). |
    | escape | Stop the reply being written (what was shown is kept, marked as stopped). |
    | f2 | Rename the conversation. |
    | f8 | Delete the conversation (asks first; the assistant unlearns it). |
    | ctrl+b | Show or hide the conversation list. |
    | ctrl+o | Move to the conversation list. |
    | ctrl+r | Push to talk: start, and again to stop (where voice input is available). |
    """

    DEFAULT_CSS = """
    ChatScreen #main { height: 1fr; }
    ChatScreen #sidebar {
        width: 22;
        border-right: vkey $foreground 15%;
    }
    ChatScreen #sidebar.-hidden { display: none; }
    ChatScreen #sidebar > .heading {
        height: 1;
        padding: 0 1;
        text-style: bold;
        color: $text-muted;
    }
    ChatScreen #conversations {
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        border: none;
        padding: 0;
        background: transparent;
    }
    ChatScreen #chat { width: 1fr; }
    ChatScreen #chat-title {
        height: 1;
        padding: 0 1;
        text-style: bold;
        background: $boost;
    }
    ChatScreen #chat-title.-temporary {
        background: $warning 30%;
        color: $text;
    }
    ChatScreen ChatInput { margin: 0 1 0 0; }
    """

    replying: reactive[bool] = reactive(False, bindings=True)
    """Whether a reply is being written (Esc stops it)."""

    # --- the typed messages of a reply --------------------------------------------------------

    class ReplyStarted(Message):
        """The worker began a reply in `conversation_id`."""

        def __init__(self, conversation_id: Any) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    class ReplyToken(Message):
        """One piece of the reply's text."""

        def __init__(self, conversation_id: Any, piece: str) -> None:
            super().__init__()
            self.conversation_id = conversation_id
            self.piece = piece

    class ReplyFinished(Message):
        """The reply ended (completely, or `cut` because it was stopped)."""

        def __init__(self, conversation_id: Any, reply: Any, cut: bool) -> None:
            super().__init__()
            self.conversation_id = conversation_id
            self.text: str = getattr(reply, "text", "")
            self.message_id = getattr(reply, "message_id", None)
            self.cut = cut
            self.tokens_per_s: float | None = getattr(reply, "tokens_per_s", None)
            self.memory_used = getattr(reply, "memory_used", None)

    class ReplyFailed(Message):
        """The reply could not be produced; `error` says why."""

        def __init__(self, conversation_id: Any, error: str) -> None:
            super().__init__()
            self.conversation_id = conversation_id
            self.error = error

    # --- the typed messages of push-to-talk ---------------------------------------------------

    class VoiceStateChanged(Message):
        """Push-to-talk is now `state`: "idle", "listening" or "transcribing"."""

        def __init__(self, state: str) -> None:
            super().__init__()
            self.state = str(state)

    class VoiceLevel(Message):
        """The microphone's level while listening, 0..1."""

        def __init__(self, level: float) -> None:
            super().__init__()
            self.level = float(level)

    class VoiceTranscript(Message):
        """What was heard ("" if nothing)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class VoiceFailed(Message):
        """Voice input stopped; `error` says why (`MicrophoneUnavailable`, `SpeechModelError` ...)."""

        def __init__(self, error: BaseException) -> None:
            super().__init__()
            self.error = error

    # --- setup --------------------------------------------------------------------------------

    def __init__(self) -> None:
        super().__init__()
        self.conversation_id: Any = None
        """The conversation shown (None: a new one, created when the first message is sent)."""
        self.draft_temporary = False
        """Whether the not-yet-created conversation will be a temporary chat."""
        self._reply: _Reply | None = None
        self._talk: Any = None

    @property
    def session(self) -> Any:
        return self.app.session

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield Static("Conversations", classes="heading")
                yield OptionList(id="conversations")
            with Vertical(id="chat"):
                yield Static("", id="chat-title")
                yield ChatLog(id="log", assistant_label="Assistant")
                yield ChatInput(placeholder="Message (Enter sends, Ctrl+J newline)", id="input")
        yield StatusBar(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(StatusBar).model = self.session.model_name
        if self.size.width and self.size.width < 70:
            self.query_one("#sidebar").add_class("-hidden")
        current = self.session.current
        conversations = self.refresh_conversations()
        if current is not None and not getattr(current, "temporary", False):
            await self.open_conversation(current.id)
        else:
            saved = [c for c in conversations if not getattr(c, "temporary", False)]
            if saved:
                await self.open_conversation(saved[0].id)
            else:
                await self.start_draft(temporary=False)
        self.refresh_status()
        self.query_one(ChatInput).focus()

    def on_resize(self, event: events.Resize) -> None:
        self.query_one("#sidebar").styles.width = 22 if event.size.width < 100 else 28

    async def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Back from another screen: conversations may have been deleted or imported."""
        if self.app.session is None:  # reset: the app is going back to the first-run screen
            return
        conversations = self.refresh_conversations()
        if self.conversation_id is not None and all(c.id != self.conversation_id for c in conversations):
            await self.start_draft(temporary=False)
        self.refresh_status()

    # --- conversations ------------------------------------------------------------------------

    def refresh_conversations(self) -> list[Any]:
        """Redraw the conversation list from the session; returns the conversations."""
        conversations = list(self.session.conversations())
        listing = self.query_one("#conversations", OptionList)
        listing.clear_options()
        listing.add_options([Option(conversation_label(c), id=str(c.id)) for c in conversations])
        self._highlight_current()
        self._update_title(conversations)
        return conversations

    def _highlight_current(self) -> None:
        listing = self.query_one("#conversations", OptionList)
        if self.conversation_id is None:
            listing.highlighted = None
            return
        try:
            listing.highlighted = listing.get_option_index(str(self.conversation_id))
        except OptionDoesNotExist:  # the conversation is gone from the list
            listing.highlighted = None

    def _info(self, conversations: list[Any] | None = None) -> Any:
        if self.conversation_id is None:
            return None
        for info in conversations if conversations is not None else self.session.conversations():
            if info.id == self.conversation_id:
                return info
        return None

    def _update_title(self, conversations: list[Any] | None = None) -> None:
        title = self.query_one("#chat-title", Static)
        info = self._info(conversations)
        temporary = bool(getattr(info, "temporary", False)) if info is not None else self.draft_temporary
        title.set_class(temporary, "-temporary")
        if temporary:
            name = f" · {info.title}" if info is not None and info.title else ""
            title.update(Content(f"TEMPORARY CHAT · not saved, not learned from{name}"))
        elif info is None:
            title.update(Content("New conversation"))
        else:
            title.update(Content(info.title or UNTITLED))

    @on(OptionList.OptionSelected, "#conversations")
    async def _conversation_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        ident = self._id_from_option(event.option_id)
        if ident != self.conversation_id:
            await self.open_conversation(ident)
        self.query_one(ChatInput).focus()

    def _id_from_option(self, option_id: str | None) -> Any:
        for info in self.session.conversations():
            if str(info.id) == option_id:
                return info.id
        return option_id

    async def _detach_reply(self) -> None:
        """Stop drawing the running reply (it keeps running and is stored by the session)."""
        if self._reply is not None and self._reply.stream is not None:
            await stop_stream(self._reply.stream)
        if self._reply is not None:
            self._reply.stream = None
            self._reply.view = None

    async def open_conversation(self, conversation_id: Any) -> None:
        """Show a conversation's messages and make it the one new messages go to."""
        await self._detach_reply()
        self.session.select(conversation_id)
        self.conversation_id = conversation_id
        self.draft_temporary = False
        messages = list(self.session.messages(conversation_id))
        chat_input = self.query_one(ChatInput)
        chat_input.sent = [m.text for m in messages if m.role == "user"][-50:]
        await self.query_one(ChatLog).show(messages, empty_text=EMPTY_HINT)
        self._highlight_current()
        self._update_title()

    async def start_draft(self, *, temporary: bool) -> None:
        """An empty chat; the conversation is created when the first message is sent."""
        await self._detach_reply()
        self.conversation_id = None
        self.draft_temporary = temporary
        await self.query_one(ChatLog).show([], empty_text=TEMPORARY_HINT if temporary else EMPTY_HINT)
        self._highlight_current()
        self._update_title()

    async def action_new_conversation(self) -> None:
        await self.start_draft(temporary=False)
        self.query_one(ChatInput).focus()

    async def action_temporary_chat(self) -> None:
        await self.start_draft(temporary=True)
        self.query_one(ChatInput).focus()
        self.notify("Temporary chat: not saved, not learned from.", timeout=3)

    def action_rename_conversation(self) -> None:
        info = self._info()
        if info is None:
            self.notify("Send a message first: this conversation does not exist yet.", severity="warning")
            return

        def done(title: str | None) -> None:
            if title:
                self.session.rename(info.id, title)
                self.refresh_conversations()

        self.app.push_screen(TextPrompt("Rename the conversation", value=info.title or "", max_length=200), done)

    def action_delete_conversation(self) -> None:
        info = self._info()
        if info is None:
            self.notify("There is no saved conversation here to delete.", severity="warning")
            return
        body = (
            f"“{info.title or UNTITLED}” and its {info.message_count} messages are deleted, and the "
            "assistant retrains without them (in the background; the status bar shows the progress). "
            "This cannot be undone."
        )

        async def done(confirmed: bool | None) -> None:
            if confirmed:
                if self._reply is not None and self._reply.conversation_id == info.id:
                    self._reply.cancel.set()
                self._delete(info.id)

        self.app.push_screen(ConfirmDialog("Delete this conversation?", body), done)

    @work(thread=True, group="delete")
    def _delete(self, conversation_id: Any) -> None:
        try:
            self.session.delete_conversation(conversation_id)
        except (*USER_ERRORS, OSError) as exc:
            self.app.call_from_thread(self.notify, f"Could not delete: {exc}", severity="error")
            return
        self.app.call_from_thread(self._deleted, conversation_id)

    async def _deleted(self, conversation_id: Any) -> None:
        conversations = self.refresh_conversations()
        if conversation_id == self.conversation_id:
            saved = [c for c in conversations if not getattr(c, "temporary", False)]
            if saved:
                await self.open_conversation(saved[0].id)
            else:
                await self.start_draft(temporary=False)
        self.notify("Conversation deleted; the assistant is unlearning it.", timeout=4)

    def action_toggle_sidebar(self) -> None:
        self.query_one("#sidebar").toggle_class("-hidden")

    def action_focus_list(self) -> None:
        self.query_one("#sidebar").remove_class("-hidden")
        self.query_one("#conversations").focus()

    # --- sending and streaming ----------------------------------------------------------------

    async def on_chat_input_submitted(self, event: ChatInput.Submitted) -> None:
        event.stop()
        await self.send(event.text)

    async def send(self, text: str) -> None:
        """Send `text` in the shown conversation (creating it first if it is new)."""
        if self._reply is not None:
            self.notify("A reply is still being written: press Esc to stop it first.", severity="warning")
            return
        if self.conversation_id is None:
            info = self.session.new_conversation(temporary=self.draft_temporary)
            self.conversation_id = info.id
            self.draft_temporary = False
            self.refresh_conversations()
        self.query_one(ChatInput).remember(text)
        await self.query_one(ChatLog).add("user", text)
        self._reply = _Reply(self.conversation_id, threading.Event())
        self.replying = True
        self._write_reply(self.conversation_id, text, self._reply.cancel)

    @work(thread=True, group="reply")
    def _write_reply(self, conversation_id: Any, text: str, cancel: threading.Event) -> None:
        """The model's side of a turn, off the UI thread."""
        session = self.session
        self.post_message(self.ReplyStarted(conversation_id))
        reply = None
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
            if reply is not None and hasattr(reply, "close"):
                reply.close()  # a reply left unread keeps what was shown, marked cut
        self.post_message(self.ReplyFinished(conversation_id, reply, bool(getattr(reply, "cut", False)) or cancel.is_set()))

    async def on_chat_screen_reply_started(self, message: ReplyStarted) -> None:
        reply = self._reply
        if reply is None or message.conversation_id != self.conversation_id:
            return
        reply.view = await self.query_one(ChatLog).add("assistant", "")
        self.query_one(StatusBar).notice = "writing… (Esc stops)"
        self.refresh_conversations()  # the session may have titled it from the first message

    async def on_chat_screen_reply_token(self, message: ReplyToken) -> None:
        reply = self._reply
        if reply is None or reply.view is None:
            return
        if reply.stream is None:  # started on the first piece, so it is running before it can be stopped
            reply.stream = reply.view.stream()
        await reply.stream.write(message.piece)

    async def on_chat_screen_reply_finished(self, message: ReplyFinished) -> None:
        reply, self._reply = self._reply, None
        self.replying = False
        status = self.query_one(StatusBar)
        status.notice = ""
        if message.tokens_per_s is not None:
            status.tokens_per_s = float(message.tokens_per_s)
        if reply is not None and reply.stream is not None:
            await stop_stream(reply.stream)
        if reply is not None and reply.view is not None:
            reply.view.message_id = message.message_id
            if message.cut:
                reply.view.cut = True
            used = message.memory_used
            count = len(used) if isinstance(used, (list, tuple)) else int(used or 0)
            if count:
                reply.view.query_one(".role", Static).update(Content(f"Assistant · used {count} memor{'y' if count == 1 else 'ies'}"))
        self.refresh_conversations()
        self.refresh_status()

    async def on_chat_screen_reply_failed(self, message: ReplyFailed) -> None:
        reply, self._reply = self._reply, None
        self.replying = False
        self.query_one(StatusBar).notice = ""
        if reply is not None and reply.stream is not None:
            await stop_stream(reply.stream)
        if reply is not None and reply.view is not None:
            reply.view.mark_failed(message.error)
        self.notify(f"No reply: {message.error}", severity="error", timeout=8)
        self.refresh_conversations()

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

    # --- status -------------------------------------------------------------------------------

    def refresh_status(self) -> None:
        """Learning state and memory count from the session."""
        status = self.query_one(StatusBar)
        learning = self.session.learning_status()
        status.learning = learning.state
        status.version = learning.version
        status.pending = learning.pending
        status.memories = self.session.memory_count()

    def learning_changed(self, event: Any) -> None:
        """Called by the app when the learner reports (on the UI thread)."""
        self.refresh_status()

    # --- voice --------------------------------------------------------------------------------

    def action_push_to_talk(self) -> None:
        """Start listening; pressed again, stop and put the transcript in the message box."""
        if self._talk is None:
            factory = self.app.voice_factory
            try:
                if factory is None:
                    raise NotAvailable("voice input is not part of this build")
                # Called on the voice worker's thread: post (thread-safe, never waits on the UI).
                self._talk = factory(
                    on_state=lambda state: self.post_message(self.VoiceStateChanged(state)),
                    on_level=lambda level: self.post_message(self.VoiceLevel(level)),
                    on_transcript=lambda text: self.post_message(self.VoiceTranscript(text)),
                    on_error=lambda exc: self.post_message(self.VoiceFailed(exc)),
                )
            except (*USER_ERRORS, OSError) as exc:
                self.notify(f"Voice not available: {exc}. Typing works as always.", severity="warning")
                return
            self.query_one(StatusBar).talk_key = self.app.key_for("chat.talk").split(",")[0].strip()
        try:
            self._talk.toggle()
        except (*USER_ERRORS, OSError) as exc:
            self._voice_failed(exc)

    def on_chat_screen_voice_state_changed(self, message: VoiceStateChanged) -> None:
        status = self.query_one(StatusBar)
        status.voice_level = 0.0
        status.voice = message.state

    def on_chat_screen_voice_level(self, message: VoiceLevel) -> None:
        self.query_one(StatusBar).voice_level = message.level

    def on_chat_screen_voice_transcript(self, message: VoiceTranscript) -> None:
        text = " ".join(message.text.split())
        if not text:
            self.notify("Nothing was heard.", timeout=3)
            return
        chat_input = self.query_one(ChatInput)
        before = chat_input.get_text_range((0, 0), chat_input.cursor_location)
        if before and not before[-1].isspace():
            text = " " + text  # dictating after typed words
        chat_input.insert_text(text)
        chat_input.focus()
        if self.session.settings.get("voice.send_immediately", False):
            chat_input.action_submit()

    def on_chat_screen_voice_failed(self, message: VoiceFailed) -> None:
        self._voice_failed(message.error)

    def _voice_failed(self, exc: BaseException) -> None:
        self.query_one(StatusBar).voice = "idle"
        detail = str(exc).strip() or type(exc).__name__
        if "still works" not in detail.lower():
            detail = f"{detail.rstrip('.')}. Typing works as always."
        self.notify(detail, title="Voice input stopped", severity="warning", timeout=8)

    def on_unmount(self) -> None:
        self.close_voice()

    def close_voice(self) -> None:
        """Release the microphone and stop listening (when the screen goes or the app quits)."""
        talk, self._talk = self._talk, None
        if talk is not None and hasattr(talk, "close"):
            talk.close()
