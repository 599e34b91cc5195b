"""Record one utterance from the microphone: 16 kHz mono float32 through `sounddevice`.

`Recorder` is push-to-talk underneath: `start()` opens the stream, `stop()` closes it and returns
the audio, `wait()` blocks until the recording ends by itself (about 1.5 s of quiet after speech,
or the maximum length). `record_utterance()` is the three in a row. Every block updates a level
meter (RMS dBFS, `level` and the `on_level` callback).

The stream class is injectable (`stream_class=`): anything called like `sounddevice.InputStream`
works, e.g. `streams.ArrayInputStream.feeding(audio)` in tests. Nothing is imported from
`sounddevice` until a real microphone is used, and a missing PortAudio library, no input device
or a device that disappears mid-recording each raise `MicrophoneUnavailable` with a clear message.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from assistant.errors import MicrophoneUnavailable
from assistant.voice.audio import SAMPLE_RATE, SILENCE_DBFS, resample, rms_dbfs
from assistant.voice.silence import SilenceDetector

STOP_SILENCE = "silence"
STOP_MAX_LENGTH = "max_length"
STOP_REQUESTED = "stopped"
STOP_DEVICE_LOST = "device_lost"

_TEXT_STILL_WORKS = "Text input still works."


def load_sounddevice() -> ModuleType:
    """Import `sounddevice`, turning a missing PortAudio library into `MicrophoneUnavailable`."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio cannot be loaded
        raise MicrophoneUnavailable(
            f"The PortAudio library is missing, so no microphone can be used ({exc}). "
            f"On Debian/Ubuntu: apt-get install libportaudio2. {_TEXT_STILL_WORKS}"
        ) from None
    except ImportError as exc:
        raise MicrophoneUnavailable(
            f"The Python package sounddevice is not installed ({exc}). {_TEXT_STILL_WORKS}"
        ) from None
    return sounddevice


@dataclass(frozen=True)
class InputDevice:
    """One audio input as PortAudio lists it."""

    index: int
    name: str
    channels: int
    default_samplerate: float
    hostapi: str
    is_default: bool


def list_input_devices() -> list[InputDevice]:
    """The input devices PortAudio can see (empty if none); `MicrophoneUnavailable` without PortAudio."""
    sd = load_sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise MicrophoneUnavailable(f"PortAudio could not list audio devices: {exc}") from None
    try:
        default_in = int(sd.query_devices(kind="input")["index"])
    except sd.PortAudioError:  # no default input device
        default_in = -1
    found = []
    for dev in devices:
        if dev["max_input_channels"] < 1:
            continue
        found.append(
            InputDevice(
                index=int(dev["index"]),
                name=str(dev["name"]),
                channels=int(dev["max_input_channels"]),
                default_samplerate=float(dev["default_samplerate"]),
                hostapi=str(hostapis[dev["hostapi"]]["name"]),
                is_default=int(dev["index"]) == default_in,
            )
        )
    return found


