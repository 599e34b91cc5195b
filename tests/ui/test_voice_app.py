"""Push-to-talk in the real app, through the real voice path.

A sentence spoken by espeak-ng is played by an injected `ArrayInputStream` (the one stand-in: it
sits where `sounddevice.InputStream` would) into the `PushToTalk` that the app's own voice
factory builds, is recognised by the real speech model, and must land in the real app's message
box. Only the session is fake.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from assistant.errors import MicrophoneUnavailable
from assistant.voice.push_to_talk import PushToTalk, make_push_to_talk
from assistant.voice.recognition import Transcriber
from assistant.voice.speech_set import normalize_words, synthesize
from assistant.voice.streams import ArrayInputStream
from assistant.voice.wavfile import read_wav
from tests.ui.conftest import fill, notifications, settle, unlock, wait_until
from ui.widgets.chat_input import ChatInput
from ui.widgets.chat_log import MessageView
from ui.widgets.status_bar import StatusBar

SPOKEN = "Remind me to call my sister tomorrow morning."


@pytest.fixture(scope="module")
def spoken_audio(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """`SPOKEN` in espeak-ng's en-us voice, 16 kHz mono, with half a second of silence around it."""
    return read_wav(synthesize(SPOKEN, "en-us", tmp_path_factory.mktemp("voice-app") / "spoken.wav"))


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    """The default speech model, not yet loaded: the first press of the key loads it in the background."""
    return Transcriber()


class Microphone:
    """Voice factories for the app that hear given audio; keeps the streams and controllers built.

    Each factory is the app's default one, `make_push_to_talk`, with the injected stream class
    (and the module's speech model) passed on to the `PushToTalk` it builds.
    """

    def __init__(self, transcriber: Transcriber) -> None:
        self._transcriber = transcriber
        self.streams: list[ArrayInputStream] = []
        self.controllers: list[PushToTalk] = []

    def hearing(self, audio: np.ndarray, **stream_options: Any) -> Callable[..., Any]:
        """A voice factory whose microphone plays `audio` (`stream_options` go to `ArrayInputStream`)."""
        feed = ArrayInputStream.feeding(audio, **stream_options)

        def stream_class(**kwargs: Any) -> ArrayInputStream:
            self.streams.append(feed(**kwargs))
            return self.streams[-1]

        def push_to_talk(**callbacks: Any) -> PushToTalk:
            talk = make_push_to_talk(transcriber=self._transcriber, stream_class=stream_class, **callbacks)
            self.controllers.append(talk)
            return talk

        return push_to_talk


@pytest.fixture
def microphone(transcriber: Transcriber) -> Microphone:
    return Microphone(transcriber)


def share_of_words_heard(expected: str, heard: str) -> float:
    """The fraction of `expected`'s words found in `heard` (both normalised)."""
    words, got = normalize_words(expected), set(normalize_words(heard))
    return sum(word in got for word in words) / len(words)


def watch_status_bar(app: Any) -> list[str]:
    """The status bar's text after each change of its voice state, from now on."""
    status = app.screen.query_one(StatusBar)
    shown: list[str] = []
    app.screen.watch(status, "voice", lambda _state: shown.append(str(status.render())), init=False)
    return shown


def user_messages(app: Any) -> list[str]:
    return [view.markdown.source for view in app.screen.query(MessageView) if view.role == "user"]


async def test_dictation_lands_in_the_message_box_and_the_status_bar_follows(seeded, new_app, microphone, spoken_audio):
    app = new_app(seeded, voice_factory=microphone.hearing(spoken_audio))
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        shown = watch_status_bar(app)
        box = app.screen.query_one(ChatInput)
        await pilot.press("ctrl+r")  # a pause after the sentence stops the recording by itself
        await wait_until(pilot, lambda: box.text, timeout=45)
        await settle(pilot)
        assert share_of_words_heard(SPOKEN, box.text) >= 0.7, box.text
        assert app.session.sent == []  # for the user to edit and send
        assert app.focused is box
        states = ["listening" if "● listening" in text else "transcribing" if "transcribing…" in text else "idle"
                  for text in shown]
        assert states == ["listening", "transcribing", "idle"], shown
        assert "ctrl+r stops" in shown[0]
        assert app.screen.query_one(StatusBar).voice == "idle"


async def test_dictation_is_sent_at_once_with_voice_send_immediately(seeded, new_app, microphone, spoken_audio):
    app = new_app(seeded, voice_factory=microphone.hearing(spoken_audio))
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        app.session.settings.set("voice.send_immediately", True)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.session.sent, timeout=45)
        await settle(pilot)
        assert len(app.session.sent) == 1
        assert share_of_words_heard(SPOKEN, app.session.sent[0]) >= 0.7, app.session.sent
        assert user_messages(app)[-1] == app.session.sent[0]
        assert app.screen.query_one(ChatInput).text == ""


@pytest.mark.parametrize("open_error", [
    MicrophoneUnavailable("No microphone found: PortAudio lists no input device. Text input still works."),
    OSError("Error querying device -1"),  # what the Recorder turns into MicrophoneUnavailable
], ids=["raised-as-is", "from-an-oserror"])
async def test_a_microphone_that_cannot_open_is_reported_and_typing_still_works(
    seeded, new_app, microphone, spoken_audio, open_error
):
    app = new_app(seeded, voice_factory=microphone.hearing(spoken_audio, open_error=open_error))
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: any("microphone" in n.lower() for n in notifications(app)))
        await settle(pilot)
        [message] = [n for n in notifications(app) if "microphone" in n.lower()]
        assert str(open_error) in message
        assert message.count("still works") + message.count("works as always") == 1
        assert [n.title for n in app._notifications if n.message == message] == ["Voice input stopped"]
        assert app.screen.query_one(StatusBar).voice == "idle"
        await fill(pilot, "typed instead")
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.sent == ["typed instead"]


async def test_quitting_while_listening_releases_the_microphone_at_once(seeded, new_app, microphone):
    """Regression: quitting while listening left the microphone open (the app looked for the chat
    screen after its screens were gone, so nothing closed the voice input); and closing it there
    hung for 5 s, because the voice callbacks waited on the UI (`call_from_thread`) while the UI
    waited on the voice worker."""
    quiet_room = np.zeros(1600, np.float32)  # then silence forever, at real-time pace
    app = new_app(seeded, voice_factory=microphone.hearing(quiet_room, realtime=True))
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.screen.query_one(StatusBar).voice == "listening")
        started = time.monotonic()
        await pilot.press("ctrl+q")
    assert time.monotonic() - started < 2.0
    [talk], [stream] = microphone.controllers, microphone.streams
    assert talk.wait_idle(0) and stream.closed
