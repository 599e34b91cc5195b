"""Audio arithmetic shared by capture and recognition: levels, mono mixing and resampling.

Audio everywhere in `assistant.voice` is a 1-D float32 numpy array at `SAMPLE_RATE` (16 kHz),
full scale +-1.0, which is what Whisper expects.
"""

from __future__ import annotations

import math

import numpy as np

SAMPLE_RATE = 16_000
"""Samples per second of every array this package passes around."""

SILENCE_DBFS = -100.0
"""The level reported for digital silence (log of zero is not a number)."""


def rms_dbfs(block: np.ndarray) -> float:
    """Root-mean-square level of `block` in dB relative to full scale (0.0 is a full-scale square wave).

    An empty or all-zero block gives `SILENCE_DBFS`.
    """
    if block.size == 0:
        return SILENCE_DBFS
    samples = np.asarray(block, dtype=np.float64)
    rms = math.sqrt(float(np.mean(samples * samples)))
    if rms <= 10 ** (SILENCE_DBFS / 20):
        return SILENCE_DBFS
    return 20.0 * math.log10(rms)


def level_fraction(dbfs: float, floor_dbfs: float = -60.0) -> float:
    """Map a level in dBFS to 0.0..1.0 for a meter: `floor_dbfs` and below is 0, full scale is 1."""
    if floor_dbfs >= 0:
        raise ValueError(f"floor_dbfs must be negative, got {floor_dbfs}")
    return min(1.0, max(0.0, 1.0 - dbfs / floor_dbfs))


def to_mono(frames: np.ndarray) -> np.ndarray:
    """Average the channels of a (samples, channels) array; a 1-D array is returned as is."""
    if frames.ndim == 1:
        return frames
    if frames.ndim != 2:
        raise ValueError(f"expected (samples,) or (samples, channels) audio, got shape {frames.shape}")
    return frames.mean(axis=1)


def resample(audio: np.ndarray, src_rate: int, dst_rate: int = SAMPLE_RATE, half_width: int = 16) -> np.ndarray:
    """Band-limited resampling of 1-D `audio` from `src_rate` to `dst_rate` (Kaiser-windowed sinc).

    Any ratio works (44.1 kHz, 48 kHz, 8 kHz ... to 16 kHz). When downsampling, the cut-off is
    lowered to the new Nyquist frequency so nothing aliases. `half_width` is the number of zero
    crossings of the sinc kept on each side; 16 keeps the passband within about 0.1 dB.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"resample expects 1-D audio, got shape {audio.shape}")
    if src_rate == dst_rate or audio.size == 0:
        return audio.copy()
    ratio = dst_rate / src_rate
    cutoff = min(1.0, ratio)  # as a fraction of the input Nyquist frequency
    reach = int(math.ceil(half_width / cutoff))  # input samples used on each side of an output point
    # Output sample n sits at input time n * src / dst = base + phase / phases, exactly, in integers.
    g = math.gcd(src_rate, dst_rate)
    phases, step = dst_rate // g, src_rate // g
    offsets = np.arange(-reach + 1, reach + 1)  # (taps,)
    dist = np.arange(phases)[:, None] / phases - offsets[None, :]  # (phases, taps), in input samples
    beta = 8.6  # Kaiser window shape: about 90 dB stopband
    window = np.i0(beta * np.sqrt(np.clip(1.0 - (dist / (reach + 1)) ** 2, 0.0, 1.0))) / np.i0(beta)
    table = (cutoff * np.sinc(cutoff * dist) * window).astype(np.float32)  # (phases, taps)

    n_out = (audio.size * dst_rate) // src_rate
    padded = np.concatenate([np.zeros(reach, np.float32), audio, np.zeros(reach + 1, np.float32)])
    out = np.empty(n_out, dtype=np.float32)
    chunk = 8192
    for start in range(0, n_out, chunk):
        n = np.arange(start, min(n_out, start + chunk), dtype=np.int64)  # (n,)
        base, phase = np.divmod(n * step, phases)  # (n,), (n,)
        taps = base[:, None] + offsets[None, :] + reach  # (n, taps) indices into `padded`
        out[start : start + n.size] = np.einsum("nt,nt->n", padded[taps], table[phase])
    return out
