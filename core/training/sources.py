"""The natural-text sources of the corpus: where each lives on disk, its licence, and a reader.

Every reader yields plain documents (`str`) or dialogues (`list[(role, text)]`), uncleaned; the
build in `core.training.data` cleans, renders, deduplicates and splits them. A source whose files are not
installed is reported missing (with the package that provides it), never silently empty.

Sources (all install offline; no GPL text):
  chitchat     PyPI chitchat-dataset          MIT
  chatterbot   PyPI chatterbot-corpus         BSD-3-Clause
  wordnet      Debian wordnet-base            WordNet 3.0 licence (permissive)
  austen       Debian r-cran-janeaustenr      novels public domain (package MIT)
  fortunes     Debian fortunes, fortunes-min  BSD (fortune-mod), offensive sets excluded
  pydocs       Debian python3.11-doc          PSF-2.0
"""

from __future__ import annotations

import gzip
import html.parser
import json
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError

Dialogue = list[tuple[str, str]]


@dataclass(frozen=True)
class Source:
    """One corpus source: `read(root)` yields documents (str) or dialogues (list of turns)."""

    name: str
    licence: str
    provider: str  # the package that installs it, for error messages and the manifest
    kind: str  # "text" or "dialogue"
    read: Callable[[], Iterator[str | Dialogue]]
    available: Callable[[], bool]


class SourceMissing(ModelError):
    """A source's files are not installed (the message names the package that provides them)."""


# --- chitchat-dataset -------------------------------------------------------------------------


def _chitchat_path() -> Path | None:
    try:
        import chitchat_dataset
    except ImportError:
        return None
    path = Path(chitchat_dataset.__file__).parent / "dataset.json"
    return path if path.exists() else None


def read_chitchat() -> Iterator[Dialogue]:
    """Each conversation as alternating turns; consecutive messages of one speaker are merged."""
    path = _chitchat_path()
    if path is None:
        raise SourceMissing("chitchat-dataset is not installed (pip install chitchat-dataset)")
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in sorted(data):
        groups: list[tuple[str, list[str]]] = []
        for group in data[key]["messages"]:
            for message in group:
                sender, text = message.get("sender", ""), message.get("text", "")
                if groups and groups[-1][0] == sender:
                    groups[-1][1].append(text)
                else:
                    groups.append((sender, [text]))
        roles = ("user", "assistant")
        yield [(roles[i % 2], " ".join(texts)) for i, (_, texts) in enumerate(groups)]


# --- chatterbot-corpus ------------------------------------------------------------------------


def _chatterbot_dir() -> Path | None:
    try:
        import chatterbot_corpus
    except ImportError:
        return None
    path = Path(chatterbot_corpus.__file__).parent / "data" / "english"
    return path if path.is_dir() else None


def _yaml_scalar(text: str) -> str:
    text = text.strip()
    if text[:2] in ("| ", "> ") or text in ("|", ">"):
        text = text[1:].strip()  # a block scalar whose lines were folded in
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner.replace('\\"', '"')
    return text


def parse_chatterbot_yaml(text: str) -> list[list[str]]:
    """The `conversations:` list of lists of strings, from the small YAML subset these files use.

    (PyYAML is not a dependency; the files are `- - first` / `  - next` lines, with the odd
    continuation line or quoted scalar.)
    """
    conversations: list[list[str]] = []
    in_block = False
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if not raw.startswith((" ", "-")):
            in_block = raw.strip() == "conversations:"
            continue
        if not in_block:
            continue
        stripped = raw.strip()
        if stripped.startswith("- - "):
            conversations.append([stripped[4:]])
        elif stripped.startswith("- ") and conversations:
            conversations[-1].append(stripped[2:])
        elif conversations and conversations[-1]:
            conversations[-1][-1] += " " + stripped  # a folded continuation line
    return [[_yaml_scalar(line) for line in conv] for conv in conversations]


def read_chatterbot() -> Iterator[Dialogue]:
    path = _chatterbot_dir()
    if path is None:
        raise SourceMissing("chatterbot-corpus is not installed (pip install chatterbot-corpus)")
    for file in sorted(path.glob("*.yml")):
        for conv in parse_chatterbot_yaml(file.read_text(encoding="utf-8")):
            if len(conv) >= 2:
                yield [(("user", "assistant")[i % 2], line) for i, line in enumerate(conv)]


# --- WordNet ----------------------------------------------------------------------------------

WORDNET_DIR = Path("/usr/share/wordnet")
_POS = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}


def _wordnet_entry(line: str) -> str | None:
    """`word, synonym (noun): gloss. "example"` from one data.* line, or None for a header line."""
    if line.startswith("  ") or "|" not in line:
        return None
    head, gloss = line.split("|", 1)
    fields = head.split()
    pos = _POS.get(fields[2], fields[2])
    count = int(fields[3], 16)
    words = [fields[4 + 2 * i].replace("_", " ") for i in range(count)]
    words = [re.sub(r"\((a|p|ip)\)$", "", w) for w in words]
    gloss = gloss.strip()
    parts = [p.strip() for p in gloss.split(";")]
    definition = "; ".join(p for p in parts if not p.startswith('"'))
    examples = [p for p in parts if p.startswith('"')]
    text = f"{', '.join(words)} ({pos}): {definition}."
    if examples:
        text += " For example: " + " ".join(e if e.endswith('"') else e + '"' for e in examples)
    return text


