"""Automatic memories: the statements in a user message worth keeping, each in a clean standalone
form with the slot a newer statement about the same thing supersedes.

    >>> find_memories("Hi! My name is Dana and I live in Tromso. My sister Ilse is a veterinarian.")
    [Candidate(text='My name is Dana.', slot='name', score=...),
     Candidate(text='I live in Tromso.', slot='home', score=...),
     Candidate(text='My sister Ilse is a veterinarian.', slot='sister.job', score=...)]

Questions, small talk and commands give []. The detector is `core.extraction` with the weights
shipped in `models/extraction/detector.safetensors` (trained by `python -m
core.training.extraction --out models/extraction`), loaded on first use: nothing at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.extraction import Detector

WEIGHTS_NAME = "detector.safetensors"


@dataclass(frozen=True)
class Candidate:
    """One statement worth remembering."""

    text: str  # the user's statement in a clean standalone form ("My sister Ilse is a veterinarian.")
    slot: str | None  # what it is about ("home", "sister.job", "manager", "train_time"); None when unknown
    score: float  # the detector's confidence, 0..1


def default_weights() -> Path:
    """The shipped detector weights (package data, so a non-editable install finds them)."""
    from importlib.resources import files

    return Path(str(files("models") / "extraction" / WEIGHTS_NAME))


@lru_cache(maxsize=4)
def load_detector(path: Path | None = None) -> Detector:
    """The detector at `path` (the shipped one by default), loaded once and kept.
    Raises `core.errors.ModelFilesError` when the file is missing or is no detector."""
    return Detector.load(path or default_weights())


def find_memories(text: str, detector: Detector | None = None) -> list[Candidate]:
    """The statements in `text` worth remembering, in the order said; [] for questions, small
    talk and commands."""
    detector = detector or load_detector()
    return [Candidate(s.text, s.slot, round(s.score, 4)) for s in detector.statements(text)]
