"""Content checks of an export before it is imported: states, adapters and settings are checked
like the files the program loads itself, so an export that authenticates but carries junk (a
state that is no saved state, an adapter that is no adapter, a setting of the wrong type) is
refused before the store changes, instead of breaking `ask` later.

The export's shape (records, ids, references) is checked by `memory.archive` when it is read;
this module adds what needs the model code's formats (`core.state`, `core.lora`) and the
application's settings (`assistant.settings`), which `memory` may not know.
"""

from __future__ import annotations

from typing import Any

from memory.errors import ExportFormatError
from memory.records import Snapshot

_MISSING = object()


def _tensors(data: bytes, what: str) -> None:
    from safetensors.torch import load

    try:
        load(bytes(data))
    except Exception as exc:  # safetensors raises its own error types for every kind of damage
        raise ExportFormatError(f"{what}: the tensors do not load ({exc})") from None


def check_states(snap: Snapshot) -> None:
    from core.state import STATE_FORMAT, state_header

    for s in snap.states:
        what = f"the state of conversation {s.conversation_id}"
        try:
            meta = state_header(s.data)
        except Exception as exc:
            raise ExportFormatError(f"{what} is not a saved state: {exc}") from None
        if meta.get("format") != STATE_FORMAT:  # state_header checks it too; kept explicit
            raise ExportFormatError(f"{what} has an unknown format")
        _tensors(s.data, what)


def check_adapters(snap: Snapshot) -> None:
    from core.lora import ADAPTER_FORMAT, adapter_metadata

    for a in snap.adapter_versions:
        what = f"adapter version {a.version}"
        try:
            meta = adapter_metadata(a.data)
        except Exception as exc:
            raise ExportFormatError(f"{what} is not an adapter: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format") != ADAPTER_FORMAT:
            raise ExportFormatError(f"{what} is not an adapter (format {meta.get('format') if isinstance(meta, dict) else meta!r})")
        _tensors(a.data, what)


class _SettingsOf:
    """The export's settings, looking like a store to `assistant.settings.Settings`."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self._settings = settings

    def get_setting(self, key: str, default: Any = None) -> Any:
        return self._settings.get(key, default)


def check_settings(snap: Snapshot) -> None:
    """Each known setting has its default's type, and the typed views build from them."""
    from assistant.settings import DEFAULTS, Settings

    for key, default in DEFAULTS.items():
        value = snap.settings.get(key, _MISSING)
        if value is _MISSING:
            continue
        kind = type(default)
        ok = isinstance(value, bool) if kind is bool else (
            isinstance(value, (int, float)) and not isinstance(value, bool) if kind in (int, float) else isinstance(value, kind)
        )
        if not ok:
            raise ExportFormatError(f"the setting {key!r} must be a {kind.__name__}, got {value!r}")
    settings = Settings(_SettingsOf(snap.settings))
    try:
        settings.sampling()
        settings.learner()
    except (TypeError, ValueError, KeyError) as exc:
        raise ExportFormatError(f"the export's settings are invalid: {exc}") from None


def check_snapshot(snap: Snapshot) -> None:
    """Refuse (`ExportFormatError`, naming the record) an export whose content would not load."""
    check_settings(snap)
    check_states(snap)
    check_adapters(snap)
