"""Held-out measurements of a trained model: memory use, bits per byte, and fixed sample replies."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from core.generate import Generator, SamplingSettings
from core.model import LiquidLM
from core.tokenizer import Tokenizer

# Twenty prompts of different kinds; the card records the model's replies to them.
# Each is (kind, messages, memory snippets or None).
SAMPLE_PROMPTS: list[tuple[str, list[tuple[str, str]], list[str] | None]] = [
    ("greeting", [("user", "Hello!")], None),
    ("greeting", [("user", "Good morning, how are you today?")], None),
    ("small talk", [("user", "I just got back from a long walk by the river.")], None),
    ("small talk", [("user", "What do you like to do on rainy days?")], None),
    ("small talk", [("user", "I'm so tired today, work was exhausting.")], None),
    ("small talk", [("user", "Do you have any plans for the weekend?")], None),
    ("remembered fact", [("user", "What is my sister's name?")], ["My sister is called Ingrid.", "I live in Leeds."]),
    ("remembered fact", [("user", "Where do I work?")], ["I work at the city library.", "My cat is called Pepper."]),
    ("remembered fact", [("user", "When is my mother's birthday?")], ["My mother's birthday is on the 3rd of June."]),
    ("remembered fact", [("user", "What's my favourite food?")], ["favourite food: mushroom risotto", "I play the cello."]),
    ("fact not known", [("user", "What is my dog's name?")], ["I live in Leeds.", "I work as a nurse."]),
    ("telling a fact", [("user", "My best friend is called Tomasz and he lives in Gdansk.")], None),
    ("telling a fact", [("user", "Remember that my dentist appointment is next Tuesday.")], None),
    ("cannot do", [("user", "Can you book me a flight to Paris?")], None),
    ("cannot do", [("user", "Please set an alarm for 7am.")], None),
    ("cannot do", [("user", "Search the web for today's news.")], None),
    ("question", [("user", "What is a noun?")], None),
    ("question", [("user", "Can you tell me something about Python lists?")], None),
    ("thanks", [("user", "Thank you, that was helpful!")], None),
    ("long rambling message", [(
        "user",
        "So today was a strange one, I woke up late because the alarm didn't go off, then the bus was "
        "full so I walked, and on the way I met an old friend from school who I hadn't seen in years, "
        "and we talked about everything and nothing, and by the time I got to the office I had "
        "completely forgotten what I was supposed to do first, anyway I'm home now and just want to relax.",
    )], None),
]

ABSTAIN_MARKERS = ("don't know", "do not know", "haven't told", "have not told", "not sure", "don't have", "no record",
                   "didn't tell", "not told", "don't remember", "do not remember", "haven't mentioned", "not mentioned")


def greedy_reply(
    model: LiquidLM,
    tok: Tokenizer,
    messages: Sequence[tuple[str, str]],
    memory: Sequence[str] | None,
    max_tokens: int = 48,
    memory_contrast: float | None = None,
) -> str:
    """The greedy reply, decoded as the assistant decodes: with memory contrast (the default
    weight unless `memory_contrast` says otherwise) when there is a memory block."""
    gen = Generator(model, tok)
    ids = tok.encode_chat(list(messages), memory or None)
    contrast = tok.encode_chat(list(messages), None) if memory else None
    contrast_weight = {} if memory_contrast is None else {"memory_contrast": memory_contrast}
    settings = SamplingSettings(temperature=0.0, repetition_penalty=1.0, max_tokens=max_tokens, **contrast_weight)
    return "".join(gen.stream(ids, None, settings, contrast_ids=contrast))


def memory_eval(model: LiquidLM, tok: Tokenizer, cases: Iterable[dict], max_tokens: int = 40, plain: bool = True) -> dict:
    """Share of held-out cases answered with the right value from the <|memory|> block, and how
    often the value appears anyway when the block is removed (invented), and how often the model
    says it does not know when the block lacks the answer. Replies are decoded as the assistant
    decodes them (memory contrast on); `correct_with_block_plain` is the share without contrast
    (left out, None, when `plain` is false). A reply that does not abstain when the block lacks the
    answer gives a value of its own: `invented_when_absent`."""
    hit = plain_hit = invented = present = abstained = absent = 0
    failures = []
    for case in cases:
        history = [tuple(t) for t in case.get("history", [])]
        messages = history + [("user", case["question"])]
        with_block = greedy_reply(model, tok, messages, case["memory"], max_tokens)
        if case.get("answer"):
            present += 1
            answer = case["answer"].lower()
            ok = answer in with_block.lower()
            hit += ok
            if plain:
                plain_hit += answer in greedy_reply(model, tok, messages, case["memory"], max_tokens, memory_contrast=0.0).lower()
            if not ok and len(failures) < 10:
                failures.append({"question": case["question"], "answer": case["answer"], "reply": with_block})
            without = greedy_reply(model, tok, messages, None, max_tokens)
            invented += answer in without.lower()
        else:
            absent += 1
            abstained += any(m in with_block.lower() for m in ABSTAIN_MARKERS)
    return {
        "cases_with_answer": present,
        "correct_with_block": round(hit / max(present, 1), 4),
        "correct_with_block_plain": round(plain_hit / max(present, 1), 4) if plain else None,
        "memory_contrast": SamplingSettings().memory_contrast,
        "invented_without_block": round(invented / max(present, 1), 4),
        "cases_without_answer": absent,
        "says_unknown_when_absent": round(abstained / max(absent, 1), 4),
        "invented_when_absent": round(1 - abstained / absent, 4) if absent else None,
        "failures": failures,
    }


def bits_per_byte(nats_per_token: float, tokens: int, nbytes: int) -> float:
    return nats_per_token * tokens / nbytes / math.log(2)


def sample_replies(model: LiquidLM, tok: Tokenizer, max_tokens: int = 64) -> list[dict]:
    out = []
    for kind, messages, memory in SAMPLE_PROMPTS:
        reply = greedy_reply(model, tok, messages, memory, max_tokens)
        out.append({"kind": kind, "prompt": messages[-1][1], "memory": memory, "reply": reply})
    return out
