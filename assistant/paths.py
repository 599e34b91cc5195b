"""Where the assistant keeps its files: one data directory, resolved here and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_HOME = "ASSISTANT_HOME"


def data_dir(create: bool = False) -> Path:
    """The user's data directory: `$ASSISTANT_HOME` if set, else the platform's user data dir.

    With `create=True` the directory is made (mode 0700) if it does not exist.
    """
    override = os.environ.get(ENV_HOME)
    path = Path(override).expanduser() if override else Path(platformdirs.user_data_dir("assistant", appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


ENV_MODEL = "ASSISTANT_MODEL"


def default_model_dir() -> Path:
    """The model folder when none is given: `$ASSISTANT_MODEL` if set (e.g. an LFM2 checkpoint),
    else the shipped default model (package data, so a non-editable install finds it)."""
    from importlib.resources import files

    override = os.environ.get(ENV_MODEL)
    if override:
        return Path(override).expanduser()

    return Path(str(files("models") / "default"))


def cache_dir() -> Path:
    """Where rebuildable, non-personal artifacts go (built corpus, training checkpoints)."""
    override = os.environ.get("ASSISTANT_CACHE")
    return Path(override).expanduser() if override else Path(platformdirs.user_cache_dir("assistant", appauthor=False))