def read_wordnet(group: int = 25) -> Iterator[str]:
    """Glosses and examples, `group` consecutive synsets (one lexicographer file order) a document."""
    files = [WORDNET_DIR / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")]
    if not all(f.exists() for f in files):
        raise SourceMissing("WordNet is not installed (apt-get install wordnet-base)")
    for file in files:
        batch: list[str] = []
        with file.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                entry = _wordnet_entry(line)
                if entry is None:
                    continue
                batch.append(entry)
                if len(batch) == group:
                    yield "\n".join(batch)
                    batch = []
        if batch:
            yield "\n".join(batch)


# --- Jane Austen (an R lazy-load database, read without R) -----------------------------------

AUSTEN_DIR = Path("/usr/lib/R/site-library/janeaustenr/data")


class _RReader:
    """Just enough of R's XDR serialization (format 2 and 3) for character vectors and lists."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.refs = data, 0, []

    def _int(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return value

    def _bytes(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def read(self):
        fmt = self._bytes(2)
        if fmt != b"X\n":
            raise ValueError(f"unsupported R serialization format {fmt!r}; expected b'X\\n' (XDR)")
        version = self._int()
        self._int(), self._int()
        if version == 3:
            self._bytes(self._int())  # native encoding name
        return self._item()

    def _item(self):
        flags = self._int()
        kind, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if kind in (254, 253, 242):  # NULL, global env, empty env
            return None
        if kind == 255:  # reference to an earlier symbol
            index = flags >> 8 or self._int()
            return self.refs[index - 1]
        if kind == 1:  # symbol
            symbol = self._item()
            self.refs.append(symbol)
            return symbol
        if kind == 9:  # CHARSXP
            n = self._int()
            return None if n == -1 else self._bytes(n).decode("utf-8", "replace")
        if kind == 2:  # pairlist -> dict (tagged) or list
            items = []
            while True:
                if has_attr:
                    self._item()
                tag = self._item() if has_tag else None
                items.append((tag, self._item()))
                flags = self._int()
                kind, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
                if kind == 254:
                    break
                if kind != 2:
                    raise ValueError(f"unexpected R type {kind} inside a pairlist")
            if all(tag is not None for tag, _ in items):
                return dict(items)
            return [value for _, value in items]
        if kind in (16, 19, 20):  # character vector, list, expression
            values = [self._item() for _ in range(self._int())]
        elif kind in (10, 13):  # logical, integer
            n = self._int()
            values = list(struct.unpack_from(f">{n}i", self.data, self.pos))
            self.pos += 4 * n
        elif kind == 14:  # double
            n = self._int()
            values = list(struct.unpack_from(f">{n}d", self.data, self.pos))
            self.pos += 8 * n
        else:
            raise ValueError(f"unsupported R type {kind}; expected a vector, list or pairlist")
        if has_attr:
            attrs = self._item()
            if kind == 19 and isinstance(attrs, dict) and "names" in attrs:
                return dict(zip(attrs["names"], values))
        return values


def _rdb_blob(raw: bytes) -> bytes:
    kind = raw[4:5]
    if kind == b"Z":
        return zlib.decompress(raw[5:])
    if kind == b"X":
        import lzma

        return lzma.decompress(raw[5:])
    if kind == b"2":
        import bz2

        return bz2.decompress(raw[5:])
    if kind == b"0":
        return raw[5:]
    return zlib.decompress(raw[4:])


def read_r_lazyload(directory: Path, stem: str = "Rdata") -> dict[str, object]:
    """All objects of an R package's lazy-load data base (`Rdata.rdx` + `Rdata.rdb`)."""
    index = _RReader(gzip.decompress((directory / f"{stem}.rdx").read_bytes())).read()
    blob = (directory / f"{stem}.rdb").read_bytes()
    out = {}
    for name, (offset, length) in index["variables"].items():
        out[name] = _RReader(_rdb_blob(blob[offset : offset + length])).read()
    return out


def read_austen(max_chars: int = 6000) -> Iterator[str]:
    """The six novels, as runs of whole paragraphs of at most ~`max_chars`, chapter by chapter."""
    if not (AUSTEN_DIR / "Rdata.rdb").exists():
        raise SourceMissing("janeaustenr is not installed (apt-get install r-cran-janeaustenr)")
    books = read_r_lazyload(AUSTEN_DIR)
    for name in sorted(books):
        lines = [line or "" for line in books[name]]
        paragraphs = [" ".join(p.split()) for p in "\n".join(lines).split("\n\n")]
        chunk: list[str] = []
        size = 0
        for para in paragraphs:
            if not para:
                continue
            heading = re.match(r"^(CHAPTER|Chapter|VOLUME)\b", para) is not None
            if chunk and (heading or size + len(para) > max_chars):
                yield "\n\n".join(chunk)
                chunk, size = [], 0
            chunk.append(para)
            size += len(para) + 2
        if chunk:
            yield "\n\n".join(chunk)


# --- fortunes ---------------------------------------------------------------------------------

FORTUNES_DIR = Path("/usr/share/games/fortunes")
# Kept: the inoffensive sets whose subject suits a friendly assistant. Left out: men-women,
# ethnic, drugs and politics (easily offensive), ascii-art (pictures), startrek, zippy, perl,
# debian, knghtbrd, linux* (jargon and chat logs), translate-me (not English), disclaimer.
FORTUNE_SETS = (
    "art", "computers", "cookie", "definitions", "education", "food", "fortunes", "goedel",
    "humorists", "kids", "law", "literature", "love", "magic", "medicine", "miscellaneous",
    "news", "paradoxum", "people", "pets", "platitudes", "riddles", "science", "songs-poems",
    "sports", "tao", "wisdom", "work",
)  # fmt: skip


def read_fortunes() -> Iterator[str]:
    """Each fortune (entries are separated by a line holding only '%')."""
    files = [FORTUNES_DIR / name for name in FORTUNE_SETS if (FORTUNES_DIR / name).exists()]
    if not files:
        raise SourceMissing("fortunes are not installed (apt-get install fortunes fortunes-min)")
    for file in files:
        text = file.read_text(encoding="utf-8", errors="replace")
        for entry in re.split(r"^%\s*$", text, flags=re.M):
            lines = [line.strip() for line in entry.strip("\n").splitlines()]
            if any(lines):
                yield "\n".join(lines)


# --- Python documentation ---------------------------------------------------------------------

PYDOCS_DIR = Path("/usr/share/doc/python3.11/html")
PYDOCS_PARTS = ("tutorial", "library", "reference", "howto", "faq", "using", "glossary.html")
_BLOCK_TAGS = {
    "p", "div", "section", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
    "table", "tr", "blockquote", "ul", "ol", "dl", "br",
}  # fmt: skip


class _DocText(html.parser.HTMLParser):
    """Text of the `role="main"` body of a Sphinx page; code blocks keep their lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.depth = 0  # div depth inside the main body; 0 = outside
        self.skip = 0
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.depth == 0:
            if tag == "div" and attrs.get("role") == "main":
                self.depth = 1
            return
        if tag == "div":
            self.depth += 1
        if tag in ("script", "style") or (tag == "a" and "headerlink" in (attrs.get("class") or "")):
            self.skip += 1
        if tag == "pre":
            self.pre += 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n" if tag in ("p", "pre", "h1", "h2", "h3", "h4", "dl") else "\n")

    def handle_endtag(self, tag):
        if self.depth == 0:
            return
        if tag in ("script", "style", "a") and self.skip:
            self.skip -= 1
        if tag == "pre" and self.pre:
            self.pre -= 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "div":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        text = "".join(self.parts).replace("¶", "")
        lines = [line.rstrip() for line in text.split("\n")]
        lines = [line[1:] if line.startswith(" ") and not line.startswith("  ") else line for line in lines]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(page: str) -> str:
    parser = _DocText()
    parser.feed(page)
    parser.close()
    return parser.text()


def read_pydocs(max_chars: int = 8000) -> Iterator[str]:
    """Each documentation page as text, in sections of at most ~`max_chars` (split at paragraphs)."""
    if not PYDOCS_DIR.is_dir():
        raise SourceMissing("the Python docs are not installed (apt-get install python3.11-doc)")
    files: list[Path] = []
    for part in PYDOCS_PARTS:
        path = PYDOCS_DIR / part
        files.extend(sorted(path.rglob("*.html")) if path.is_dir() else [path] if path.exists() else [])
    for file in files:
        text = html_to_text(file.read_text(encoding="utf-8", errors="replace"))
        chunk: list[str] = []
        size = 0
        for para in text.split("\n\n"):
            if chunk and size + len(para) > max_chars:
                yield "\n\n".join(chunk)
                chunk, size = [], 0
            chunk.append(para)
            size += len(para) + 2
        if chunk:
            yield "\n\n".join(chunk)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("chitchat", "MIT", "PyPI chitchat-dataset", "dialogue", read_chitchat, lambda: _chitchat_path() is not None),
        Source("chatterbot", "BSD-3-Clause", "PyPI chatterbot-corpus", "dialogue", read_chatterbot, lambda: _chatterbot_dir() is not None),
        Source("wordnet", "WordNet-3.0", "Debian wordnet-base", "text", read_wordnet, lambda: (WORDNET_DIR / "data.noun").exists()),
        Source("austen", "public domain (janeaustenr package MIT)", "Debian r-cran-janeaustenr", "text", read_austen, lambda: (AUSTEN_DIR / "Rdata.rdb").exists()),
        Source("fortunes", "BSD-4-Clause-UC (fortune-mod); offensive sets excluded", "Debian fortunes, fortunes-min", "text", read_fortunes, lambda: FORTUNES_DIR.is_dir()),
        Source("pydocs", "PSF-2.0", "Debian python3.11-doc", "text", read_pydocs, lambda: PYDOCS_DIR.is_dir()),
    )
}  # fmt: skip
