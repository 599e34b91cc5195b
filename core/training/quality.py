"""Quality of a converted model beside its teacher and the earlier model, on text the conversion
never saw: bits per byte at two context lengths, a short-answer general question set, memory use
and invention on the held-out memory cases, and the card's sample replies.

Every model is scored on the same text. Models with different tokenisers are compared in bits per
byte (the text's nats over its UTF-8 bytes), each reading the text in windows of `ctx` of its own
tokens from a fresh state, so the figure at 2,048 also shows what a bounded attention window costs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Short-answer questions written for this set (not taken from any benchmark): each with the
# answers that count (lower case; a reply counts when one of them appears in it as words).
GENERAL_QUESTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("What is the capital of France?", ("paris",)),
    ("What is the capital of Japan?", ("tokyo",)),
    ("What is the capital of Italy?", ("rome",)),
    ("What is the capital of Germany?", ("berlin",)),
    ("What is the capital of Spain?", ("madrid",)),
    ("What is the capital of the United Kingdom?", ("london",)),
    ("Which ocean lies between Europe and North America?", ("atlantic",)),
    ("What is the largest planet in our solar system?", ("jupiter",)),
    ("Which planet is known as the Red Planet?", ("mars",)),
    ("What star is at the centre of our solar system?", ("sun",)),
    ("What do bees make?", ("honey",)),
    ("What colour is the sky on a clear day?", ("blue",)),
    ("What colour are the leaves of most trees in summer?", ("green",)),
    ("How many days are there in a week?", ("seven", "7")),
    ("How many legs does a spider have?", ("eight", "8")),
    ("How many continents are there on Earth?", ("seven", "7")),
    ("At what temperature in degrees Celsius does water freeze?", ("0", "zero")),
    ("What gas do plants take in from the air to make food?", ("carbon dioxide", "co2")),
    ("What gas do people need to breathe to stay alive?", ("oxygen",)),
    ("Who wrote the play Romeo and Juliet?", ("shakespeare",)),
    ("Who painted the Mona Lisa?", ("leonardo", "da vinci")),
    ("What is the chemical symbol for water?", ("h2o",)),
    ("What is the freezing form of water called?", ("ice",)),
    ("Which animal is known as the king of the jungle?", ("lion",)),
    ("What is the largest ocean on Earth?", ("pacific",)),
    ("What is the tallest mountain in the world?", ("everest",)),
    ("What is the longest river in Africa?", ("nile",)),
    ("What language is mainly spoken in Brazil?", ("portuguese",)),
    ("Which organ pumps blood through the human body?", ("heart",)),
    ("What do caterpillars turn into?", ("butterfl", "moth")),
    ("What is the opposite of hot?", ("cold",)),
    ("How many hours are there in a day?", ("24", "twenty-four", "twenty four")),
    ("What is the first month of the year?", ("january",)),
    ("Which season comes after winter?", ("spring",)),
    ("What is the capital of Canada?", ("ottawa",)),
    ("What instrument has black and white keys?", ("piano",)),
]


def answer_matches(reply: str, answers: Iterable[str]) -> bool:
    """True when one of `answers` appears in `reply` at a word start ("7" not inside "17")."""
    text = reply.lower()
    return any(re.search(r"(?<![a-z0-9])" + re.escape(a), text) for a in answers)


@dataclass
class Scored:
    """A model to score: its name, the model (`model(ids) -> (logits, state)`) and its tokeniser."""

    name: str
    model: torch.nn.Module
    tok: object


@torch.no_grad()
def text_nats(model: torch.nn.Module, ids: Sequence[int], ctx: int, batch: int = 4) -> tuple[float, int]:
    """Total next-token loss (nats) of `ids` read in consecutive windows of `ctx` tokens, each from
    a fresh state (a window's first token is the previous window's last), and how many were scored."""
    ids_t = torch.tensor(list(ids), dtype=torch.long)
    starts = list(range(0, len(ids_t) - 1, ctx))
    full = [s for s in starts if s + ctx + 1 <= len(ids_t)]
    total, count = 0.0, 0
    for i in range(0, len(full), batch):
        w = torch.stack([ids_t[s : s + ctx + 1] for s in full[i : i + batch]])
        logits, _ = model(w[:, :-1])
        total += F.cross_entropy(logits.flatten(0, 1).float(), w[:, 1:].flatten(), reduction="sum").item()
        count += w[:, 1:].numel()
    for s in starts[len(full):]:  # the tail shorter than a window
        w = ids_t[s:].unsqueeze(0)
        if w.shape[1] > 1:
            logits, _ = model(w[:, :-1])
            total += F.cross_entropy(logits.flatten(0, 1).float(), w[:, 1:].flatten(), reduction="sum").item()
            count += w.shape[1] - 1
    return total, count


def bits_per_byte(model: torch.nn.Module, tok, text: str, ctx: int) -> float:
    """Bits per UTF-8 byte of `text` as `model` reads it in windows of `ctx` tokens."""
    nats, _ = text_nats(model, tok.encode(text), ctx)
    return nats / math.log(2) / len(text.encode("utf-8"))


def held_out_documents(nbytes: int, *, seed: int = 1234, share: float = 0.03) -> dict[str, list[str]]:
    """About `nbytes` of held-out chat and of held-out general documents, as the conversion split them
    (`core.training.convert.held_out`: documents the conversion never trained on), shared evenly
    among the sources of each kind that are available."""
    from core.template import render_chat
    from core.training.convert import held_out
    from core.training.data import clean_dialogue, clean_document
    from core.training.sources import SOURCES

    sources = [s for s in SOURCES.values() if s.available()]
    out: dict[str, list[str]] = {}
    for kind, label in (("dialogue", "chat"), ("text", "general")):
        mine = [s for s in sources if s.kind == kind]
        if not mine:
            continue
        quota, parts = nbytes // len(mine), []
        for source in mine:
            got = 0
            for item in source.read():
                if kind == "dialogue":
                    turns = [("user" if r == "user" else "assistant", t) for r, t in clean_dialogue(item)]
                    text = render_chat(turns, add_generation_prompt=False) if len(turns) >= 2 else ""
                else:
                    text = clean_document(item)
                if text and held_out(text, seed, share):
                    parts.append(text)
                    got += len(text.encode("utf-8"))
                    if got >= quota:
                        break
        out[label] = parts
    return out


def general_eval(model, tok, questions=GENERAL_QUESTIONS, max_tokens: int = 32) -> dict:
    """Greedy answers to the short-answer questions; a reply counts when it holds an answer."""
    from core.training.evaluate import greedy_reply

    rows = []
    for q, answers in questions:
        reply = greedy_reply(model, tok, [("user", q)], None, max_tokens)
        rows.append({"question": q, "reply": reply, "correct": answer_matches(reply, answers)})
    return {"correct": sum(r["correct"] for r in rows), "total": len(rows), "replies": rows}


def compare(
    models: Sequence[Scored], *, text_bytes: int = 60_000, contexts: tuple[int, ...] = (512, 2048),
    memory_cases: int = 200, absent_cases: int = 50, samples: bool = True, questions: int | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Every measurement for every model, side by side: {measure: {model name: figure}}."""
    from core.training.dialogues import memory_eval_cases
    from core.training.evaluate import memory_eval, sample_replies

    texts = {k: "\n\n".join(v) for k, v in held_out_documents(text_bytes).items()}
    cases = memory_eval_cases(seed=0, present=memory_cases, absent=absent_cases)
    out: dict = {"text_bytes": {k: len(v.encode("utf-8")) for k, v in texts.items()}, "bits_per_byte": {}}
    for m in models:
        m.model.eval()
        for label, text in texts.items():
            for ctx in contexts:
                log(f"{m.name}: bits/byte on held-out {label} at {ctx}")
                out["bits_per_byte"].setdefault(f"{label}@{ctx}", {})[m.name] = round(bits_per_byte(m.model, m.tok, text, ctx), 4)
        asked = GENERAL_QUESTIONS[:questions]
        log(f"{m.name}: {len(asked)} general questions")
        out.setdefault("general", {})[m.name] = general_eval(m.model, m.tok, asked)
        if cases:
            log(f"{m.name}: {len(cases)} held-out memory cases")
            out.setdefault("memory", {})[m.name] = memory_eval(m.model, m.tok, cases, max_tokens=32, plain=False)
        if samples:
            log(f"{m.name}: the card's sample prompts")
            out.setdefault("samples", {})[m.name] = sample_replies(m.model, m.tok)
    return out


def summary_rows(result: dict) -> list[tuple[str, dict[str, str]]]:
    """(measure, {model: figure}) rows for a table."""
    rows: list[tuple[str, dict[str, str]]] = []
    for key, by_model in result["bits_per_byte"].items():
        rows.append((f"bits/byte, held-out {key}", {k: f"{v:.3f}" for k, v in by_model.items()}))
    rows.append(("general questions correct", {k: f"{v['correct']}/{v['total']}" for k, v in result.get("general", {}).items()}))
    for k, label in (("correct_with_block", "memory: right value from the block"),
                     ("invented_when_absent", "memory: a value invented when the block lacks it"),
                     ("says_unknown_when_absent", "memory: says unknown when the block lacks it")):
        if result.get("memory"):
            rows.append((label, {m: "-" if v[k] is None else f"{v[k]:.0%}" for m, v in result["memory"].items()}))
    return rows
