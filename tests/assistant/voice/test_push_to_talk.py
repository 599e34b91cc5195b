"""`PushToTalk`, the API the app calls: one key starts, the same key or a pause stops, the
transcript comes back through a callback; errors come back too and leave it ready again."""

from __future__ import annotations

import asyncio
import threading

from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from assistant.errors import MicrophoneUnavailable, SpeechModelError
from assistant.voice.push_to_talk import PushToTalk, VoiceState
from assistant.voice.recognition import Transcriber
from assistant.voice.speech_set import word_error_rate
from assistant.voice.streams import ArrayInputStream

from .conftest import HELLO, silence


class Events:
    """Collects every callback, with the thread it arrived on."""

    def __init__(self) -> None:
        self.states: list[VoiceState] = []
        self.levels: list[float] = []
        self.transcripts: list[str] = []
        self.errors: list[Exception] = []
        self.threads: set[str] = set()
        self.done = threading.Event()

    def _note(self) -> None:
        self.threads.add(threading.current_thread().name)

    def kwargs(self) -> dict:
        def on_state(state):
            self._note()
            self.states.append(state)

        def on_level(dbfs):
            self._note()
            self.levels.append(dbfs)

        def on_transcript(text):
            self._note()
            self.transcripts.append(text)
            self.done.set()

        def on_error(exc):
            self._note()
            self.errors.append(exc)
            self.done.set()

        return dict(on_state=on_state, on_level=on_level, on_transcript=on_transcript, on_error=on_error)


def _ptt(transcriber, audio, events, **stream_options) -> PushToTalk:
    return PushToTalk(transcriber, stream_class=ArrayInputStream.feeding(audio, **stream_options), **events.kwargs())


def test_a_pause_after_speech_stops_and_delivers_the_transcript(transcriber, hello_audio):
    events = Events()
    ptt = _ptt(transcriber, hello_audio, events)
    ptt.toggle()
    assert ptt.wait_idle(timeout=60)
    assert events.errors == []
    assert len(events.transcripts) == 1
    assert word_error_rate([(HELLO, events.transcripts[0])]) <= 0.2
    assert events.states == [VoiceState.LISTENING, VoiceState.TRANSCRIBING, VoiceState.IDLE]
    assert events.threads == {"push-to-talk"}  # never the audio thread, never the caller's
    assert ptt.state is VoiceState.IDLE and ptt.last_latency is not None


def test_pressing_the_key_again_stops_and_transcribes_what_was_said(transcriber, hello_audio):
    events = Events()
    ptt = _ptt(transcriber, hello_audio, events, realtime=True)
    ptt.toggle()
    speech_end = 3.0  # the sentence ends before 3 s; the clip goes on with silence
    threading.Event().wait(speech_end)
    assert ptt.state is VoiceState.LISTENING
    ptt.toggle()
    assert ptt.wait_idle(timeout=60)
    assert word_error_rate([(HELLO, events.transcripts[0])]) <= 0.2
    assert len(events.levels) >= 20  # the meter was fed about 20 times a second
    assert max(events.levels) > -30.0 and min(events.levels) < -90.0


def test_nothing_heard_gives_an_empty_transcript(transcriber):
    events = Events()
    ptt = PushToTalk(transcriber, stream_class=ArrayInputStream.feeding(silence(1.0)), max_seconds=2.0,
                     **events.kwargs())
    ptt.start()
    assert ptt.wait_idle(timeout=30)
    assert events.transcripts == [""]
    assert VoiceState.TRANSCRIBING not in events.states


def test_cancel_throws_the_recording_away(transcriber, hello_audio):
    events = Events()
    ptt = _ptt(transcriber, hello_audio, events, realtime=True)
    ptt.start()
    threading.Event().wait(0.3)
    ptt.cancel()
    assert ptt.wait_idle(timeout=30)
    assert events.transcripts == [] and events.errors == []
    assert events.states[-1] is VoiceState.IDLE


def test_no_microphone_is_reported_and_the_next_press_tries_again(transcriber, hello_audio):
    events = Events()
    broken = ArrayInputStream.feeding(hello_audio, open_error=OSError("no such device"))
    ptt = PushToTalk(transcriber, stream_class=broken, **events.kwargs())
    ptt.toggle()
    assert ptt.wait_idle(timeout=30)
    assert len(events.errors) == 1 and isinstance(events.errors[0], MicrophoneUnavailable)
    assert "no such device" in str(events.errors[0])
    assert ptt.state is VoiceState.IDLE
    assert ptt.start()  # ready again: the next press is accepted
    assert ptt.wait_idle(timeout=30)


def test_a_microphone_unplugged_while_listening_is_reported(transcriber, hello_audio):
    events = Events()
    ptt = _ptt(transcriber, hello_audio[:8000], events, after="disconnect")
    ptt.start()
    assert ptt.wait_idle(timeout=30)
    assert events.transcripts == []
    assert isinstance(events.errors[0], MicrophoneUnavailable) and "unplugged" in str(events.errors[0])


def test_a_broken_speech_model_is_reported(tmp_path, hello_audio):
    events = Events()
    ptt = _ptt(Transcriber(tmp_path / "no-model-here"), hello_audio, events)
    ptt.start()
    assert ptt.wait_idle(timeout=30)
    assert isinstance(events.errors[0], SpeechModelError)
    assert events.states[-1] is VoiceState.IDLE


def test_a_second_start_while_busy_is_ignored(transcriber, hello_audio):
    ptt = PushToTalk(transcriber, stream_class=ArrayInputStream.feeding(hello_audio, realtime=True))
    assert ptt.start()
    assert not ptt.start()
    ptt.close()
    assert ptt.state is VoiceState.IDLE


class DictationApp(App):
    """The smallest app wired the way the real one should be: F8 toggles, text lands in the input."""

    BINDINGS = [("f8", "push_to_talk", "Talk")]

    def __init__(self, ptt_factory) -> None:
        super().__init__()
        self.ptt: PushToTalk = ptt_factory(
            on_state=lambda state: self.call_from_thread(self._show, state.value),
            on_transcript=lambda text: self.call_from_thread(self._insert, text),
            on_error=lambda exc: self.call_from_thread(self._show, f"error: {exc}"),
        )
        self.seen: list[str] = []

    def compose(self) -> ComposeResult:
        yield Input(id="message")
        yield Static("idle", id="voice-status")

    def action_push_to_talk(self) -> None:
        self.ptt.toggle()

    def _show(self, text: str) -> None:
        self.seen.append(text)
        self.query_one("#voice-status", Static).update(text)

    def _insert(self, text: str) -> None:
        box = self.query_one("#message", Input)
        box.value = text
        box.cursor_position = len(text)

    def on_unmount(self) -> None:
        self.ptt.close()


def test_pilot_push_to_talk_puts_the_transcript_into_the_input_box(transcriber, hello_audio):
    """Run with asyncio.run: the test extra has no async pytest plugin."""

    def factory(**callbacks) -> PushToTalk:
        return PushToTalk(transcriber, stream_class=ArrayInputStream.feeding(hello_audio, realtime=True), **callbacks)

    asyncio.run(_drive_dictation_app(DictationApp(factory)))


async def _drive_dictation_app(app: DictationApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f8")
        for _ in range(600):
            await pilot.pause(0.05)
            if app.query_one("#message", Input).value:
                break
        await pilot.pause(0.1)
        text = app.query_one("#message", Input).value
        assert word_error_rate([(HELLO, text)]) <= 0.2
        assert app.seen == ["listening", "transcribing", "idle"]
        assert str(app.query_one("#voice-status", Static).render()) == "idle"
