"""Voice input: record an utterance from the microphone and turn it into text, fully offline.

The app's entry point is `PushToTalk` (start/stop with one key, level and transcript through
callbacks), which `make_push_to_talk` builds for it. Underneath: `Recorder` (capture, level
meter, silence detection), `Transcriber` (faster-whisper, loaded once in the background),
`read_wav` (any PCM WAV as 16 kHz mono) and `doctor_report()` for `assistant doctor`.

Names are imported lazily, so `import assistant.voice` loads neither numpy, PortAudio nor a model.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SAMPLE_RATE": "audio",
    "level_fraction": "audio",
    "resample": "audio",
    "rms_dbfs": "audio",
    "read_wav": "wavfile",
    "write_wav": "wavfile",
    "SilenceDetector": "silence",
    "InputDevice": "capture",
    "Recorder": "capture",
    "list_input_devices": "capture",
    "ArrayInputStream": "streams",
    "Transcriber": "recognition",
    "default_model_path": "recognition",
    "get_transcriber": "recognition",
    "PushToTalk": "push_to_talk",
    "VoiceState": "push_to_talk",
    "make_push_to_talk": "push_to_talk",
    "doctor_report": "doctor",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assistant.voice' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"assistant.voice.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
