"""When to stop listening: after speech has begun and then stayed quiet for a while.

Counted in samples, not wall-clock time, so the decision is the same whether the audio comes
from a microphone, from a file device that nothing paces, or from a test array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assistant.voice.audio import SAMPLE_RATE, rms_dbfs


@dataclass
class SilenceDetector:
    """Feed blocks of audio; `feed` returns True once the utterance is over.

    Speech has begun once `min_speech_seconds` of blocks were louder than `threshold_dbfs`;
    the utterance is over after `silence_seconds` of consecutive quieter blocks following it.
    Before speech begins, silence never ends the utterance (the caller's maximum length does).
    """

    threshold_dbfs: float = -40.0
    silence_seconds: float = 1.5
    min_speech_seconds: float = 0.1
    samplerate: int = SAMPLE_RATE

    samples_seen: int = field(default=0, init=False)
    """Samples fed so far."""
    speech_samples: int = field(default=0, init=False)
    """Samples in blocks above the threshold, so far."""
    speech_end: int | None = field(default=None, init=False)
    """Sample index just after the last loud block, once speech has begun."""
    quiet_run: int = field(default=0, init=False)
    """Samples of consecutive quiet blocks up to now."""

    def __post_init__(self) -> None:
        if self.silence_seconds <= 0 or self.min_speech_seconds < 0:
            raise ValueError(
                f"silence_seconds must be > 0 and min_speech_seconds >= 0, "
                f"got {self.silence_seconds} and {self.min_speech_seconds}"
            )

    @property
    def speech_started(self) -> bool:
        """Whether enough loud audio has been heard to count as speech."""
        return self.speech_samples > 0 and self.speech_samples >= self.min_speech_seconds * self.samplerate

    @property
    def finished(self) -> bool:
        """Whether speech began and has since been followed by `silence_seconds` of quiet."""
        return self.speech_started and self.quiet_run >= self.silence_seconds * self.samplerate

    def feed(self, block: np.ndarray) -> bool:
        """Account for one block of 1-D audio; returns `finished`."""
        n = int(block.shape[0])
        self.samples_seen += n
        if rms_dbfs(block) > self.threshold_dbfs:
            self.speech_samples += n
            self.quiet_run = 0
            self.speech_end = self.samples_seen
        else:
            self.quiet_run += n
        return self.finished

    def reset(self) -> None:
        """Forget everything fed so far."""
        self.samples_seen = self.speech_samples = self.quiet_run = 0
        self.speech_end = None
