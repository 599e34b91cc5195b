"""Capture through an injected stream fed from WAV files: silence stop, maximum length, level
meter, push-to-talk stop, and the microphone failing in each way it can."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from assistant.errors import MicrophoneUnavailable
from assistant.voice.audio import rms_dbfs
from assistant.voice.capture import Recorder
from assistant.voice.streams import ArrayInputStream
from assistant.voice.wavfile import read_wav, write_wav

from .conftest import silence, tone


def _expected_silence_stop(audio: np.ndarray, block: int = 800, silence_s: float = 1.5, rate: int = 16000) -> int:
    """Samples a recording should hold when it stops 1.5 s after the last loud block."""
    loud = [rms_dbfs(audio[i : i + block]) > -40.0 for i in range(0, audio.size, block)]
    last_loud = max(i for i, is_loud in enumerate(loud) if is_loud)
    return (last_loud + 1) * block + int(silence_s * rate)


def test_speech_from_a_wav_stops_itself_after_the_silence(hello_wav):
    audio = read_wav(hello_wav)
    recorder = Recorder(stream_class=ArrayInputStream.feeding(audio), silence_seconds=1.5)
    captured = recorder.record_utterance(timeout=30)
    assert recorder.stop_reason == "silence"
    assert recorder.speech_started
    assert captured.size == _expected_silence_stop(audio)
    n = min(captured.size, audio.size)
    assert np.array_equal(captured[:n], audio[:n])  # the audio arrives unchanged
    assert not captured[audio.size :].any()  # then the room is quiet


def test_recording_stops_at_the_maximum_length_exactly():
    recorder = Recorder(stream_class=ArrayInputStream.feeding(tone(10.0)), max_seconds=2.5)
    captured = recorder.record_utterance(timeout=30)
    assert recorder.stop_reason == "max_length"
    assert captured.size == 40000  # 2.5 s, although blocks are 800 samples and 40000 is not the cut


def test_without_silence_detection_only_the_maximum_stops_it(hello_audio):
    recorder = Recorder(stream_class=ArrayInputStream.feeding(hello_audio), silence_seconds=None, max_seconds=6.0)
    assert recorder.record_utterance(timeout=30).size == 96000
    assert recorder.stop_reason == "max_length"


def test_level_meter_reports_every_block_in_dbfs(tmp_path):
    audio = read_wav(write_wav(tmp_path / "levels.wav", np.concatenate([tone(1.0, dbfs=-20), silence(2.0)])))
    levels: list[float] = []
    recorder = Recorder(stream_class=ArrayInputStream.feeding(audio), on_level=levels.append)
    captured = recorder.record_utterance(timeout=30)
    assert len(levels) == captured.size // 800
    assert levels[0] == pytest.approx(-20.0, abs=0.1)
    assert levels[-1] < -90.0
    assert recorder.level == levels[-1]


def test_push_to_talk_stop_returns_what_was_heard_so_far(hello_audio):
    recorder = Recorder(stream_class=ArrayInputStream.feeding(hello_audio, realtime=True))
    recorder.start()
    assert not recorder.wait(timeout=0.5)  # still listening
    audio = recorder.stop()
    assert recorder.stop_reason == "stopped"
    assert 0.3 * 16000 <= audio.size <= 2.0 * 16000
    assert np.array_equal(audio, hello_audio[: audio.size])
    assert not recorder.running


def test_request_stop_from_another_thread_ends_wait(hello_audio):
    recorder = Recorder(stream_class=ArrayInputStream.feeding(hello_audio, realtime=True))
    recorder.start()
    threading.Timer(0.2, recorder.request_stop).start()
    assert recorder.wait(timeout=5)
    recorder.stop()
    assert recorder.stop_reason == "stopped"


def test_a_device_that_disappears_mid_recording_raises_a_clear_error(hello_audio):
    """PortAudio ends the stream (finished_callback) when the device goes away."""
    recorder = Recorder(stream_class=ArrayInputStream.feeding(hello_audio[:16000], after="disconnect"))
    recorder.start()
    assert recorder.wait(timeout=10)
    with pytest.raises(MicrophoneUnavailable, match=r"stopped delivering audio after 1\.0 s.*unplugged"):
        recorder.stop()
    assert recorder.stop_reason == "device_lost"


def test_a_device_that_hangs_is_reported_as_lost(hello_audio):
    recorder = Recorder(stream_class=ArrayInputStream.feeding(hello_audio[:8000], after="stall"), stall_seconds=0.3)
    with pytest.raises(MicrophoneUnavailable, match="unplugged"):
        recorder.record_utterance(timeout=10)


def test_a_device_that_cannot_be_opened_says_which_and_why():
    stream = ArrayInputStream.feeding(np.zeros(1, np.float32), open_error=OSError("Device unavailable"))
    recorder = Recorder(stream_class=stream, device="USB mic")
    with pytest.raises(MicrophoneUnavailable, match="Could not open microphone 'USB mic'.*Device unavailable"):
        recorder.start()
    assert not recorder.running


def test_start_twice_is_a_programming_error(hello_audio):
    recorder = Recorder(stream_class=ArrayInputStream.feeding(hello_audio, realtime=True))
    recorder.start()
    try:
        with pytest.raises(RuntimeError, match="already recording"):
            recorder.start()
    finally:
        recorder.stop()


def test_a_recorder_can_record_again_after_stop(hello_audio):
    recorder = Recorder(stream_class=ArrayInputStream.feeding(hello_audio))
    first = recorder.record_utterance(timeout=30)
    second = recorder.record_utterance(timeout=30)
    assert np.array_equal(first, second)


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="max_seconds"):
        Recorder(max_seconds=0)


def test_a_device_running_at_48k_is_resampled_to_16k(hello_audio):
    """Devices that cannot run at 16 kHz are opened at their own rate; the result is still 16 kHz."""
    from assistant.voice.audio import resample

    audio_48k = resample(hello_audio, 16000, 48000)
    recorder = Recorder(stream_class=ArrayInputStream.feeding(audio_48k), capture_rate=48000)
    captured = recorder.record_utterance(timeout=30)
    assert recorder.stop_reason == "silence"
    assert recorder.blocksize == 2400  # still 50 ms blocks
    expected = _expected_silence_stop(audio_48k, block=2400, rate=48000) // 3
    assert captured.size == expected
    n = min(captured.size, hello_audio.size) - 200
    assert np.max(np.abs(captured[200:n] - hello_audio[200:n])) < 0.01
