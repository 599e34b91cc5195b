"""The real capture path, sounddevice -> PortAudio -> ALSA, with a file as the microphone.

A temporary HOME holds a test-owned `.asoundrc` whose default PCM is ALSA's `file` plugin over
the `null` device, with `infile` set to raw 16 kHz mono audio. PortAudio opens it as float32
(what `Recorder` asks for) and the plugin passes the file through unconverted, so the raw file
holds float32 little-endian samples. Nothing paces a file device (it delivers as fast as it is
read, and garbage after the end of the file), so the recording must stop itself after the
expected number of samples. Each case runs in a child process because ALSA reads its
configuration once, when PortAudio initialises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.voice.speech_set import word_error_rate

from .conftest import HELLO, silence, tone
from .test_capture import _expected_silence_stop

PROBE = Path(__file__).with_name("portaudio_probe.py")
ASOUNDRC = """\
pcm.!default {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{infile}"
    format "raw"
}}
"""


def _record_through_alsa(
    tmp_path: Path, audio: np.ndarray | None, max_seconds: float
) -> tuple[dict, np.ndarray | None]:
    home = tmp_path / "home"
    home.mkdir()
    if audio is not None:
        infile = tmp_path / "microphone.f32"
        audio.astype("<f4").tofile(infile)
        (home / ".asoundrc").write_text(ASOUNDRC.format(infile=infile))
    out = tmp_path / "captured.npy"
    env = {**os.environ, "HOME": str(home)}
    env.pop("ALSA_CONFIG_PATH", None)
    done = subprocess.run(
        [sys.executable, str(PROBE), str(out), str(max_seconds)],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result, (np.load(out, allow_pickle=False) if out.exists() else None)


def test_speech_through_portaudio_stops_itself_after_the_silence(tmp_path, hello_audio, transcriber):
    # Enough trailing quiet for the silence stop, and more file after it that must never be read.
    audio = np.concatenate([hello_audio, silence(3.0)])
    result, captured = _record_through_alsa(tmp_path, audio, max_seconds=30.0)
    assert "error" not in result, result
    assert result["devices"], "the fake microphone should be listed as an input device"
    assert result["reason"] == "silence"
    assert result["samples"] == _expected_silence_stop(audio)
    assert np.array_equal(captured, audio[: captured.size])  # bit-exact through PortAudio
    assert word_error_rate([(HELLO, transcriber.transcribe(captured))]) <= 0.2


def test_an_unpaced_device_is_cut_at_the_maximum_length(tmp_path):
    audio = tone(10.0, dbfs=-20.0)
    result, captured = _record_through_alsa(tmp_path, audio, max_seconds=2.5)
    assert result["reason"] == "max_length"
    assert result["samples"] == 40000
    assert np.array_equal(captured, audio[:40000])
    assert result["wall_s"] < 10.0  # a file device is not paced: no waiting 2.5 s of real time needed


@pytest.mark.skipif(
    Path("/dev/snd").exists(),
    reason="this machine has sound cards (/dev/snd), which ALSA lists whatever .asoundrc says, "
    "so 'no input device' cannot be arranged here",
)
def test_no_input_device_gives_a_clear_message(tmp_path):
    result, captured = _record_through_alsa(tmp_path, None, max_seconds=1.0)
    assert captured is None
    assert "No microphone found" in result["error"]
    assert "Text input still works" in result["error"]
