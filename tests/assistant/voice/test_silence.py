"""Silence detection, counted in samples."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.voice.silence import SilenceDetector

from .conftest import silence, tone


def _feed(detector: SilenceDetector, audio: np.ndarray, block: int = 800) -> int | None:
    """Feed in blocks; the sample count at which the detector first says finished, or None."""
    for start in range(0, audio.size, block):
        if detector.feed(audio[start : start + block]):
            return detector.samples_seen
    return None


def test_finishes_after_the_silence_that_follows_speech():
    audio = np.concatenate([silence(0.5), tone(1.0, dbfs=-20), silence(3.0)])
    detector = SilenceDetector(silence_seconds=1.5)
    assert _feed(detector, audio) == 16000 * (0.5 + 1.0 + 1.5)
    assert detector.speech_end == 16000 * 1.5


def test_leading_silence_never_finishes_the_utterance():
    detector = SilenceDetector(silence_seconds=1.5)
    assert _feed(detector, silence(10.0)) is None
    assert not detector.speech_started


def test_a_click_shorter_than_min_speech_is_not_speech():
    audio = np.concatenate([silence(0.5), tone(0.05, dbfs=-10), silence(3.0)])
    detector = SilenceDetector(min_speech_seconds=0.1)
    assert _feed(detector, audio) is None


def test_a_pause_shorter_than_the_silence_keeps_listening():
    speech = tone(0.5, dbfs=-20)
    audio = np.concatenate([speech, silence(1.0), speech, silence(2.0)])
    detector = SilenceDetector(silence_seconds=1.5)
    assert _feed(detector, audio) == 16000 * (0.5 + 1.0 + 0.5 + 1.5)


def test_quiet_noise_below_the_threshold_counts_as_silence():
    audio = np.concatenate([tone(0.5, dbfs=-20), tone(2.0, dbfs=-55)])
    assert _feed(SilenceDetector(threshold_dbfs=-40.0), audio) == 16000 * 2.0


def test_reset_forgets_speech():
    detector = SilenceDetector()
    _feed(detector, tone(0.5))
    detector.reset()
    assert not detector.speech_started and detector.samples_seen == 0 and detector.speech_end is None


def test_invalid_durations_are_refused():
    with pytest.raises(ValueError, match="silence_seconds"):
        SilenceDetector(silence_seconds=0)
