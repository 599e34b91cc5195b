"""The conversation list of the chat screen: one line per conversation, temporary ones marked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from assistant.session.records import ConversationInfo

UNTITLED = "Untitled"


def conversation_label(info: ConversationInfo) -> Content:
    """How a conversation is shown in the list (plain text: titles are never markup)."""
    title = (info.title or UNTITLED).replace("\n", " ")
    if info.temporary:
        return Content.assemble(("TEMP ", "bold $warning"), title)
    return Content(title)


class ConversationList(OptionList):
    """The session's conversations, most recent first; choosing one posts `OptionSelected`
    (its `option_id` is the conversation's id as text: `conversation_id_of` turns it back)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ids: dict[str, int] = {}

    def show(self, conversations: Iterable[ConversationInfo]) -> None:
        """Replace the list with `conversations`."""
        conversations = list(conversations)
        self._ids = {str(c.id): c.id for c in conversations}
        self.clear_options()
        self.add_options([Option(conversation_label(c), id=str(c.id)) for c in conversations])

    def conversation_id_of(self, option_id: str | None) -> int | None:
        """The conversation an option stands for (None: not in the list)."""
        return self._ids.get(option_id or "")

    def highlight(self, conversation_id: int | None) -> None:
        """Highlight that conversation (nothing if it is None or not in the list)."""
        if conversation_id is None:
            self.highlighted = None
            return
        try:
            self.highlighted = self.get_option_index(str(conversation_id))
        except OptionDoesNotExist:  # the conversation is gone from the list
            self.highlighted = None
