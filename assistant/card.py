"""The model card (`card.json`): which fields a command writes, and which a person wrote.

Every top-level field of a card is either written by one of the training commands (the table
below) or was written by hand and says so: an object with `"written_by": "hand"` (a text becomes
`{"text": ..., "written_by": "hand"}`). Free-text `note` fields beside a command's figures (a
training leg's, a comparison's) are a person's too, and are marked the same way. The commands
read the card, change their own fields and save it through `save_card`, which keeps every other
field and marks any unmarked field no command writes, so a reader always knows which is which.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WRITTEN_BY_COMMAND: dict[str, str] = {
    "training": "assistant train export",
    "architecture_changes": "assistant train export (from the run's lineage), assistant train grow",
    "model": "assistant train card",
    "data": "assistant train card",
    "validation": "assistant train card",
    "memory_use": "assistant train card",
    "samples": "assistant train card",
    "machine": "assistant train card",
    "baseline_comparison": "assistant train baseline",
}
"""Top-level field -> the command that writes it."""

HAND = "hand"
NOTE_KEYS = frozenset({"note"})
"""Keys that hold a person's words wherever they sit in the card."""


def is_hand_written(value: Any) -> bool:
    return isinstance(value, dict) and value.get("written_by") == HAND


def mark_hand_written(value: Any) -> dict[str, Any]:
    """`value` marked as a person's: an object gains `written_by`, anything else is wrapped."""
    if is_hand_written(value):
        return value
    if isinstance(value, dict):
        return {**value, "written_by": HAND}
    return {"text": value, "written_by": HAND}


def _notes(value: Any, path: str):
    """(path, value) of every `note` field under `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in NOTE_KEYS:
                yield f"{path}.{key}", item
            else:
                yield from _notes(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _notes(item, f"{path}[{n}]")


def unmarked(card: dict[str, Any]) -> list[str]:
    """Paths of the fields that no command writes and that are not marked as hand-written."""
    found = [key for key, value in card.items() if key not in WRITTEN_BY_COMMAND and not is_hand_written(value)]
    for key, value in card.items():
        if key in WRITTEN_BY_COMMAND:
            found += [path for path, note in _notes(value, key) if not is_hand_written(note)]
    return found


def label(card: dict[str, Any]) -> dict[str, Any]:
    """A copy of `card` with every unmarked hand-written field marked."""

    def mark_notes(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: mark_hand_written(v) if k in NOTE_KEYS else mark_notes(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark_notes(item) for item in value]
        return value

    return {key: mark_notes(value) if key in WRITTEN_BY_COMMAND else mark_hand_written(value)
            for key, value in card.items()}


def read_card(path: Path) -> dict[str, Any]:
    """The card at `path` ({} when there is none)."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def save_card(path: Path, card: dict[str, Any]) -> None:
    """Write `card` (labelled: see `label`)."""
    Path(path).write_text(json.dumps(label(card), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
