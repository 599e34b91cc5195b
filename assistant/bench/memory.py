"""`assistant bench memory`: long-term memory as the user gets it, shaped like LongMemEval.

Each generated persona (`assistant.bench.memory_personas`: pools of its own, not the learning bench's) tells facts about
itself across many conversations (`--quick`: fewer), one fact per conversation among small talk,
and later updates a third of them ("I moved to Bergen"), each in a conversation of its own. Then,
after a restart, every question is asked in a fresh conversation (deleted afterwards, so one
question never sees another):

    current   about a told fact, in words that share no content word with anything said about
              it (checked with the recall tokenizer: `shared_words`); expects the newest value
    past      about an updated fact's earlier value ("which town was home for me earlier?")
    absent    about a thing never told; expects an abstention ("I don't know ...")

Everything runs through the real `Session` (encrypted store in a temporary directory, the
shipped model by default, greedy decoding, learning off so only memory is measured): the session
keeps memories by itself after each user message, supersedes them by slot and filters its recall.
Where `assistant.extraction` is absent, the session's detector is replaced by one that proposes
each fact statement whole, under its slot (`seeding_detector`), so retrieval, supersession and
answers are still measured and extraction is reported unavailable.

Reported (`--json` for one object):

- extraction precision and recall of `find_memories` over every user message of the script
  (a fact statement is found when a candidate holds its value; a candidate on small talk or a
  question is a false positive); `updates_same_slot`: share of updates given the slot of the
  statement they replace (what supersession by slot needs); `superseded`: share of updates
  after which the memories of the old value are marked superseded and the new one is current;
- per recall mode (`fused`: the store's own recall, BM25 fused with the session's sentence
  model, `memory.embed`; `bm25`: the BM25 index alone, through `Bm25Recall`, a bench-only
  stand-in for `Store.recall` in the session's recall policy), over the `<|memory|>` block each
  reply was given:
  `hit_at_k` (the current value in the block, current questions), `past_in_block`, `stale_rate`
  (an updated fact's old value ranked above its current one); and over the replies: `correct`
  (the expected value in the reply, normalised; current and past questions), `stale_answers`
  (the old value without the current one, current questions about updated facts) and
  `invented` (absent questions not answered with an abstention).

Where the store has no sentence-embedding model (its package is not installed), fusion is
reported unavailable and only the BM25 pass runs.

Targets (issue 17): extraction precision >= 0.9 and recall >= 0.8; the current fact in the block
for >= 90% of questions; stale answers <= 5%; correct answers >= 80% with the default model.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.bench.memory_personas import Persona, Question, Turn, personas

PASSPHRASE = "bench"
TARGETS = {"extraction_precision": 0.9, "extraction_recall": 0.8, "hit_at_k": 0.9, "stale_answers": 0.05, "correct": 0.8}
ABSTAIN_MARKERS = ("don't know", "do not know", "haven't told", "have not told", "haven't mentioned", "don't remember",
                   "not sure", "don't have", "don't think you've", "no idea")  # fmt: skip
"""What an abstention says (the shipped model's are `core.training.dialogues.UNKNOWN`)."""


# === matching ==================================================================================


def normalise(text: str) -> str:
    """Lowercase words separated by single spaces, padded, so `f" {value} " in` matches whole words."""
    return " " + " ".join(re.findall(r"\w+", text.casefold())) + " "


def holds(text: str, value: str | None) -> bool:
    return value is not None and normalise(value) in normalise(text)


def abstains(reply: str) -> bool:
    text = reply.casefold().replace("’", "'")
    return any(marker in text for marker in ABSTAIN_MARKERS)


def rank_of(block: Sequence[str], value: str | None) -> int | None:
    """The position of the first snippet holding `value` (None: none does)."""
    return next((i for i, snippet in enumerate(block) if holds(snippet, value)), None)


# === extraction ================================================================================


def load_detector() -> tuple[Callable[[str], list[Any]] | None, str]:
    """`assistant.extraction.find_memories` where it exists and its weights load, else None and
    a sentence saying why not."""
    import importlib

    from core.errors import ModelFilesError

    try:
        extraction = importlib.import_module("assistant.extraction")
    except ModuleNotFoundError as exc:
        if exc.name != "assistant.extraction":
            raise
        return None, "assistant.extraction is absent"
    try:
        extraction.find_memories("Hello!")  # loads the weights
    except ModelFilesError as exc:
        return None, f"assistant.extraction cannot load its detector: {exc}"
    return extraction.find_memories, ""


def extraction_figures(all_personas: Iterable[Persona], find: Callable[[str], list[Any]]) -> dict:
    """Precision and recall of `find` over every user message of the scripts (questions included)."""
    tp = fp = fn = 0
    slot_of: dict[tuple[str, str], str | None] = {}  # (persona, fact slot) -> the detector's slot of its first telling
    same_slot: list[bool] = []
    for persona in all_personas:
        messages = [t for conv in persona.conversations for t in conv] + [Turn(q.text) for q in persona.questions]
        for turn in messages:
            candidates = find(turn.text)
            if turn.told is None:
                fp += bool(candidates)
                continue
            hit = next((c for c in candidates if holds(c.text, turn.told.value)), None)
            tp += hit is not None
            fn += hit is None
            fp += any(not holds(c.text, turn.told.value) for c in candidates)
            key = (persona.name, turn.told.slot)
            slot = hit.slot if hit is not None else None
            if turn.told.supersedes is None:
                slot_of[key] = slot
            else:
                same_slot.append(slot is not None and slot == slot_of.get(key))
    return {
        "available": True,
        "precision": _share(tp, tp + fp),
        "recall": _share(tp, tp + fn),
        "found": tp, "false_positives": fp, "missed": fn,
        "updates_same_slot": _share(sum(same_slot), len(same_slot)),
    }  # fmt: skip


def _share(n: int, total: int) -> float | None:
    return round(n / total, 4) if total else None


# === recall modes ==============================================================================


class Bm25Recall:
    """Stands in for the store in the session's recall policy, answering `recall` from the BM25
    index alone (the bench's switch: the store's own recall may fuse embeddings with it)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def recall(self, query: str, k: int = 5, *, exclude_conversation: int | None = None, kinds: Any = None,
               roles: Any = None, **_: Any) -> list[Any]:
        return self._store.build_recall_index().search(query, k, exclude_conversation=exclude_conversation,
                                                       kinds=kinds, roles=roles)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def recall_modes(store: Any) -> tuple[list[str], str]:
    """Which passes can run: "fused" (the store's recall, where it has a sentence model) and
    "bm25" (where its index is the BM25 `RecallIndex`), and a sentence saying why one is missing."""
    from memory.recall import RecallIndex

    if not isinstance(store.build_recall_index(), RecallIndex):
        return ["fused"], "BM25 alone unavailable: the store's index is no longer a memory.recall.RecallIndex"
    if store.embedder is None:
        return ["bm25"], "fused unavailable: the store has no sentence-embedding model"
    return ["fused", "bm25"], ""


# === driving the session =======================================================================


@dataclass(frozen=True)
class SeededCandidate:
    """What the seeding detector proposes: the statement itself, under its slot."""

    text: str
    slot: str
    score: float = 1.0


def seeding_detector(persona: Persona) -> Callable[[str], list[SeededCandidate]]:
    """A detector that knows the script: each fact statement, whole, under its slot; nothing else
    (used where `assistant.extraction` is absent, so retrieval and answers are still measured)."""
    said = {t.text: [SeededCandidate(t.text, t.slot)] for t in persona.told}
    return lambda text: said.get(text, [])


def run_persona(persona: Persona, model_dir: Path | None, home: Path, *, max_tokens: int = 32, seeded: bool = False,
                embedder: Callable[[], Any] | None = None, log: Callable[[str], None] = print) -> dict:
    """Tell, restart, ask. `seeded`: memories come from `seeding_detector` instead of the
    session's own. `embedder`: a loader of the sentence model the store fuses with
    (`Store.use_embedder`) instead of the session's own (None: the session's). Returns how
    updates were superseded, the embedder, the passes run, and per pass one record per
    question: the block the reply was given and the reply."""
    from core.generate import SamplingSettings

    from assistant.session import Session
    from memory.crypto import KdfParams

    kdf = KdfParams(time_cost=1, memory_kib=1024, lanes=1)  # the bench measures memory, not Argon2id
    talk = SamplingSettings(temperature=0.0, repetition_penalty=1.1, max_tokens=8, seed=0)
    answer = SamplingSettings(temperature=0.0, repetition_penalty=1.1, max_tokens=max_tokens, seed=0)

    def opened(**kw: Any) -> Session:
        session = Session.open(PASSPHRASE, home=home, model_dir=model_dir, kdf=kdf, learn=False, **kw)
        if seeded:
            session.memory.detect = seeding_detector(persona)
        if embedder is not None:
            session.store.use_embedder(embedder)  # loaded on first need
        return session

    session = opened(create=True)
    try:
        for conv in persona.conversations:
            session.new_conversation()
            for turn in conv:
                session.send(turn.text, settings=talk).wait()
        kept = session.memories()
    finally:
        session.close()
    log(f"  {persona.name}: {len(persona.conversations)} conversations told, {len(kept)} memories kept")
    session = opened()  # a restart: only what persisted counts
    try:
        k = int(session.settings.get("recall.k"))
        used = session.store.embedder
        passes, note = recall_modes(session.store)
        results: dict[str, list[dict]] = {}
        for mode in passes:
            own = session.recall.store
            if mode == "bm25" and "fused" in passes:
                session.recall.store = Bm25Recall(own)
            try:
                results[mode] = [_ask(session, q, answer) for q in persona.questions]
            finally:
                session.recall.store = own
    finally:
        session.close()
    return {"memories": len(kept), "superseded": superseded(persona, kept), "k": k, "passes": passes, "note": note,
            "embedder": None if used is None else f"{used.name} ({'the session' if embedder is None else 'the bench'}'s)",
            "records": results}


def superseded(persona: Persona, kept: Sequence[Any]) -> list[bool]:
    """Per update: whether every memory holding the old value is marked superseded while one
    holding the new value is current (what "recall prefers the current one" rests on)."""
    flags = []
    for told in persona.told:
        if told.supersedes is None:
            continue
        old = [m for m in kept if holds(m.text, told.supersedes)]
        new = [m for m in kept if holds(m.text, told.value) and m.status == "current"]
        flags.append(bool(old) and bool(new) and all(m.status == "superseded" for m in old))
    return flags


def _ask(session: Any, question: Question, settings: Any) -> dict:
    """One question in a fresh conversation, deleted afterwards with any memory the detector
    (wrongly) kept from the question, so no question or pass sees another; that memory is
    counted in `kept_from_question` (extraction precision counts it too)."""
    conv = session.new_conversation()
    try:
        reply = session.send(question.text, settings=settings)
        reply.wait()
        for memory in reply.remembered:
            session.delete_memory(memory.id)
        return {"question": question.text, "kind": question.kind, "slot": question.slot, "expected": question.expected,
                "stale": question.stale, "block": list(reply.memory_used), "reply": reply.text,
                "kept_from_question": len(reply.remembered)}
    finally:
        session.delete_conversation(conv.id)


# === scoring ===================================================================================


def score(records: Sequence[dict]) -> dict:
    """The figures of one recall mode from its per-question records (see the module docstring)."""
    current = [r for r in records if r["kind"] == "current"]
    past = [r for r in records if r["kind"] == "past"]
    updated = [r for r in current if r["stale"] is not None]
    absent = [r for r in records if r["kind"] == "absent"]
    answerable = current + past

    def stale_ranked(r: dict) -> bool:
        old, new = rank_of(r["block"], r["stale"]), rank_of(r["block"], r["expected"])
        return old is not None and (new is None or old < new)

    return {
        "hit_at_k": _share(sum(rank_of(r["block"], r["expected"]) is not None for r in current), len(current)),
        "past_in_block": _share(sum(rank_of(r["block"], r["expected"]) is not None for r in past), len(past)),
        "stale_rate": _share(sum(stale_ranked(r) for r in updated), len(updated)),
        "correct": _share(sum(holds(r["reply"], r["expected"]) for r in answerable), len(answerable)),
        "correct_current": _share(sum(holds(r["reply"], r["expected"]) for r in current), len(current)),
        "correct_past": _share(sum(holds(r["reply"], r["expected"]) for r in past), len(past)),
        "stale_answers": _share(sum(holds(r["reply"], r["stale"]) and not holds(r["reply"], r["expected"])
                                    for r in updated), len(updated)),
        "invented": _share(sum(not abstains(r["reply"]) for r in absent), len(absent)),
        "questions": {"current": len(current), "updated": len(updated), "past": len(past), "absent": len(absent)},
    }


def verdict(extraction: dict, figures: dict) -> dict[str, bool | None]:
    """Each target met (None: not measured)."""

    def at_least(value: float | None, bar: float) -> bool | None:
        return None if value is None else value >= bar

    stale = figures.get("stale_answers")
    return {
        "extraction_precision": at_least(extraction.get("precision"), TARGETS["extraction_precision"]),
        "extraction_recall": at_least(extraction.get("recall"), TARGETS["extraction_recall"]),
        "hit_at_k": at_least(figures.get("hit_at_k"), TARGETS["hit_at_k"]),
        "stale_answers": None if stale is None else stale <= TARGETS["stale_answers"],
        "correct": at_least(figures.get("correct"), TARGETS["correct"]),
    }


# === the command ===============================================================================


def measure(all_personas: Sequence[Persona], model_dir: Path | None, root: Path, *, max_tokens: int = 32,
            embedder: Callable[[], Any] | None = None, log: Callable[[str], None] = print) -> dict:
    """Run every persona and put the report together."""
    find, why_not = load_detector()
    if find is not None:
        extraction = {**extraction_figures(all_personas, find), "memories_from": "the session's detector"}
    else:
        extraction = {"available": False, "note": why_not,
                      "memories_from": "the statements (seeded through the session, under their slots)"}
    runs = [run_persona(p, model_dir, root / f"home-{i}", max_tokens=max_tokens, seeded=find is None,
                        embedder=embedder, log=log)
            for i, p in enumerate(all_personas)]
    modes = [m for m in ("fused", "bm25") if all(m in r["records"] for r in runs)]
    figures = {m: score([rec for r in runs for rec in r["records"][m]]) for m in modes}
    main = figures[modes[0]] if modes else {}
    updates = [flag for r in runs for flag in r["superseded"]]
    return {
        "personas": len(all_personas),
        "conversations_told": sum(len(p.conversations) for p in all_personas),
        "facts": sum(1 for p in all_personas for t in p.told if t.supersedes is None),
        "updates": len(updates),
        "memories_kept": sum(r["memories"] for r in runs),
        "superseded": _share(sum(updates), len(updates)),
        "kept_from_questions": sum(rec["kept_from_question"] for r in runs for recs in r["records"].values()
                                   for rec in recs),
        "k": runs[0]["k"] if runs else None,
        "extraction": extraction,
        "recall": {m: figures.get(m) for m in ("fused", "bm25")},
        "fused_available": "fused" in modes,
        "embedder": runs[0]["embedder"] if runs else None,
        "note": "; ".join(sorted({r["note"] for r in runs if r["note"]})),
        "targets": TARGETS,
        "meets": verdict(extraction, main),
        "misses": misses([rec for r in runs for rec in r["records"].get(modes[0], [])]) if modes else [],
    }


def misses(records: Sequence[dict]) -> list[dict]:
    """The questions answered wrongly: a wrong value, or an answer where nothing was told."""
    wrong = [r for r in records if not holds(r["reply"], r["expected"])]
    return [{"question": r["question"], "kind": r["kind"], "expected": r["expected"], "reply": r["reply"],
             "in_block": rank_of(r["block"], r["expected"]) is not None}
            for r in wrong if r["expected"] is not None or not abstains(r["reply"])]


def run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    quick = bool(getattr(args, "quick", False))
    model_dir = Path(args.model).expanduser() if getattr(args, "model", None) else None

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    chosen = personas(quick)
    log(f"memory bench: {len(chosen)} persona(s) ...")
    with tempfile.TemporaryDirectory(prefix="assistant-bench-memory-") as tmp:
        report = measure(chosen, model_dir, Path(tmp), max_tokens=24 if quick else 32, log=log)
    from assistant.session.opening import model_directory

    report = {"model": str(model_directory(model_dir)), "quick": quick, **report}
    if getattr(args, "json", False):
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


ROWS = (  # (figure, shown as, target, the verdict it decides)
    ("hit_at_k", "current fact in the block", ">= 90%", "hit_at_k"),
    ("past_in_block", "earlier value in the block (past)", "", None),
    ("stale_rate", "stale ranked above current", "", None),
    ("correct", "correct answers", ">= 80%", "correct"),
    ("correct_current", "  current questions", "", None),
    ("correct_past", "  past questions", "", None),
    ("stale_answers", "stale answers", "<= 5%", "stale_answers"),
    ("invented", "invented answers (nothing told)", "", None),
)


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    def mark(key: str | None) -> str:
        return {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: ""}[report["meets"].get(key) if key else None]

    console = Console()
    console.print(f"memory on generated personas: {report['personas']} persona(s), {report['facts']} facts told over "
                  f"{report['conversations_told']} conversations, {report['updates']} updated, "
                  f"{report['memories_kept']} memories kept; k = {report['k']}; model: {report['model']}"
                  + (" (--quick: a smoke run, not figures)" if report.get("quick") else ""))
    ex = report["extraction"]
    table = Table(title=f"extraction (memories from {ex['memories_from']})")
    for column in ("figure", "value", "target", ""):
        table.add_column(column, justify="left" if column == "figure" else "right")
    if ex["available"]:
        table.add_row("precision", pct(ex["precision"]), ">= 90%", mark("extraction_precision"))
        table.add_row("recall", pct(ex["recall"]), ">= 80%", mark("extraction_recall"))
        table.add_row("updates given the replaced fact's slot", pct(ex["updates_same_slot"]), "", "")
    else:
        table.add_row(f"unavailable: {ex['note']}", "-", ">= 90% / 80%", "")
    table.add_row("updates marked superseded", pct(report["superseded"]), "", "")
    table.add_row("memories kept from questions (undone)", str(report["kept_from_questions"]), "0", "")
    console.print(table)
    fused, bm25 = report["recall"]["fused"], report["recall"]["bm25"]
    about = report["note"] or f"embedder: {report['embedder']}"
    table = Table(title=f"recall and answers ({about})")
    for column in ("figure", "fused", "bm25 only", "target", ""):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for key, name, target, verdict_key in ROWS:
        table.add_row(name, *[pct(f[key]) if f else "-" for f in (fused, bm25)], target, mark(verdict_key))
    console.print(table)
    for miss in report["misses"][:12]:
        where = "in the block" if miss["in_block"] else "not in the block"
        console.print(f"  missed ({miss['kind']}, {miss['expected'] or 'an abstention'}, {where}): "
                      f"{miss['question']} -> {miss['reply'][:70]!r}", markup=False, highlight=False)
