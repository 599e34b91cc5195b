"""The app's own widgets: chat log, message box, conversation list, status bar, passphrase strength,
safe input."""

from ui.widgets.chat_input import ChatInput
from ui.widgets.chat_log import ChatLog, MessageView
from ui.widgets.conversation_list import ConversationList
from ui.widgets.safe_input import SafeInput
from ui.widgets.status_bar import StatusBar
from ui.widgets.strength import StrengthHint

__all__ = ["ChatInput", "ChatLog", "ConversationList", "MessageView", "SafeInput", "StatusBar", "StrengthHint"]
