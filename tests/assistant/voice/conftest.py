"""Fixtures for the voice tests: synthesised speech, test tones, one loaded speech model.

Speech comes from espeak-ng + `sox -D` (Debian packages listed in .ci/apt-voice.txt); they are
required, not optional: a missing tool fails the tests rather than skipping them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.voice.audio import SAMPLE_RATE
from assistant.voice.recognition import Transcriber
from assistant.voice.speech_set import synthesize
from assistant.voice.wavfile import read_wav

HELLO = "Please add bread and milk to my shopping list."


def tone(seconds: float, dbfs: float = -20.0, freq: float = 440.0, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A sine of the given RMS level in dBFS."""
    t = np.arange(int(round(seconds * rate))) / rate
    amplitude = np.sqrt(2.0) * 10 ** (dbfs / 20)
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * SAMPLE_RATE)), np.float32)


@pytest.fixture(scope="session")
def voice_dir(tmp_path_factory) -> Path:
    """A session-wide folder for synthesised clips."""
    return tmp_path_factory.mktemp("voice")


@pytest.fixture(scope="session")
def hello_wav(voice_dir) -> Path:
    """One sentence in the en-us voice, 16 kHz mono 16-bit, with 0.5 s of silence around it."""
    return synthesize(HELLO, "en-us", voice_dir / "hello.wav")


@pytest.fixture(scope="session")
def hello_audio(hello_wav) -> np.ndarray:
    return read_wav(hello_wav)


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    """The default speech model, loaded once for the whole session."""
    model = Transcriber()
    model.load()
    return model
