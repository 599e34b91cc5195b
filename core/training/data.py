"""The corpus build: sources -> clean -> render -> deduplicate -> split, reproducible from a seed.

`build_corpus(out_dir, seed)` writes into `out_dir`:

  train.jsonl, val.jsonl  one `{"text", "source"}` object a line: a document or a whole rendered
                          dialogue. Split by document, deterministically from the seed.
  anchor.txt              ~200 KB of general text (mixed natural sources, chit-chat rendered with
                          the template included, no generated dialogues and so no memory blocks),
                          documents separated by a blank line, never in train/val.
  memory_eval.jsonl       held-out memory cases (names and values from the `EVAL` pools).
  manifest.json           sources, licences, documents/characters/words per source and split,
                          what was skipped and why, seed, build version, file hashes.

Generated memory dialogues (`core.training.dialogues`) are sized to `GENERATED_SHARE` of all characters.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from core.digest import file_sha256
from core.errors import ModelError
from core.template import END, ROLE_TOKENS, clean_text, render_chat
from core.training import dialogues
from core.training.sources import SOURCES, Source, SourceMissing

BUILD_VERSION = 5  # 2: recall drills added to the training split; 3: wide drills (corpus words as values);
# 4: made-up hiding places in wide and scrambled drills, a larger wide share;
# 5: recall blocks from one snippet up (single-snippet blocks had been absent cases only)
VAL_FRACTION = 0.015
ANCHOR_CHARS = 200_000
ANCHOR_MAX_DOC = 3_000  # anchor documents are short, so the set mixes many
GENERATED_SHARE = 0.30
DRILL_SHARE = 0.15  # recall drills (training split only), as a share of all training characters
MIN_CHARS = 20
QUICK_DOCS = 60  # documents per source in a --quick build
QUICK_ANCHOR_CHARS = 12_000
ANCHOR_MAX_SHARE = 0.1  # the anchor never takes more than this share of the natural text

# Share of the anchor set per source (renormalised over the sources present). Generated
# dialogues are left out: they are built from a few hundred templated sentences, so any of them
# would share most of its text with training dialogues. Real chit-chat stands in for chat.
ANCHOR_MIX = {
    "chitchat": 0.40, "austen": 0.16, "wordnet": 0.13, "pydocs": 0.13, "fortunes": 0.12,
    "chatterbot": 0.06,
}  # fmt: skip
GENERATED = Source("generated", "MIT (this project)", "core.training.dialogues", "dialogue", lambda: iter(()), lambda: True)

FILES = ("train.jsonl", "val.jsonl", "anchor.txt", "memory_eval.jsonl", "manifest.json")


class CorpusError(ModelError):
    """The corpus could not be built (no source available, or an output problem)."""


@dataclass
class Doc:
    text: str
    source: str
    key: str  # hash of the normalised text: identity for deduplication and the split


# --- cleaning ---------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_INNER_SPACE = re.compile(r"(?<=\S)[ \t\u00a0]{2,}")


def clean_document(text: str) -> str:
    """NFC, no control characters or role tokens, tidy spaces, at most one blank line in a row.

    Leading indentation is kept (code blocks in the Python docs need it).
    """
    text = unicodedata.normalize("NFC", clean_text(text))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = _CONTROL.sub("", text)
    lines = [_INNER_SPACE.sub(" ", line.expandtabs(4)).rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean_message(text: str) -> str:
    """One chat message on one line: whitespace collapsed, control characters removed."""
    text = unicodedata.normalize("NFC", clean_text(text))
    return " ".join(_CONTROL.sub(" ", text).split())


def clean_dialogue(turns: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Clean messages, drop empty ones, merge consecutive turns of one role, start with the user."""
    out: list[tuple[str, str]] = []
    for role, text in turns:
        text = clean_message(text)
        if not text:
            continue
        if out and out[-1][0] == role:
            out[-1] = (role, out[-1][1] + " " + text)
        else:
            out.append((role, text))
    while out and out[0][0] != "user":
        out.pop(0)
    return out


def text_key(text: str) -> str:
    """Identity of a document: hash of its whitespace- and case-normalised text."""
    return hashlib.sha1(" ".join(text.lower().split()).encode("utf-8")).hexdigest()


def render(turns: list[tuple[str, str]], memory: list[str] | None = None) -> str:
    return render_chat(turns, memory=memory, add_generation_prompt=False)


def check_rendered(text: str) -> None:
    """Raise CorpusError unless `text` is a sequence of well-formed turns (balanced role tokens)."""
    pattern = "|".join(re.escape(t) for t in ROLE_TOKENS)
    pos, opened = 0, None
    for match in re.finditer(pattern, text):
        token = match.group()
        if opened is None:
            if token == END or text[pos : match.start()].strip():
                raise CorpusError(f"text outside a turn at {match.start()}: {text[pos:match.start()][:40]!r}")
            opened = token
        elif token != END:
            raise CorpusError(f"{token} opened inside an open {opened} turn at {match.start()}")
        else:
            opened = None
        pos = match.end()
    if opened is not None or text[pos:].strip():
        raise CorpusError("dialogue ends inside a turn or with text after the last <|end|>")


