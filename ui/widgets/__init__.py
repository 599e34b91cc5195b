"""The app's own widgets: chat log, message box, status bar, passphrase strength, safe input."""

from ui.widgets.chat_input import ChatInput
from ui.widgets.chat_log import ChatLog, MessageView
from ui.widgets.safe_input import SafeInput
from ui.widgets.status_bar import StatusBar
from ui.widgets.strength import StrengthHint

__all__ = ["ChatInput", "ChatLog", "MessageView", "SafeInput", "StatusBar", "StrengthHint"]
