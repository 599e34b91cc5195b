"""Reading WAV files of any PCM layout as 16 kHz mono, and clear errors for the rest."""

from __future__ import annotations

import struct
import subprocess

import numpy as np
import pytest

from assistant.errors import AudioFormatError
from assistant.voice.audio import rms_dbfs
from assistant.voice.wavfile import read_wav, write_wav

from .conftest import tone


def _sox(src, dst, *options):
    subprocess.run(["sox", "-D", "-V1", str(src), *options, str(dst)], check=True)
    return dst


def test_write_then_read_roundtrips_16k_mono(tmp_path):
    x = tone(1.0, dbfs=-12.0)
    y = read_wav(write_wav(tmp_path / "a.wav", x))
    assert y.size == x.size
    assert np.max(np.abs(x - y)) <= 1 / 32768


@pytest.mark.parametrize(
    "options",
    [
        ["-r", "44100", "-c", "2", "-b", "24"],  # sox writes WAVE_FORMAT_EXTENSIBLE here
        ["-r", "48000", "-c", "1", "-b", "32"],
        ["-r", "8000", "-c", "1", "-b", "8"],
        ["-r", "22050", "-c", "2", "-b", "16"],
        ["-r", "32000", "-c", "1", "-e", "floating-point", "-b", "32"],
    ],
    ids=["44k1-stereo-24bit", "48k-32bit", "8k-8bit", "22k-stereo-16bit", "32k-float"],
)
def test_other_rates_channels_and_widths_are_converted(tmp_path, options):
    x = tone(1.0, dbfs=-12.0, freq=440.0)
    converted = _sox(write_wav(tmp_path / "src.wav", x), tmp_path / "dst.wav", *options)
    y = read_wav(converted)
    assert abs(y.size - x.size) <= 2
    assert rms_dbfs(y[400:-400]) == pytest.approx(-12.0, abs=0.3)  # 8-bit is noisy, the rest exact
    n = min(x.size, y.size) - 400
    assert np.corrcoef(x[400:n], y[400:n])[0, 1] > 0.99


def test_streamed_wav_with_unknown_data_size_is_read_to_the_end(tmp_path):
    """Recorders writing to a pipe leave the data size as 0xFFFFFFFF."""
    x = tone(0.5)
    raw = bytearray(write_wav(tmp_path / "a.wav", x).read_bytes())
    data_at = raw.index(b"data")
    raw[data_at + 4 : data_at + 8] = struct.pack("<I", 0xFFFFFFFF)
    (tmp_path / "streamed.wav").write_bytes(bytes(raw))
    assert read_wav(tmp_path / "streamed.wav").size == x.size


def test_not_a_wav_says_so_and_names_the_file(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_bytes(b"ID3\x03 this is an mp3, really" * 10)
    with pytest.raises(AudioFormatError, match=r"notes\.wav: not a WAV file.*sox"):
        read_wav(bad)


def test_compressed_wav_is_refused_with_its_format(tmp_path):
    ulaw = _sox(write_wav(tmp_path / "a.wav", tone(0.5)), tmp_path / "ulaw.wav", "-e", "u-law")
    with pytest.raises(AudioFormatError, match="compressed WAV"):
        read_wav(ulaw)


def test_missing_empty_and_truncated_files_say_what_is_wrong(tmp_path):
    with pytest.raises(AudioFormatError, match="no such file"):
        read_wav(tmp_path / "absent.wav")
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32))
    with pytest.raises(AudioFormatError, match="holds no audio"):
        read_wav(empty)
    header_only = tmp_path / "cut.wav"
    header_only.write_bytes(write_wav(tmp_path / "a.wav", tone(0.5)).read_bytes()[:30])
    with pytest.raises(AudioFormatError, match="damaged"):
        read_wav(header_only)
    with pytest.raises(AudioFormatError, match="directory"):
        read_wav(tmp_path)