class Recorder:
    """Capture one utterance; see the module docstring.

    `silence_seconds=None` turns the automatic stop off (pure push-to-talk; the maximum length
    still applies). The device is opened at `capture_rate`; None means `samplerate` (16 kHz) if
    the device supports it, else the device's own default rate. Either way the audio returned is
    resampled to `samplerate`. `on_level(dbfs)` is called for every block from the audio thread: it must be
    quick and must not block (poll `level` from another thread instead, as `PushToTalk` does).
    """

    def __init__(
        self,
        *,
        stream_class: Callable[..., Any] | None = None,
        device: int | str | None = None,
        samplerate: int = SAMPLE_RATE,
        capture_rate: int | None = None,
        block_seconds: float = 0.05,
        silence_seconds: float | None = 1.5,
        threshold_dbfs: float = -40.0,
        max_seconds: float = 30.0,
        stall_seconds: float = 2.0,
        on_level: Callable[[float], None] | None = None,
    ) -> None:
        if max_seconds <= 0 or block_seconds <= 0 or stall_seconds <= 0:
            raise ValueError(
                f"max_seconds, block_seconds and stall_seconds must be > 0, "
                f"got {max_seconds}, {block_seconds}, {stall_seconds}"
            )
        self.stream_class = stream_class
        self.device = device
        self.samplerate = samplerate
        self.capture_rate = capture_rate
        self.block_seconds = block_seconds
        self.max_seconds = max_seconds
        self.stall_seconds = stall_seconds
        self.threshold_dbfs = threshold_dbfs
        self.silence_seconds = silence_seconds
        self.on_level = on_level
        self._rate = capture_rate or samplerate
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._stream: Any = None
        self._callback_stop: type[BaseException] | None = None
        self._reset()

    def _reset(self) -> None:
        """Forget the last recording; sizes follow `self._rate`, the rate the device runs at."""
        self.blocksize = max(1, int(round(self.block_seconds * self._rate)))
        self.max_samples = int(round(self.max_seconds * self._rate))
        self._blocks: list[np.ndarray] = []
        self._samples = 0
        self._level = SILENCE_DBFS
        self._reason: str | None = None
        self._stopping = False
        self._started_at = 0.0
        self._last_data = 0.0
        self.overflows = 0
        self._detector = SilenceDetector(
            threshold_dbfs=self.threshold_dbfs, silence_seconds=self.silence_seconds or 1.0, samplerate=self._rate
        )
        self._done.clear()

    # ---- state -------------------------------------------------------------------------------

    @property
    def level(self) -> float:
        """Level of the latest block in dBFS (`audio.SILENCE_DBFS` before any audio)."""
        return self._level

    @property
    def seconds(self) -> float:
        """Seconds of audio captured so far."""
        return self._samples / self._rate

    @property
    def speech_started(self) -> bool:
        """Whether speech has been heard (see `SilenceDetector`)."""
        return self._detector.speech_started

    @property
    def speech_end_seconds(self) -> float | None:
        """Where the last loud block ended, in seconds from the start; None before any."""
        end = self._detector.speech_end
        return None if end is None else end / self._rate

    @property
    def stop_reason(self) -> str | None:
        """Why the recording ended: "silence", "max_length", "stopped", "device_lost"; None while running."""
        return self._reason

    @property
    def running(self) -> bool:
        """Whether a stream is open and the recording has not ended."""
        return self._stream is not None and not self._done.is_set()

    # ---- push-to-talk API --------------------------------------------------------------------

    def start(self) -> None:
        """Open the input stream and begin recording; `MicrophoneUnavailable` if that fails."""
        if self._stream is not None:
            raise RuntimeError("Recorder.start() called while already recording; call stop() first")
        stream_class = self.stream_class
        if stream_class is None:
            sd = load_sounddevice()
            stream_class = sd.InputStream
            self._callback_stop = sd.CallbackStop
            errors: tuple[type[BaseException], ...] = (sd.PortAudioError, OSError, ValueError, RuntimeError)
            if self.device is None and not list_input_devices():
                raise MicrophoneUnavailable(
                    f"No microphone found: PortAudio lists no input device. {_TEXT_STILL_WORKS}"
                )
            self._rate = self.capture_rate or self._supported_rate(sd)
        else:
            self._callback_stop = None
            errors = (OSError, ValueError, RuntimeError)
            self._rate = self.capture_rate or self.samplerate
        self._reset()
        self._started_at = self._last_data = time.monotonic()
        try:
            stream = stream_class(
                samplerate=self._rate,
                blocksize=self.blocksize,
                device=self.device,
                channels=1,
                dtype="float32",
                callback=self._on_audio,
                finished_callback=self._on_finished,
            )
        except errors as exc:
            raise MicrophoneUnavailable(self._open_failed(exc)) from None
        self._stream = stream
        try:
            stream.start()
        except errors as exc:
            self._stream = None
            _close_quietly(stream, errors)
            raise MicrophoneUnavailable(self._open_failed(exc)) from None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the recording ends by itself or is stopped; False if `timeout` passed first.

        A device that delivers nothing for `stall_seconds`, or whose stream ends on its own, counts
        as lost: `wait` returns True and `stop()` raises `MicrophoneUnavailable`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 0.05 if deadline is None else min(0.05, max(0.0, deadline - time.monotonic()))
            if self._done.wait(step):
                return True
            if self._stream is None:
                return True
            if time.monotonic() - self._last_data > self.stall_seconds:
                self._end(STOP_DEVICE_LOST)
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def request_stop(self) -> None:
        """Ask the recording to end now without waiting (safe from any thread); `stop()` still closes it."""
        self._end(STOP_REQUESTED)

    def stop(self) -> np.ndarray:
        """End the recording (if still running), close the stream and return the audio.

        Raises `MicrophoneUnavailable` if the device was lost while recording.
        """
        with self._lock:
            self._stopping = True
            if self._reason is None:
                self._reason = STOP_REQUESTED
        self._done.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            _close_quietly(stream, (OSError, RuntimeError, ValueError) + _portaudio_error())
        if self._reason == STOP_DEVICE_LOST:
            raise MicrophoneUnavailable(
                f"The microphone stopped delivering audio after {self.seconds:.1f} s "
                f"(was it unplugged?). Nothing was transcribed. {_TEXT_STILL_WORKS}"
            )
        return self.audio()

    def record_utterance(self, timeout: float | None = None) -> np.ndarray:
        """Record until silence after speech, the maximum length or `timeout` seconds; return the audio."""
        self.start()
        try:
            self.wait(timeout)
        finally:
            audio = self.stop()
        return audio

    def audio(self) -> np.ndarray:
        """The audio captured so far as one 1-D float32 array at `samplerate`."""
        with self._lock:
            captured = np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float32)
        return resample(captured, self._rate, self.samplerate) if self._rate != self.samplerate else captured

    def _supported_rate(self, sd: ModuleType) -> int:
        """`samplerate` if the device takes it, else the device's default rate (resampled later)."""
        try:
            sd.check_input_settings(device=self.device, channels=1, dtype="float32", samplerate=self.samplerate)
            return self.samplerate
        except (sd.PortAudioError, ValueError):
            try:
                return int(sd.query_devices(self.device, "input")["default_samplerate"])
            except (sd.PortAudioError, ValueError):
                return self.samplerate  # let opening the stream report the problem

    # ---- callbacks (audio thread) ------------------------------------------------------------

    def _on_audio(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        level: float | None = None
        with self._lock:
            if self._done.is_set():
                finished = True
            else:
                if status and getattr(status, "input_overflow", False):
                    self.overflows += 1
                block = np.array(indata[:, 0] if indata.ndim == 2 else indata, dtype=np.float32)  # copy
                room = self.max_samples - self._samples
                block = block[:room]
                self._blocks.append(block)
                self._samples += block.size
                self._last_data = time.monotonic()
                self._level = level = rms_dbfs(block)
                quiet_enough = self._detector.feed(block)
                if self._samples >= self.max_samples:
                    self._reason = STOP_MAX_LENGTH
                elif quiet_enough and self.silence_seconds is not None:
                    self._reason = STOP_SILENCE
                finished = self._reason is not None
                if finished:
                    self._done.set()
        if level is not None and self.on_level is not None:
            self.on_level(level)
        if finished and self._callback_stop is not None:
            raise self._callback_stop

    def _on_finished(self) -> None:
        """The stream ended; if nobody asked it to, the device is gone."""
        with self._lock:
            if not self._stopping and self._reason is None:
                self._reason = STOP_DEVICE_LOST
        self._done.set()

    def _end(self, reason: str) -> None:
        with self._lock:
            if self._reason is None:
                self._reason = reason
        self._done.set()

    def _open_failed(self, exc: BaseException) -> str:
        which = "the default microphone" if self.device is None else f"microphone {self.device!r}"
        return f"Could not open {which} at {self._rate} Hz mono: {exc}. {_TEXT_STILL_WORKS}"


def _portaudio_error() -> tuple[type[BaseException], ...]:
    """sounddevice's error class if sounddevice is already imported, else nothing."""
    sd = sys.modules.get("sounddevice")
    return (sd.PortAudioError,) if sd is not None else ()


def _close_quietly(stream: Any, errors: tuple[type[BaseException], ...]) -> None:
    """Stop and close a stream whose device may already be gone."""
    for method in ("stop", "close"):
        try:
            getattr(stream, method)()
        except errors:
            pass
