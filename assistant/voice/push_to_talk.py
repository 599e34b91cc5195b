"""Push-to-talk for the app: one key starts listening, the same key (or a pause) stops, text comes back.

The app owns one `PushToTalk` and calls `toggle()` from its key binding. Everything else arrives
through callbacks, all called on the push-to-talk worker thread (never the audio thread, never
the caller's thread), so a Textual app wraps them in `app.call_from_thread`:

    ptt = PushToTalk(
        on_state=lambda state: app.call_from_thread(status_bar.show_voice, state),
        on_level=lambda dbfs: app.call_from_thread(meter.update_level, level_fraction(dbfs)),
        on_transcript=lambda text: app.call_from_thread(input_box.insert_text, text),
        on_error=lambda exc: app.call_from_thread(app.notify, str(exc), severity="error"),
    )
    ptt.warm_up()          # optional: start loading the speech model early
    ptt.toggle()           # key pressed: start listening
    ptt.toggle()           # pressed again: stop and transcribe (or it stops after ~1.5 s of quiet)
    ptt.close()            # on exit

States go idle -> listening -> transcribing -> idle. `on_transcript("")` means nothing was heard.
Errors (`MicrophoneUnavailable`, `SpeechModelError`) go to `on_error` and the state returns to
idle, so text chat keeps working.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.voice.audio import level_fraction
from assistant.voice.capture import STOP_REQUESTED, Recorder
from assistant.voice.recognition import Transcriber, get_transcriber


class VoiceState(enum.StrEnum):
    """What the voice input is doing, for the status bar."""

    IDLE = "idle"
    LISTENING = "listening"
    TRANSCRIBING = "transcribing"


class PushToTalk:
    """Record-then-transcribe controller with callbacks; see the module docstring.

    `transcriber=None` uses the shared default (`get_transcriber(model_path)`). `stream_class`,
    `device`, `silence_seconds`, `threshold_dbfs` and `max_seconds` go to each `Recorder`;
    `level_interval` is how often `on_level` is called while listening.
    """

    def __init__(
        self,
        transcriber: Transcriber | None = None,
        *,
        model_path: str | Path | None = None,
        stream_class: Callable[..., Any] | None = None,
        device: int | str | None = None,
        silence_seconds: float | None = 1.5,
        threshold_dbfs: float = -40.0,
        max_seconds: float = 30.0,
        level_interval: float = 0.05,
        on_state: Callable[[VoiceState], None] | None = None,
        on_level: Callable[[float], None] | None = None,
        on_transcript: Callable[[str], None] | None = None,
        on_error: Callable[[AssistantError], None] | None = None,
    ) -> None:
        self._transcriber = transcriber
        self._model_path = model_path
        self._recorder_args: dict[str, Any] = dict(
            stream_class=stream_class,
            device=device,
            silence_seconds=silence_seconds,
            threshold_dbfs=threshold_dbfs,
            max_seconds=max_seconds,
        )
        self.level_interval = level_interval
        self.on_state = on_state
        self.on_level = on_level
        self.on_transcript = on_transcript
        self.on_error = on_error
        self._lock = threading.Lock()
        self._state = VoiceState.IDLE
        self._busy = False
        self._stop_requested = threading.Event()
        self._cancelled = False
        self._recorder: Recorder | None = None
        self._worker: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.last_latency: float | None = None
        """Seconds from the end of the last recording to its transcript being delivered."""

    @property
    def transcriber(self) -> Transcriber:
        """The speech model this controller uses (created on first use, loaded in the background)."""
        if self._transcriber is None:
            self._transcriber = get_transcriber(self._model_path)
        return self._transcriber

    @property
    def state(self) -> VoiceState:
        """The current state (also reported through `on_state`)."""
        return self._state

    def warm_up(self) -> None:
        """Start loading the speech model in the background, if not already loading."""
        self.transcriber.warm_up()

    def toggle(self) -> None:
        """The push-to-talk key: start when idle, stop (and transcribe) when listening, else nothing."""
        if not self._busy:
            self.start()
        elif self._state is not VoiceState.TRANSCRIBING:
            self.stop()  # also while the microphone is still opening

    def start(self) -> bool:
        """Begin listening on a worker thread; False if a recording or transcription is under way."""
        with self._lock:
            if self._busy:
                return False
            self._busy = True
            self._idle.clear()
            self._stop_requested.clear()
            self._cancelled = False
        self.warm_up()
        self._worker = threading.Thread(target=self._run, name="push-to-talk", daemon=True)
        self._worker.start()
        return True

    def stop(self) -> None:
        """Stop listening now and transcribe what was heard (no effect when not listening)."""
        self._stop_requested.set()
        recorder = self._recorder
        if recorder is not None:
            recorder.request_stop()

    def cancel(self) -> None:
        """Stop listening and throw the recording away (no transcript is delivered)."""
        self._cancelled = True
        self.stop()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no recording or transcription is under way; False on timeout."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel any recording and wait (up to `timeout`) for the worker to finish."""
        self.cancel()
        self.wait_idle(timeout)

    # ---- worker thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._listen_and_transcribe()
        except AssistantError as exc:
            if self.on_error is not None:
                self.on_error(exc)
        finally:
            self._recorder = None
            self._set_state(VoiceState.IDLE)
            with self._lock:
                self._busy = False
            self._idle.set()

    def _listen_and_transcribe(self) -> None:
        recorder = Recorder(**self._recorder_args)
        self._set_state(VoiceState.LISTENING)
        recorder.start()
        self._recorder = recorder
        if self._stop_requested.is_set():
            recorder.request_stop()
        while not recorder.wait(self.level_interval):
            if self.on_level is not None:
                self.on_level(recorder.level)
        ended = time.monotonic()
        audio = recorder.stop()
        if self._cancelled:
            return
        heard = recorder.speech_started or recorder.stop_reason == STOP_REQUESTED
        text = ""
        if heard and audio.size:
            self._set_state(VoiceState.TRANSCRIBING)
            text = self.transcriber.transcribe(audio)
        if self._cancelled:
            return
        self.last_latency = time.monotonic() - ended
        if self.on_transcript is not None:
            self.on_transcript(text)

    def _set_state(self, state: VoiceState) -> None:
        if state is self._state:
            return
        self._state = state
        if self.on_state is not None:
            self.on_state(state)


def make_push_to_talk(
    *,
    on_state: Callable[[str], None],
    on_level: Callable[[float], None],
    on_transcript: Callable[[str], None],
    on_error: Callable[[Exception], None],
    **options: Any,
) -> PushToTalk:
    """The app's voice hook: a `PushToTalk` whose callbacks speak the UI's plain types.

    `on_state` gets "idle", "listening" or "transcribing", `on_level` a meter level in 0..1 (not
    dBFS); `on_transcript` and `on_error` are passed as they are. Callbacks arrive on the voice
    worker's thread. `options` go to `PushToTalk` (the tests inject a transcriber and a stream).
    """
    return PushToTalk(
        on_state=lambda state: on_state(state.value),
        on_level=lambda dbfs: on_level(level_fraction(dbfs)),
        on_transcript=on_transcript,
        on_error=on_error,
        **options,
    )
