"""A destructive command's typed confirmation (reset, verify --repair)."""

from __future__ import annotations

import sys


def typed_confirmation(refusal: str, prompt: str, word: str, declined: str) -> int | None:
    """None when the user types `word` at `prompt`; else the exit status: 2 with `refusal` on
    stderr where there is no terminal to ask on, 1 with `declined` when they type anything else."""
    if sys.stdin is None or not sys.stdin.isatty():
        print(refusal, file=sys.stderr)
        return 2
    if input(prompt).strip() != word:
        print(declined)
        return 1
    return None
