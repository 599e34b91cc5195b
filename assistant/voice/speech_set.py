"""A synthetic speech test set and word error rate, for the accuracy test and `assistant bench voice`.

Sentences an assistant would hear (commands, questions, dictated notes) are spoken by Debian's
espeak-ng in several voices and converted by `sox -D` (no dither, so byte-identical on every
run) to 16 kHz mono 16-bit WAV, with half a second of silence before and after, as a
push-to-talk recording would have.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import NotAvailable

SENTENCES: tuple[str, ...] = (
    "Remind me to call my sister tomorrow morning.",
    "What did I say about the trip to Lisbon?",
    "Add milk, eggs and bread to my shopping list.",
    "Take a note: the meeting with the design team moved to Thursday.",
    "How many hours did I sleep last week?",
    "Summarize what we talked about yesterday.",
    "Please forget everything I told you about my old job.",
    "Set a timer for ten minutes.",
    "What is the weather usually like in Scotland in the spring?",
    "Write down that the dentist appointment is next Friday afternoon.",
    "Can you suggest a good book about the history of science?",
    "I prefer green tea in the morning and coffee after lunch.",
    "Open my notes from the project planning session.",
    "Read me the last message I wrote.",
    "Translate good morning into French.",
    "Start a new conversation about my garden.",
    "Remember that my brother's birthday is in June.",
    "What should I cook for dinner tonight?",
    "Send this message and wait for a reply.",
    "The train leaves the station at half past seven.",
    "Pause learning until I say otherwise.",
    "Delete the conversation about the holiday plans.",
    "How long does it take to walk to the library?",
    "Show me the notes I wrote about the budget.",
)
"""24 things a user might say to the assistant."""

VOICES: tuple[str, ...] = ("en-us", "en-gb", "en-gb-x-rp", "en+f3")
"""espeak-ng voices: American, British, Received Pronunciation, and a female variant."""

LONG_UTTERANCE = "Please remind me on Wednesday evening that the design team meeting moved to Thursday afternoon."
"""Five seconds of speech in the en-us voice, for the end-of-speech latency benchmark."""

PAD_SECONDS = 0.5


@dataclass(frozen=True)
class Clip:
    """One synthesised utterance."""

    text: str
    voice: str
    path: Path


def require_tools() -> None:
    """Raise `NotAvailable` naming the Debian packages if espeak-ng or sox is missing."""
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise NotAvailable(f"speech synthesis needs {' and '.join(missing)} (Debian: apt-get install espeak-ng sox)")


def synthesize(text: str, voice: str, path: Path, speed: int = 175) -> Path:
    """Speak `text` with espeak-ng `voice` into a 16 kHz mono 16-bit WAV at `path`."""
    require_tools()
    spoken = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True, check=True
    ).stdout
    partial = path.with_name(path.name + ".part")
    subprocess.run(
        ["sox", "-D", "-V1", "-t", "wav", "-", "-t", "wav", "-r", "16000", "-c", "1", "-b", "16",
         "-e", "signed-integer", str(partial), "pad", str(PAD_SECONDS), str(PAD_SECONDS)],
        input=spoken,
        capture_output=True,
        check=True,
    )
    partial.replace(path)  # a clip that exists is complete
    return path


def build_set(
    folder: Path, sentences: Sequence[str] = SENTENCES, voices: Sequence[str] = VOICES, per_sentence: int | None = None
) -> list[Clip]:
    """Synthesise the set into `folder` (reusing identical clips already there); returns the clips in order.

    Each sentence is spoken in `per_sentence` voices, rotating through `voices` so every voice
    is used about equally; `None` means every sentence in every voice.
    """
    folder.mkdir(parents=True, exist_ok=True)
    count = len(voices) if per_sentence is None else per_sentence
    if not 1 <= count <= len(voices):
        raise ValueError(f"per_sentence must be between 1 and {len(voices)}, got {per_sentence}")
    clips = []
    for i, text in enumerate(sentences):
        for k in range(count):
            voice = voices[(i + k) % len(voices)]
            key = hashlib.sha256(f"{voice}|{PAD_SECONDS}|{text}".encode()).hexdigest()[:10]
            path = folder / f"{i:02d}-{voice.replace('+', '_')}-{key}.wav"
            if not path.exists():
                synthesize(text, voice, path)
            clips.append(Clip(text, voice, path))
    return clips


_SMALL_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> list[str]:
    if n < 20:
        return [_SMALL_NUMBERS[n]]
    if n < 100:
        tens, unit = divmod(n, 10)
        return [_TENS[tens - 2]] + ([_SMALL_NUMBERS[unit]] if unit else [])
    return [str(n)]


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation, numbers below 100 spelled out ("10" -> "ten")."""
    text = text.lower().replace("-", " ").replace("\u2019", "'")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    words: list[str] = []
    for word in text.split():
        word = word.strip("'")
        if word.isdigit():
            words.extend(_number_words(int(word)))
        elif word:
            words.append(word)
    return words


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference word count) after `normalize_words`."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[:], i
        for j, h in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return row[-1], len(ref)


def word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus word error rate over (reference, hypothesis) pairs: total edits / total reference words."""
    edits = words = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        edits += e
        words += n
    if words == 0:
        raise ValueError("word_error_rate needs at least one reference word")
    return edits / words
