"""Recognition accuracy on synthesised speech: word error rate at most 15%, measured and printed.

24 sentences an assistant would hear (commands, questions, dictated notes), each spoken in two
of four espeak-ng voices (48 clips, every voice used 12 times), converted with `sox -D` to
16 kHz mono. `assistant bench voice` runs every sentence in every voice.
"""

from __future__ import annotations

from assistant.voice.speech_set import SENTENCES, VOICES, build_set, word_error_rate, word_errors
from assistant.voice.wavfile import read_wav

MAX_WER = 0.15


def test_word_error_rate_counts_substitutions_deletions_and_insertions():
    assert word_errors("set a timer for ten minutes", "Set a timer for 10 minutes.") == (0, 6)
    assert word_errors("call my sister", "call sister") == (1, 3)
    assert word_errors("call my sister", "call my big sister now") == (2, 3)
    assert word_errors("call my sister", "fall my sister") == (1, 3)
    assert word_error_rate([("a b c d", "a b c d"), ("a b", "x b")]) == 1 / 6


def test_word_error_rate_on_synthesised_speech_is_at_most_15_percent(voice_dir, transcriber):
    clips = build_set(voice_dir / "accuracy", per_sentence=2)
    assert len({c.text for c in clips}) == len(SENTENCES) >= 20
    assert {c.voice for c in clips} == set(VOICES) and len(VOICES) >= 4
    pairs_by_voice: dict[str, list[tuple[str, str]]] = {}
    for clip in clips:
        hypothesis = transcriber.transcribe(read_wav(clip.path))
        pairs_by_voice.setdefault(clip.voice, []).append((clip.text, hypothesis))
        edits, _ = word_errors(clip.text, hypothesis)
        if edits:
            print(f"  {clip.voice:11s} {edits} error(s): {clip.text!r} -> {hypothesis!r}")
    wer = word_error_rate(pair for pairs in pairs_by_voice.values() for pair in pairs)
    per_voice = "  ".join(f"{v} {word_error_rate(p):.1%}" for v, p in sorted(pairs_by_voice.items()))
    print(f"\nWER {wer:.1%} over {len(clips)} clips ({per_voice})")
    assert wer <= MAX_WER
