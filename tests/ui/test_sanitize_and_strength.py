"""The pure helpers behind the inputs: cleaning pasted text and judging passphrase strength."""

from __future__ import annotations

import time

from ui.widgets.sanitize import clean_text
from ui.widgets.strength import describe, estimate_bits


def test_clean_text_keeps_printable_text_newlines_and_tabs():
    assert clean_text("a\tb\nc é ✓").text == "a\tb\nc é ✓"


def test_clean_text_normalises_line_endings():
    assert clean_text("a\r\nb\rc").text == "a\nb\nc"


def test_clean_text_drops_escape_sequences_and_counts_them():
    cleaned = clean_text("\x1b[1;31mbold\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07")
    assert cleaned.text == "bold link"
    assert cleaned.removed == 4


def test_clean_text_drops_bidirectional_overrides():
    assert clean_text("abc\u202edef\u2066").text == "abcdef"


def test_clean_text_cuts_to_the_limit_and_says_so():
    cleaned = clean_text("x" * 50, 10)
    assert (cleaned.text, cleaned.truncated) == ("x" * 10, True)
    assert cleaned.notice(10) == "Pasted text: cut to the first 10 characters."


def test_clean_text_of_a_huge_text_is_fast():
    started = time.perf_counter()
    cleaned = clean_text("\x00ab" * 10_000_000, 20_000)
    assert time.perf_counter() - started < 2
    assert len(cleaned.text) == 20_000 and cleaned.truncated


def test_clean_text_single_line_keeps_the_first_line():
    assert clean_text("one\ntwo", single_line=True).text == "one"


def test_unchanged_text_has_no_notice():
    assert clean_text("fine").notice(100) == ""


def test_common_passwords_are_very_weak():
    assert describe("password")[0] == "very weak"
    assert describe("qwerty123")[0] == "very weak"


def test_repeated_characters_are_very_weak():
    assert describe("aaaaaaaaaaaa")[0] == "very weak"


def test_several_random_words_are_strong():
    assert describe("plum kettle orbit seven lantern")[0] in {"strong", "very strong"}


def test_longer_mixed_passphrases_score_higher():
    assert estimate_bits("Tr0ub4dor&3x!") > estimate_bits("troubador")
