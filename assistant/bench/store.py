"""`assistant bench store`: unlock time, write rate, recall latency, export and import time.

Everything runs on synthetic chat text in a temporary directory (the user's store is never
opened). The figures:

- `unlock_s`: `Store.unlock` with the design's Argon2id parameters.
- `write_msgs_per_s`: messages written through `Store.add_turn`, one committed turn at a time
  (`synchronous=FULL`, so every turn is flushed).
- `recall_ms`: median latency of `RecallIndex.search` (what `Store.recall` runs) over indexes of
  10K and 100K messages, queries drawn from the messages' own words.
- `recall_fused_ms`: the same with recall by meaning: each message also holds a 384-float vector
  and the search fuses BM25 with cosine similarity (`memory.recall`), plus `embed_query_ms`, the
  median time to embed one query with the default model (`memory.embed`), which `Store.recall`
  adds before the search; `recall_fused_total_ms_100000` is their sum. The messages' vectors are
  random unit vectors, not embedded: the search costs the same whatever they hold, and embedding
  100K messages takes hours of CPU here (each message is embedded once, when written).
- `export_s_10000` / `import_s_10000`: an encrypted export of a store of 10K messages, and its
  import into an empty store (both including Argon2id of the export passphrase).

Timings of one operation are the best of a few samples taken while the rest of the machine was
quiet (`assistant.bench.cpu.timed`); on a busy machine every figure is an upper bound.

Targets (design section 5 and issue 3): unlock <= 0.5 s, recall on 100K <= 50 ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGETS = {"unlock_s": 0.5, "recall_ms_100000": 50.0, "recall_fused_total_ms_100000": 50.0}
PASSPHRASE = "bench passphrase"

_COMMON = "i you the and to a it my is what we that in about was did of so for me".split()
_SYLLABLES = "ka lo mi ne ru sa ti vo ba de fi go hu je pa qui ro su te ul an el or".split()


class Corpus:
    """Deterministic synthetic chat messages: common words plus a Zipf-distributed vocabulary."""

    def __init__(self, seed: int = 0, vocabulary: int = 20000) -> None:
        self.rng = random.Random(seed)
        words = set()
        while len(words) < vocabulary:
            words.add("".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(2, 4))))
        self.words = sorted(words)
        self.cum_weights = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(self.words))))

    def message(self) -> str:
        n = self.rng.randint(5, 40)
        rare = self.rng.choices(self.words, cum_weights=self.cum_weights, k=n)
        return " ".join(w if self.rng.random() > 0.4 else self.rng.choice(_COMMON) for w in rare)

    def messages(self, n: int) -> list[str]:
        return [self.message() for _ in range(n)]


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def _best(fn: Callable[[], object], repeats: int) -> float:
    """Best quiet wall time of `fn` (samples taken while other processes load the CPU are dropped)."""
    from assistant.bench.cpu import timed

    seconds, _ = timed(fn, repeats=repeats, max_tries=max(3, 3 * repeats))
    return seconds


def measure_unlock(root: Path, repeats: int) -> float:
    """Seconds of `Store.unlock` with the design's KDF parameters (best quiet sample)."""
    from memory.store import Store

    with Store.open(root) as store:
        store.create(PASSPHRASE)
    with Store.open(root) as store:
        return _best(lambda: store.unlock(PASSPHRASE), repeats)


def measure_writes(root: Path, turns: int, corpus: Corpus) -> float:
    """Messages per second written one committed turn at a time."""
    from memory.store import Store

    with Store.open(root) as store:
        store.unlock(PASSPHRASE)
        conversation = store.add_conversation("bench")
        texts = corpus.messages(2 * turns)
        start = time.perf_counter()
        for i in range(turns):
            store.add_turn(conversation.id, texts[2 * i], texts[2 * i + 1])
        elapsed = time.perf_counter() - start
    return 2 * turns / elapsed


