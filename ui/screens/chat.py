"""The chat screen: conversations on the left, the streaming chat on the right, status below.

The model never runs on the UI thread: the reply is streamed by a thread worker that posts typed
messages back (`ui.screens.chat_reply`), and push-to-talk works the same way
(`ui.screens.chat_voice`). This module keeps the conversations: the list, the one shown, the
draft not yet created, renaming and deleting.
"""

from __future__ import annotations

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Footer, OptionList, Static

from assistant.errors import USER_ERRORS
from assistant.session.records import ConversationInfo, LearningEvent
from ui.screens.chat_reply import ReplyStreaming
from ui.screens.chat_voice import VoiceHooks
from ui.screens.dialogs import ConfirmDialog, TextPrompt
from ui.widgets.chat_input import ChatInput
from ui.widgets.chat_log import ChatLog
from ui.widgets.conversation_list import UNTITLED, ConversationList
from ui.widgets.status_bar import StatusBar

EMPTY_HINT = (
    "Type a message and press Enter. Ctrl+J adds a newline, Up recalls what you sent, "
    "F1 lists every key and Ctrl+P every command."
)
TEMPORARY_HINT = "Temporary chat: nothing here is saved or learned from, and it is gone when you leave it."


class ChatScreen(ReplyStreaming, VoiceHooks):
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
        Binding("ctrl+g", "memory_block", "Memory used", id="chat.memory_block", show=False),
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
    | ctrl+g | Show the snippets the last reply read from memory (or click its "used N memories"). |
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

    # --- setup --------------------------------------------------------------------------------

    def __init__(self) -> None:
        super().__init__()
        self.conversation_id: int | None = None
        """The conversation shown (None: a new one, created when the first message is sent)."""
        self.draft_temporary = False
        """Whether the not-yet-created conversation will be a temporary chat."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield Static("Conversations", classes="heading")
                yield ConversationList(id="conversations")
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
        if current is not None and not current.temporary:
            await self.open_conversation(current.id)
        else:
            saved = [c for c in conversations if not c.temporary]
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

    def refresh_conversations(self) -> list[ConversationInfo]:
        """Redraw the conversation list from the session; returns the conversations."""
        conversations = list(self.session.conversations())
        self.query_one(ConversationList).show(conversations)
        self._highlight_current()
        self._update_title(conversations)
        return conversations

    def _highlight_current(self) -> None:
        self.query_one(ConversationList).highlight(self.conversation_id)

    def _info(self, conversations: list[ConversationInfo] | None = None) -> ConversationInfo | None:
        if self.conversation_id is None:
            return None
        for info in conversations if conversations is not None else self.session.conversations():
            if info.id == self.conversation_id:
                return info
        return None

    def _update_title(self, conversations: list[ConversationInfo] | None = None) -> None:
        title = self.query_one("#chat-title", Static)
        info = self._info(conversations)
        temporary = info.temporary if info is not None else self.draft_temporary
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
        ident = self.query_one(ConversationList).conversation_id_of(event.option_id)
        if ident is not None and ident != self.conversation_id:
            await self.open_conversation(ident)
        self.query_one(ChatInput).focus()

    async def open_conversation(self, conversation_id: int) -> None:
        """Show a conversation's messages and make it the one new messages go to."""
        await self.detach_reply()
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
        await self.detach_reply()
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
            f"“{info.title or UNTITLED}” and its {info.message_count} messages are deleted, with what was "
            "remembered from them, and the assistant retrains without them (in the background; the "
            "status bar shows the progress). "
            "This cannot be undone."
        )

        async def done(confirmed: bool | None) -> None:
            if confirmed:
                self.stop_reply_in(info.id)
                self._delete(info.id)

        self.app.push_screen(ConfirmDialog("Delete this conversation?", body), done)

    @work(thread=True, group="delete")
    def _delete(self, conversation_id: int) -> None:
        try:
            self.session.delete_conversation(conversation_id)
        except (*USER_ERRORS, OSError) as exc:
            self.app.call_from_thread(self.notify, f"Could not delete: {exc}", severity="error")
            return
        self.app.call_from_thread(self._deleted, conversation_id)

    async def _deleted(self, conversation_id: int) -> None:
        conversations = self.refresh_conversations()
        if conversation_id == self.conversation_id:
            saved = [c for c in conversations if not c.temporary]
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

    # --- sending ------------------------------------------------------------------------------

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
        self.start_reply(self.conversation_id, text)

    # --- status -------------------------------------------------------------------------------

    def refresh_status(self) -> None:
        """Learning state and memory count from the session."""
        status = self.query_one(StatusBar)
        learning = self.session.learning_status()
        status.learning = learning.state
        status.version = learning.version
        status.pending = learning.pending
        status.memories = self.session.memory_count()

    def learning_changed(self, event: LearningEvent | None) -> None:
        """Called by the app when the learner reports (on the UI thread)."""
        self.refresh_status()
