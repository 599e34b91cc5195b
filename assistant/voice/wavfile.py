"""Read a WAV file as 16 kHz mono float32 (and write one).

Integer PCM (8, 16, 24, 32 bit) and IEEE float (32, 64 bit) WAV, plain or WAVE_FORMAT_EXTENSIBLE,
at any rate and channel count, is accepted: channels are averaged and the rate is converted
with `audio.resample`. Anything else (compressed WAV, not a WAV at all, a file without audio)
raises `AudioFormatError` naming the file and the problem. The header is parsed here rather
than with the stdlib `wave` module because `wave` (Python 3.11) refuses the EXTENSIBLE header
that sox and many recorders write for 24-bit or multi-channel audio.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np

from assistant.errors import AudioFormatError
from assistant.voice.audio import SAMPLE_RATE, resample, to_mono

_CONVERT_HINT = "convert it with: sox IN.wav -r 16000 -c 1 -b 16 OUT.wav"
_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE


def read_wav(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The audio of the WAV file at `path` as 1-D float32 at `rate` Hz, mono, full scale +-1."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AudioFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioFormatError(f"{path}: is a directory, not a WAV file") from None
    except OSError as exc:
        raise AudioFormatError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        tag, channels, src_rate, bits, data = _parse_riff(raw)
    except AudioFormatError as exc:
        raise AudioFormatError(f"{path}: {exc}; {_CONVERT_HINT}") from None
    width = bits // 8
    usable = len(data) - len(data) % (width * channels)
    if usable == 0:
        raise AudioFormatError(f"{path}: the WAV file holds no audio")
    samples = _decode(data[:usable], tag, width).reshape(-1, channels)  # (frames, channels)
    return resample(to_mono(samples).astype(np.float32), src_rate, rate)


def _parse_riff(raw: bytes) -> tuple[int, int, int, int, bytes]:
    """(format tag, channels, rate, bits per sample, sample bytes) of a RIFF/WAVE file."""
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise AudioFormatError("not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(raw):
        chunk_id, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + size > len(raw):
                raise AudioFormatError("damaged WAV header (short fmt chunk)")
            tag, channels, rate, _byte_rate, _align, bits = struct.unpack("<HHIIHH", raw[body : body + 16])
            if tag == _EXTENSIBLE:
                if size < 40:
                    raise AudioFormatError("damaged WAV header (short extensible fmt chunk)")
                tag = struct.unpack("<H", raw[body + 24 : body + 26])[0]  # first field of the sub-format GUID
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioFormatError("damaged WAV file (audio before its format chunk)")
            tag, channels, rate, bits = fmt
            if tag not in (_PCM, _FLOAT):
                raise AudioFormatError(f"compressed WAV (format 0x{tag:04x}) is not supported, only PCM or float")
            if channels < 1 or rate <= 0 or bits not in ((8, 16, 24, 32) if tag == _PCM else (32, 64)):
                raise AudioFormatError(f"unsupported WAV layout ({channels} channels, {rate} Hz, {bits}-bit)")
            end = len(raw) if size in (0, 0xFFFFFFFF) else min(len(raw), body + size)  # 0/-1: streamed
            return tag, channels, rate, bits, raw[body:end]
        pos = body + size + (size & 1)
    raise AudioFormatError("no audio data in the WAV file" if fmt else "damaged WAV file (no format chunk)")


def _decode(data: bytes, tag: int, width: int) -> np.ndarray:
    """Sample bytes -> float32 in [-1, 1]."""
    if tag == _FLOAT:
        return np.frombuffer(data, dtype="<f4" if width == 4 else "<f8").astype(np.float32)
    return _decode_pcm(data, width)


def _decode_pcm(data: bytes, width: int) -> np.ndarray:
    """Little-endian integer PCM bytes -> float32 in [-1, 1). 8-bit WAV is unsigned, wider is signed."""
    if width == 1:
        return (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if width == 3:
        raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float32) / float(1 << 23)
    if width == 4:
        return (np.frombuffer(data, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    raise AudioFormatError(f"unsupported sample width of {width} bytes; {_CONVERT_HINT}")


def write_wav(path: str | Path, audio: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Write 1-D float audio as a 16-bit mono PCM WAV file (clipped to full scale); returns the path."""
    path = Path(path)
    samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 32767 / 32768)
    pcm = np.round(samples * 32768.0).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return path
