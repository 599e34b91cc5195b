"""The model card: every field is a command's own or marked as written by hand (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.card import WRITTEN_BY_COMMAND, is_hand_written, label, read_card, save_card, unmarked

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "default" / "card.json"


def test_every_field_of_the_shipped_card_is_written_by_a_command_or_marked_hand_written():
    """Regression: `sample_review`, `status` and `decoding` were a person's words with nothing to say so."""
    card = json.loads(SHIPPED.read_text())
    assert unmarked(card) == []
    for key in ("sample_review", "status", "decoding"):
        assert is_hand_written(card[key]), key
    assert not any(is_hand_written(card[key]) for key in WRITTEN_BY_COMMAND if key in card)


def test_unmarked_names_fields_no_command_writes_and_unmarked_notes():
    card = {"model": {"parameters": 3}, "status": "good", "review": {"verdict": "ok"},
            "training": {"legs": [{"note": "by hand"}, {"note": {"text": "x", "written_by": "hand"}}]}}
    assert unmarked(card) == ["status", "review", "training.legs[0].note"]


def test_saving_marks_a_persons_fields_and_keeps_the_commands_as_they_are(tmp_path):
    card = {"model": {"parameters": 3}, "status": "good", "review": {"verdict": "ok"},
            "training": {"legs": [{"note": "by hand", "end_step": 4}]}}
    path = tmp_path / "card.json"
    save_card(path, card)
    saved = read_card(path)
    assert saved == {
        "model": {"parameters": 3},
        "status": {"text": "good", "written_by": "hand"},
        "review": {"verdict": "ok", "written_by": "hand"},
        "training": {"legs": [{"note": {"text": "by hand", "written_by": "hand"}, "end_step": 4}]},
    }
    assert label(saved) == saved  # marking twice changes nothing
    assert read_card(tmp_path / "missing.json") == {}
