"""The chat screen's push-to-talk: the voice controller's callbacks, the transcript into the box.

The voice controller's callbacks run on its worker thread and only post typed messages
(`VoiceStateChanged`, `VoiceLevel`, `VoiceTranscript`, `VoiceFailed`), so the worker never
waits on the UI and closing the screen cannot deadlock with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from assistant.errors import USER_ERRORS
from ui.screens.base import SessionScreen
from ui.widgets.chat_input import ChatInput
from ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from assistant.voice.push_to_talk import PushToTalk


class VoiceHooks(SessionScreen):
    """The push-to-talk part of `ChatScreen` (no keys or style of its own; the app provides
    `voice_factory` and `key_for`)."""

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

    def __init__(self) -> None:
        super().__init__()
        self._talk: PushToTalk | None = None

    # --- listening ----------------------------------------------------------------------------

    def action_push_to_talk(self) -> None:
        """Start listening; pressed again, stop and put the transcript in the message box."""
        if self._talk is None:
            factory = self.app.voice_factory
            try:
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

    def on_voice_hooks_voice_state_changed(self, message: VoiceStateChanged) -> None:
        status = self.query_one(StatusBar)
        status.voice_level = 0.0
        status.voice = message.state

    def on_voice_hooks_voice_level(self, message: VoiceLevel) -> None:
        self.query_one(StatusBar).voice_level = message.level

    def on_voice_hooks_voice_transcript(self, message: VoiceTranscript) -> None:
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

    def on_voice_hooks_voice_failed(self, message: VoiceFailed) -> None:
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