def measure_recall(
    sizes: list[int], queries: int, corpus: Corpus, dim: int | None = None, embedder: Any = None
) -> dict[str, float]:
    """Median milliseconds per recall query on indexes of each size; with `dim`, every message
    also holds a random unit vector of that size and the search is fused with a query vector
    (`embedder`'s, if given, else random)."""
    import numpy as np

    from memory.recall import RecallIndex

    texts = corpus.messages(max(sizes))
    vectors = None
    if dim is not None:
        vectors = np.random.default_rng(0).standard_normal((max(sizes), dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    results = {}
    for size in sizes:
        index = RecallIndex()
        for i, text in enumerate(texts[:size]):
            index.add(("message", i + 1), text, i // 200, None, None if vectors is None else vectors[i])
        rng = random.Random(size)
        asked = []
        for _ in range(queries):
            words = rng.choice(texts[:size]).split()
            start = rng.randrange(len(words))
            asked.append(" ".join(words[start : start + rng.randint(3, 8)]))
        query_vectors = [None] * len(asked)
        if vectors is not None:
            query_vectors = list(embedder.embed(asked)) if embedder is not None else list(vectors[: len(asked)])
        times = []
        for query, vector in zip(asked, query_vectors, strict=True):
            begin = time.perf_counter()
            index.search(query, 5, query_vector=vector)
            times.append(time.perf_counter() - begin)
        results[str(size)] = statistics.median(times) * 1000
    return results


def measure_query_embedding(queries: int, corpus: Corpus) -> float | None:
    """Median milliseconds to embed one query with the default model (None where it is not installed)."""
    from memory.embed import load_default_embedder

    embedder = load_default_embedder()
    if embedder is None:
        return None
    embedder.embed(["warm up"])
    times = []
    for _ in range(queries):
        words = corpus.message().split()[:8]
        begin = time.perf_counter()
        embedder.embed([" ".join(words)])
        times.append(time.perf_counter() - begin)
    return statistics.median(times) * 1000


def measure_export_import(root: Path, messages: int, corpus: Corpus, repeats: int = 1) -> tuple[float, float]:
    """Seconds to export a store of `messages` messages, and to import that export into a new store."""
    from memory.archive import export_store, import_export
    from memory.store import Store

    source = root / "source"
    texts = corpus.messages(messages)
    with Store.open(source) as store:
        store.create(PASSPHRASE)
        with store.transaction():
            for start in range(0, messages, 200):
                conversation = store.add_conversation(f"conversation {start // 200}")
                for i in range(start, min(start + 200, messages), 2):
                    store.add_turn(conversation.id, texts[i], texts[i + 1] if i + 1 < messages else "")
        path = root / "bench-export.enc"
        export_s = _best(lambda: export_store(store, path, PASSPHRASE, overwrite=True), repeats)
    with Store.open(root / "target") as store:
        store.create(PASSPHRASE)
        import_s = _best(lambda: import_export(store, path, PASSPHRASE), repeats)  # replace mode: repeatable
    return export_s, import_s


def measure(root: Path, quick: bool) -> dict[str, Any]:
    """All the figures, in the shape `--json` prints."""
    corpus = Corpus()
    unlock_s = measure_unlock(root / "unlock", repeats=1 if quick else 5)
    write_rate = measure_writes(root / "unlock", turns=100 if quick else 1000, corpus=corpus)
    recall = measure_recall([10_000, 100_000], queries=20 if quick else 200, corpus=corpus)
    fused = measure_recall([10_000, 100_000], queries=20 if quick else 200, corpus=corpus, dim=384)
    embed_ms = measure_query_embedding(queries=10 if quick else 50, corpus=corpus)
    export_s, import_s = measure_export_import(root / "archive", 10_000, corpus, repeats=1 if quick else 3)
    return {
        "unlock_s": _round(unlock_s),
        "write_msgs_per_s": _round(write_rate),
        "recall_ms": {size: _round(ms) for size, ms in recall.items()},
        "recall_fused_ms": {size: _round(ms) for size, ms in fused.items()},
        "embed_query_ms": None if embed_ms is None else _round(embed_ms),
        "recall_fused_total_ms_100000": None if embed_ms is None else _round(fused["100000"] + embed_ms),
        "export_s_10000": _round(export_s),
        "import_s_10000": _round(import_s),
    }


def _table(result: dict[str, Any]) -> str:
    def verdict(value: float, target: float) -> str:
        return f"(target <= {target:g}: {'ok' if value <= target else 'MISSED'})"

    lines = [
        f"unlock                    {result['unlock_s']:>10.3f} s    {verdict(result['unlock_s'], TARGETS['unlock_s'])}",
        f"writes                    {result['write_msgs_per_s']:>10.0f} msg/s (one committed turn at a time)",
        f"recall, 10K messages      {result['recall_ms']['10000']:>10.2f} ms",
        f"recall, 100K messages     {result['recall_ms']['100000']:>10.2f} ms   "
        f"{verdict(result['recall_ms']['100000'], TARGETS['recall_ms_100000'])}",
        f"recall fused, 10K         {result['recall_fused_ms']['10000']:>10.2f} ms   (BM25 + 384-d vectors, RRF)",
        f"recall fused, 100K        {result['recall_fused_ms']['100000']:>10.2f} ms",
        (f"embed one query           {result['embed_query_ms']:>10.2f} ms   (all-MiniLM-L6-v2, numpy)"
         if result["embed_query_ms"] is not None else "embed one query                  n/a   (the model is not installed)"),
        (f"recall fused total, 100K  {result['recall_fused_total_ms_100000']:>10.2f} ms   "
         f"{verdict(result['recall_fused_total_ms_100000'], TARGETS['recall_fused_total_ms_100000'])}"
         if result["recall_fused_total_ms_100000"] is not None else ""),
        f"export, 10K messages      {result['export_s_10000']:>10.3f} s",
        f"import, 10K messages      {result['import_s_10000']:>10.3f} s",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Measure and print (one JSON object with `--json`)."""
    with tempfile.TemporaryDirectory(prefix="assistant-bench-store-") as tmp:
        result = measure(Path(tmp), quick=bool(getattr(args, "quick", False)))
    if getattr(args, "json", False):
        print(json.dumps(result))
    else:
        print(_table(result))
    return 0
