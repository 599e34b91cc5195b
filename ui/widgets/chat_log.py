"""The chat log: the conversation's messages as Markdown, the reply streaming in at the bottom."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from assistant.session.records import MessageInfo

from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

SHOWN_MESSAGES = 200
"""At most this many of a conversation's latest messages are drawn; older ones are counted."""


class MessageView(Vertical):
    """One message: who said it, and what, rendered as Markdown (links are never opened)."""

    DEFAULT_CSS = """
    MessageView {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 1;
    }
    MessageView > .role {
        height: 1;
        text-style: bold;
        color: $text-muted;
    }
    MessageView.-user > .role { color: $accent; }
    MessageView.-assistant > .role { color: $success; }
    MessageView.-user { border-left: tall $accent 50%; }
    MessageView.-assistant { border-left: tall $success 50%; }
    MessageView > Markdown {
        margin: 0;
        padding: 0;
        background: transparent;
    }
    MessageView > Markdown > *:last-child { margin-bottom: 0; }
    MessageView > .cut {
        color: $warning;
        text-style: italic;
        height: 1;
    }
    """

    cut: reactive[bool] = reactive(False)
    """Whether the reply was stopped before it finished (shown under the text)."""

    def __init__(self, role: str, text: str, *, label: str | None = None, cut: bool = False, message_id: int | None = None) -> None:
        super().__init__(classes=f"-{role}")
        self.role = role
        self.message_id = message_id
        self._text = text
        self._label = label or ("You" if role == "user" else "Assistant")
        self.set_reactive(MessageView.cut, cut)

    def compose(self):
        yield Static(Content(self._label), classes="role")
        yield Markdown(self._text, open_links=False)
        if self.cut:
            yield Static(Content("(stopped)"), classes="cut")

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)

    def stream(self) -> MarkdownStream:
        """A stream that appends reply pieces to this message."""
        return Markdown.get_stream(self.markdown)

    def mark_failed(self, error: str) -> None:
        """Say under the (empty or partial) reply that it failed, and why."""
        self.mount(Static(Content(f"(no reply: {error})"), classes="cut"))

    def watch_cut(self, cut: bool) -> None:
        if cut and self.is_mounted and not self.query(".cut"):
            self.mount(Static(Content("(stopped)"), classes="cut"))


class ChatLog(VerticalScroll):
    """The messages of one conversation, oldest at the top; it follows a streaming reply.

    While a reply streams the log stays anchored to the bottom, unless the user scrolls up to
    read; scrolling back to the end re-anchors it.
    """

    DEFAULT_CSS = """
    ChatLog {
        height: 1fr;
        padding: 0 1 0 0;
    }
    ChatLog > .hidden-count, ChatLog > .empty {
        color: $text-muted;
        padding: 0 1;
        margin: 0 0 1 0;
    }
    """

    def __init__(self, *, id: str | None = None, assistant_label: str = "Assistant") -> None:
        super().__init__(id=id, can_focus=True)
        self.assistant_label = assistant_label

    async def show(self, messages: Iterable[MessageInfo], *, empty_text: str = "") -> None:
        """Replace the log with `messages`."""
        messages = list(messages)
        await self.remove_children()
        views: list[Any] = []
        hidden = len(messages) - SHOWN_MESSAGES
        if hidden > 0:
            views.append(Static(Content(f"{hidden} earlier messages are not shown."), classes="hidden-count"))
            messages = messages[-SHOWN_MESSAGES:]
        for message in messages:
            views.append(self._view(message.role, message.text, cut=message.cut, message_id=message.id))
        if not messages and empty_text:
            views.append(Static(Content(empty_text), classes="empty"))
        if views:
            await self.mount_all(views)
        self.scroll_end(animate=False, immediate=True)
        self.anchor()

    def _view(self, role: str, text: str, *, cut: bool = False, message_id: int | None = None) -> MessageView:
        label = "You" if role == "user" else self.assistant_label
        return MessageView(role, text, label=label, cut=cut, message_id=message_id)

    async def add(self, role: str, text: str, *, cut: bool = False, message_id: int | None = None) -> MessageView:
        """Append one message (removing the empty-conversation hint) and keep the end in view."""
        for hint in self.query(".empty"):
            await hint.remove()
        view = self._view(role, text, cut=cut, message_id=message_id)
        await self.mount(view)
        self.anchor()
        return view
