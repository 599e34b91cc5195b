"""A passphrase strength hint: a rough estimate, in words, as the user types."""

from __future__ import annotations

import math
import re

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

COMMON = frozenset(
    """password passw0rd passphrase letmein qwerty azerty 123456 1234567 12345678 123456789 111111
    iloveyou admin welcome monkey dragon sunshine princess football baseball secret abc123 trustno1
    master shadow""".split()
)

LEVELS = (
    (28, "very weak", "error"),
    (45, "weak", "warning"),
    (60, "fair", "warning"),
    (80, "strong", "success"),
    (math.inf, "very strong", "success"),
)


def estimate_bits(passphrase: str) -> float:
    """A rough guess of the passphrase's entropy in bits.

    Several words count per word (about 11 bits each, as a diceware-style list of 2,000 common
    words would give); otherwise per character over the character classes used. Repeats,
    sequences and well-known passwords are penalised. A hint, not a guarantee.
    """
    if not passphrase:
        return 0.0
    lowered = passphrase.lower()
    if lowered in COMMON or lowered.rstrip("0123456789!") in COMMON:
        return 5.0
    pool = 0
    pool += 26 if re.search(r"[a-z]", passphrase) else 0
    pool += 26 if re.search(r"[A-Z]", passphrase) else 0
    pool += 10 if re.search(r"[0-9]", passphrase) else 0
    pool += 33 if re.search(r"[^a-zA-Z0-9\s]", passphrase) else 0
    pool += 1 if " " in passphrase else 0
    pool += 100 if re.search(r"[^\x00-\x7f]", passphrase) else 0
    distinct = len(set(passphrase))
    effective = min(len(passphrase), distinct * 2)  # "aaaaaaaa" is not 8 characters of entropy
    per_char = effective * math.log2(max(pool, 2))
    words = [w for w in re.split(r"[\s\-_.]+", passphrase) if len(w) >= 3]
    per_word = len(set(words)) * 11.0 if len(words) >= 3 else 0.0
    bits = max(per_char * 0.7, per_word)
    if re.fullmatch(r"(.)\1*", passphrase) or lowered in "abcdefghijklmnopqrstuvwxyz0123456789qwertyuiop":
        bits = min(bits, 10.0)
    return bits


def describe(passphrase: str) -> tuple[str, str]:
    """("weak" ... "very strong", severity) for the passphrase."""
    bits = estimate_bits(passphrase)
    for limit, label, severity in LEVELS:
        if bits < limit:
            return label, severity
    return LEVELS[-1][1], LEVELS[-1][2]


class StrengthHint(Widget):
    """One line saying how strong the passphrase typed so far looks, with a short advice."""

    DEFAULT_CSS = """
    StrengthHint { height: 1; color: $text-muted; }
    StrengthHint.-error { color: $error; }
    StrengthHint.-warning { color: $warning; }
    StrengthHint.-success { color: $success; }
    """

    passphrase: reactive[str] = reactive("", layout=False)
    """The passphrase typed so far (never shown, only judged)."""

    def render(self) -> Content:
        if not self.passphrase:
            return Content("Strength: type a passphrase (four or more random words work well)")
        label, _severity = describe(self.passphrase)
        advice = "" if label in {"strong", "very strong"} else " · add words, or make it longer"
        return Content(f"Strength: {label}{advice}")

    def watch_passphrase(self, passphrase: str) -> None:
        _label, severity = describe(passphrase) if passphrase else ("", "")
        for name in ("error", "warning", "success"):
            self.set_class(severity == name, f"-{name}")
