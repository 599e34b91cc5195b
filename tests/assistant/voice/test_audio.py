"""Levels and resampling."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.voice.audio import SILENCE_DBFS, level_fraction, resample, rms_dbfs, to_mono

from .conftest import tone


def test_rms_dbfs_of_a_sine_matches_its_level():
    assert rms_dbfs(tone(0.5, dbfs=-20.0)) == pytest.approx(-20.0, abs=0.01)
    assert rms_dbfs(tone(0.5, dbfs=-3.0103)) == pytest.approx(-3.0103, abs=0.01)  # full-scale sine


def test_rms_dbfs_of_silence_and_of_nothing_is_the_floor():
    assert rms_dbfs(np.zeros(800, np.float32)) == SILENCE_DBFS
    assert rms_dbfs(np.zeros(0, np.float32)) == SILENCE_DBFS


def test_level_fraction_maps_floor_to_zero_and_full_scale_to_one():
    assert level_fraction(-80.0) == 0.0
    assert level_fraction(-30.0) == pytest.approx(0.5)
    assert level_fraction(0.0) == 1.0
    with pytest.raises(ValueError, match="negative"):
        level_fraction(-10.0, floor_dbfs=0.0)


def test_to_mono_averages_channels():
    stereo = np.array([[1.0, 0.0], [0.5, 0.5]], np.float32)
    assert np.allclose(to_mono(stereo), [0.5, 0.5])


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spectrum)) * rate / x.size


@pytest.mark.parametrize("src", [8000, 11025, 22050, 44100, 48000])
def test_resample_keeps_frequency_level_and_duration(src):
    x = tone(2.0, dbfs=-10.0, freq=1000.0, rate=src)
    y = resample(x, src, 16000)
    assert y.dtype == np.float32
    assert y.size == 32000
    assert _peak_hz(y, 16000) == pytest.approx(1000.0, abs=1.0)
    assert rms_dbfs(y[400:-400]) == pytest.approx(-10.0, abs=0.05)
    t = np.arange(y.size) / 16000
    expected = np.sqrt(2) * 10 ** (-10 / 20) * np.sin(2 * np.pi * 1000 * t)
    assert np.max(np.abs(y[400:-400] - expected[400:-400])) < 1e-3


def test_resample_removes_what_the_new_rate_cannot_hold():
    """A 10 kHz tone is above 16 kHz audio's 8 kHz Nyquist limit: it must vanish, not alias to 6 kHz."""
    y = resample(tone(1.0, dbfs=-3.0, freq=10000.0, rate=44100), 44100, 16000)
    assert rms_dbfs(y[400:-400]) < -70.0


def test_resample_to_the_same_rate_is_a_copy():
    x = tone(0.1)
    y = resample(x, 16000, 16000)
    assert np.array_equal(x, y) and y is not x


def test_resample_rejects_bad_rates_and_shapes():
    with pytest.raises(ValueError, match="positive"):
        resample(tone(0.1), 0, 16000)
    with pytest.raises(ValueError, match="1-D"):
        resample(np.zeros((10, 2), np.float32), 44100, 16000)
