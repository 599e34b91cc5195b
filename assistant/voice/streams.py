"""A stand-in for `sounddevice.InputStream` that plays a fixed array into the capture callback.

Tests (and the app's Pilot tests) inject it into `Recorder` / `PushToTalk` to feed recorded audio
through exactly the code path a microphone takes. It keeps sounddevice's contract: the stream is
built with keyword arguments, `start()` begins calling `callback(indata, frames, time, status)`
from another thread with `indata` shaped (frames, channels), `stop()`/`close()` end it, and
`finished_callback()` is called once when it ends for any reason.

What happens when the array runs out is chosen with `after`:
  "silence"     keep delivering zeros, like a quiet room (the default)
  "disconnect"  stop delivering and call `finished_callback`, as PortAudio does when a device
                is unplugged
  "stall"       stop delivering and stay active, like a device that hangs
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

AFTER_CHOICES = ("silence", "disconnect", "stall")


class _NoStatus:
    """The `status` argument of the callback: no overflow, no underflow."""

    input_overflow = False
    input_underflow = False

    def __bool__(self) -> bool:
        return False


class ArrayInputStream:
    """Deliver `audio` (1-D float32) block by block to `callback`, optionally at real-time pace."""

    def __init__(
        self,
        audio: np.ndarray,
        *,
        samplerate: float,
        callback: Callable[[np.ndarray, int, Any, Any], None],
        blocksize: int | None = None,
        channels: int = 1,
        dtype: str = "float32",
        device: int | str | None = None,
        finished_callback: Callable[[], None] | None = None,
        realtime: bool = False,
        after: str = "silence",
        open_error: Exception | None = None,
        **_ignored: Any,
    ) -> None:
        if open_error is not None:
            raise open_error
        if after not in AFTER_CHOICES:
            raise ValueError(f"after must be one of {AFTER_CHOICES}, got {after!r}")
        if dtype != "float32":
            raise ValueError(f"ArrayInputStream only delivers float32, got dtype {dtype!r}")
        self.audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        self.samplerate = float(samplerate)
        self.blocksize = int(blocksize or 800)
        self.channels = int(channels)
        self.device = device
        self.callback = callback
        self.finished_callback = finished_callback
        self.realtime = realtime
        self.after = after
        self.blocks_delivered = 0
        self.error: BaseException | None = None
        """An exception the callback raised (which ends the stream, as in PortAudio)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished_once = threading.Lock()
        self._finished_called = False
        self._active = False
        self.closed = False

    @classmethod
    def feeding(cls, audio: np.ndarray, **options: Any) -> Callable[..., ArrayInputStream]:
        """A stream class to inject: called like `sounddevice.InputStream`, it plays `audio`."""

        def make(**kwargs: Any) -> ArrayInputStream:
            return cls(audio, **{**kwargs, **options})

        return make

    @property
    def active(self) -> bool:
        """True from `start()` until the stream ends (a stalled stream stays active)."""
        return self._active

    def start(self) -> None:
        if self.closed:
            raise RuntimeError("stream is closed")
        if self._thread is not None:
            return
        self._active = True
        self._thread = threading.Thread(target=self._run, name="array-input-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._active = False
        self._finish()

    abort = stop

    def close(self) -> None:
        self.stop()
        self.closed = True

    def __enter__(self) -> ArrayInputStream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _blocks(self):
        """Yield (frames, channels) float32 blocks: the audio, then what `after` says."""
        n = self.blocksize
        for start in range(0, self.audio.size, n):
            block = self.audio[start : start + n]
            if block.size < n:
                block = np.concatenate([block, np.zeros(n - block.size, np.float32)])
            yield block
        if self.after == "silence":
            zeros = np.zeros(n, np.float32)
            while True:
                yield zeros

    def _run(self) -> None:
        t0 = time.monotonic()
        for i, block in enumerate(self._blocks()):
            if self._stop.is_set():
                return
            if self.realtime:
                delay = t0 + i * self.blocksize / self.samplerate - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
            indata = np.repeat(block[:, None], self.channels, axis=1)  # (frames, channels)
            try:
                self.callback(indata, self.blocksize, None, _NoStatus())
            except Exception as exc:  # noqa: BLE001 - PortAudio ends the stream on any callback error
                self.error = exc
                self._active = False
                self._finish()
                return
            self.blocks_delivered += 1
        if self.after == "disconnect":
            self._active = False
            self._finish()
        # "stall": return without finishing; the stream stays active and silent.

    def _finish(self) -> None:
        with self._finished_once:
            if self._finished_called:
                return
            self._finished_called = True
        if self.finished_callback is not None:
            self.finished_callback()