# --- reading sources --------------------------------------------------------------------------


def _docs_from_source(source: Source, limit: int | None) -> Iterator[Doc]:
    items = source.read()
    if limit is not None:
        items = islice(items, limit)
    for item in items:
        if isinstance(item, str):
            text = clean_document(item)
            if len(text) < MIN_CHARS:
                yield Doc("", source.name, "")
                continue
            yield Doc(text, source.name, text_key(text))
        else:
            turns = clean_dialogue(item)
            if len(turns) < 2:
                yield Doc("", source.name, "")
                continue
            text = render(turns)
            yield Doc(text, source.name, text_key(text))


def _split_value(seed: int, key: str) -> float:
    """A number in [0, 1) fixed by the seed and the document, independent of reading order."""
    digest = hashlib.sha1(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _progress(iterable, progress: bool, **kwargs):
    if not progress:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, **kwargs)


# --- the build --------------------------------------------------------------------------------


def build_corpus(
    out_dir: str | os.PathLike,
    seed: int = 0,
    quick: bool = False,
    *,
    sources: Mapping[str, Source] | None = None,
    progress: bool = True,
) -> dict:
    """Build the corpus into `out_dir` and return the manifest (also written as manifest.json).

    `quick` reads a few documents per source and shrinks the anchor set: seconds, for tests and
    smoke runs. `sources` replaces the installed sources (tests pass a tiny fixture).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = dict(SOURCES if sources is None else sources)
    limit = QUICK_DOCS if quick else None
    anchor_target = QUICK_ANCHOR_CHARS if quick else ANCHOR_CHARS

    # 1. Read, clean and deduplicate every natural source.
    seen: set[str] = set()
    docs: list[Doc] = []
    dropped: dict[str, Counter] = defaultdict(Counter)
    skipped: dict[str, str] = {}
    used: dict[str, Source] = {}
    for name, source in _progress(sources.items(), progress, desc="sources", unit="source"):
        try:
            if not source.available():
                raise SourceMissing(f"{source.provider} is not installed")
            for doc in _docs_from_source(source, limit):
                if not doc.text:
                    dropped[name]["short"] += 1
                elif doc.key in seen:
                    dropped[name]["duplicate"] += 1
                else:
                    seen.add(doc.key)
                    docs.append(doc)
            used[name] = source
        except SourceMissing as exc:
            skipped[name] = str(exc)
    if not used:
        raise CorpusError(f"no corpus source is available; skipped: {skipped}")

    # 2. The anchor set: short documents from each source, chosen by the seed, held out of all.
    rng = random.Random(f"corpus-{seed}")
    anchor: list[Doc] = []
    anchor_target = min(anchor_target, ANCHOR_MAX_SHARE * sum(len(d.text) for d in docs))
    mix = {name: share for name, share in ANCHOR_MIX.items() if name in used}
    if not mix:  # only sources outside the mix (a test fixture): take from all of them alike
        mix = {name: 1.0 for name in used}
    total_share = sum(mix.values())
    by_source: dict[str, list[Doc]] = defaultdict(list)
    for doc in docs:
        if len(doc.text) <= ANCHOR_MAX_DOC and doc.source in mix:
            by_source[doc.source].append(doc)
    anchor_keys: set[str] = set()
    for name, share in mix.items():
        quota = anchor_target * share / total_share
        candidates = sorted(by_source[name], key=lambda d: _split_value(seed, "anchor:" + d.key))
        size = 0
        for doc in candidates:
            if size >= quota:
                break
            anchor.append(doc)
            anchor_keys.add(doc.key)
            size += len(doc.text) + 2
    anchor.sort(key=lambda d: _split_value(seed, "order:" + d.key))
    docs = [d for d in docs if d.key not in anchor_keys]

    # 3. Generated memory dialogues, up to their share of all characters.
    natural_chars = sum(len(d.text) for d in docs)
    target = natural_chars * GENERATED_SHARE / (1 - GENERATED_SHARE)
    kinds: Counter = Counter()
    made = 0
    bar = _progress(None, progress, desc="dialogues", unit="char", total=int(target), unit_scale=True)
    for item in dialogues.generate_dialogues(seed):
        if made >= target:
            break
        turns = clean_dialogue(item.messages)
        text = render(turns, item.memory)
        key = text_key(text)
        if key in seen:
            dropped["generated"]["duplicate"] += 1
            continue
        seen.add(key)
        docs.append(Doc(text, "generated", key))
        kinds[item.kind] += 1
        made += len(text)
        if progress:
            bar.update(len(text))
    if progress:
        bar.close()
    used["generated"] = GENERATED

    # 4. Split train / val by document.
    train, val = [], []
    for doc in docs:
        (val if _split_value(seed, "val:" + doc.key) < VAL_FRACTION else train).append(doc)
    # Recall drills, training split only: a dense copy signal (see dialogues.recall_drill).
    train_chars = sum(len(d.text) for d in train)
    words = corpus_words(d.text for d in train if d.source != "generated")
    train += drill_docs(seed, train_chars * DRILL_SHARE / (1 - DRILL_SHARE), seen, kinds, words)
    rng.shuffle(train)
    rng.shuffle(val)

    # 5. Held-out memory cases, then write everything.
    cases = dialogues.memory_eval_cases(seed)
    _write_jsonl(out / "train.jsonl", ({"text": d.text, "source": d.source} for d in train), progress)
    _write_jsonl(out / "val.jsonl", ({"text": d.text, "source": d.source} for d in val), False)
    _write_text(out / "anchor.txt", "\n\n".join(d.text for d in anchor) + "\n")
    _write_jsonl(out / "memory_eval.jsonl", cases, False)

    manifest = _manifest(seed, quick, used, skipped, dropped, {"train": train, "val": val, "anchor": anchor})
    manifest["generated_kinds"] = dict(sorted(kinds.items()))
    manifest["memory_eval"] = {
        "cases": len(cases),
        "with_answer": sum(c["answer"] is not None for c in cases),
        "absent": sum(c["answer"] is None for c in cases),
    }
    manifest["files"] = {name: file_sha256(out / name) for name in FILES if name != "manifest.json"}
    _write_text(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


_PROPER = re.compile(r"(?<=[a-z,] )[A-Z][a-z]{2,13}\b")  # capitalised mid-sentence
_COMMON = re.compile(r"\b[a-z]{4,14}\b")


def corpus_words(texts: Iterable[str], min_count: int = 3) -> dialogues.WordLists:
    """The vocabulary wide recall drills draw values from: words of the natural text seen at
    least `min_count` times, capitalised mid-sentence (names, places) or lower-case. Sorted, so
    the drills built from them are reproducible."""
    proper: Counter = Counter()
    common: Counter = Counter()
    for text in texts:
        proper.update(_PROPER.findall(text))
        common.update(_COMMON.findall(text))
    lower = {w for w, n in common.items() if n >= min_count}
    return dialogues.WordLists(
        proper=tuple(sorted(w for w, n in proper.items() if n >= min_count and w.lower() not in lower)),
        common=tuple(sorted(lower)),
    )


def drill_docs(
    seed: int,
    chars: float,
    seen: set | None = None,
    kinds: Counter | None = None,
    words: dialogues.WordLists | None = None,
    echo: bool = False,
) -> Iterator[Doc]:
    """Rendered recall drills until `chars` characters, skipping any text already in `seen`."""
    seen = set() if seen is None else seen
    made = 0
    for drill in dialogues.generate_drills(seed, words=words, echo=echo):
        if made >= chars:
            return
        text = "".join(render(clean_dialogue(g.messages), g.memory) for g in drill)
        key = text_key(text)
        if key in seen:
            continue
        seen.add(key)
        if kinds is not None:
            kinds["drill"] += 1
        made += len(text)
        yield Doc(text, "generated", key)


def _manifest(seed, quick, used, skipped, dropped, splits) -> dict:
    sources: dict[str, dict] = {}
    for name, source in used.items():
        entry = {"licence": source.licence, "provider": source.provider, "kind": source.kind}
        for split, docs in splits.items():
            mine = [d for d in docs if d.source == name]
            entry[split] = {
                "documents": len(mine),
                "chars": sum(len(d.text) for d in mine),
                "words": sum(len(d.text.split()) for d in mine),
            }
        entry["dropped"] = dict(dropped.get(name, {}))
        sources[name] = entry
    total_chars = sum(e["train"]["chars"] + e["val"]["chars"] for e in sources.values()) or 1
    for entry in sources.values():
        entry["share_of_train_val_chars"] = round((entry["train"]["chars"] + entry["val"]["chars"]) / total_chars, 4)
    return {
        "build_version": BUILD_VERSION,
        "seed": seed,
        "quick": quick,
        "val_fraction": VAL_FRACTION,
        "generated_share_target": GENERATED_SHARE,
        "drill_share_of_train_target": DRILL_SHARE,
        "splits": {
            split: {"documents": len(docs), "chars": sum(len(d.text) for d in docs)} for split, docs in splits.items()
        },
        "sources": sources,
        "skipped": skipped,
    }


# --- writing ----------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: Iterable[dict], progress: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in _progress(rows, progress, desc=path.name, unit="doc"):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Rows of a corpus .jsonl file."""
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
