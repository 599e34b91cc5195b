"""The errors a user can meet, so every interface can say exactly what went wrong.

`core` and `memory` may not import `assistant`, so their own error bases live with them
(`core.errors.ModelError`, `memory.errors.StoreError`); `USER_ERRORS` gathers all three for the
interfaces to catch.
"""

from __future__ import annotations

from core.errors import ModelError
from memory.errors import StoreError


class AssistantError(Exception):
    """Base of the application's own errors."""


class MicrophoneUnavailable(AssistantError):
    """No input device could be opened (or it disappeared while recording)."""


class SpeechModelError(AssistantError):
    """The speech model is missing, corrupted or failed to load."""


class NotAvailable(AssistantError):
    """A feature that needs something this machine lacks (an optional package or program); names it."""


USER_ERRORS: tuple[type[Exception], ...] = (AssistantError, ModelError, StoreError)


class AudioFormatError(AssistantError):
    """An audio file that cannot be read (not a WAV, compressed, damaged, empty); names the file."""


class ReplyInProgress(AssistantError):
    """A message was sent while the previous reply was still being generated (one at a time)."""


class LearningUnavailable(AssistantError):
    """Learning cannot run with this model (for example, its folder has no anchor set)."""
