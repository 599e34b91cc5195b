"""Cleaning text that arrives from the terminal (pastes above all) before it reaches the session.

A paste can hold anything: a megabyte of log, escape sequences that would repaint the
terminal, NULs, bidirectional overrides that make text read differently from what it is.
`clean_text` keeps printable text, newlines and tabs, and cuts the result to a limit, and says
what it did so the interface can tell the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_MESSAGE_CHARS = 20_000
"""The longest message the input accepts (the small model reads far less than this anyway)."""

_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI sequences (colours, cursor moves)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC sequences (titles, hyperlinks, clipboard)
    r"|\x1b[@-_]?"  # other escapes
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0 and C1 controls except tab and newline
    r"|[\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidirectional marks and overrides
)


@dataclass(frozen=True)
class Cleaned:
    """What `clean_text` made of a text: the text, and what was removed or cut."""

    text: str
    removed: int
    """How many control characters (or escape sequences) were dropped."""
    truncated: bool
    """Whether the text was cut to the limit."""

    def notice(self, limit: int) -> str:
        """A sentence for the user, or "" if nothing was changed."""
        parts = []
        if self.truncated:
            parts.append(f"cut to the first {limit:,} characters")
        if self.removed:
            parts.append(f"{self.removed:,} control character{'s' if self.removed != 1 else ''} removed")
        return ("Pasted text: " + " and ".join(parts) + ".") if parts else ""


def clean_text(text: str, limit: int = MAX_MESSAGE_CHARS, *, single_line: bool = False) -> Cleaned:
    """`text` without control characters, line endings as "\\n", at most `limit` characters.

    Only a bounded prefix of a huge text is examined, so a pasted gigabyte costs no more than
    a pasted megabyte. With `single_line`, only the first line is kept.
    """
    truncated = False
    window = max(limit, 0) * 2 + 1024
    if len(text) > window:
        text, truncated = text[:window], True
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if single_line:
        text = text.split("\n", 1)[0]
    text, removed = _CONTROL.subn("", text)
    if len(text) > limit:
        text, truncated = text[:limit], True
    return Cleaned(text, removed, truncated)
