"""What `assistant doctor` says about voice: the input devices and whether the speech model loads."""

from __future__ import annotations

from pathlib import Path

from assistant.errors import MicrophoneUnavailable, SpeechModelError
from assistant.voice.capture import list_input_devices
from assistant.voice.recognition import DEFAULT_MODEL_SHA256, Transcriber, verify_model_files

Check = tuple[str, bool, str]
"""(check name, ok, detail)"""


def doctor_report(model_path: str | Path | None = None, load_model: bool = True) -> list[Check]:
    """Check the microphone and the speech model; never raises for what it checks.

    With `load_model=False` only the model's files are looked at (fast), not loaded.
    """
    return [_microphone_check(), _model_check(model_path, load_model)]


def _microphone_check() -> Check:
    try:
        devices = list_input_devices()
    except MicrophoneUnavailable as exc:
        return ("microphone", False, str(exc))
    if not devices:
        return ("microphone", False, "no input device found: voice input is off, text input still works")
    names = ", ".join(f"{d.name!r}" + (" (default)" if d.is_default else "") for d in devices)
    return ("microphone", True, f"{len(devices)} input device{'s' if len(devices) != 1 else ''}: {names}")


def _model_check(model_path: str | Path | None, load_model: bool) -> Check:
    transcriber = Transcriber(model_path)
    try:
        path = transcriber.model_path
        if not load_model:
            verify_model_files(path, DEFAULT_MODEL_SHA256 if model_path is None else None)
            return ("speech model", True, f"files present and verified in {path} (not loaded)")
        transcriber.load()
    except SpeechModelError as exc:
        return ("speech model", False, str(exc))
    verified = "SHA-256 verified, " if model_path is None else ""
    return ("speech model", True, f"Whisper at {path}: {verified}loads in {transcriber.load_seconds:.1f} s")
