"""`assistant bench learning`: continual-learning strategies replayed on a scripted persona.

One imagined user talks to the assistant over many sessions (each a fresh `Session`: the store
is closed and reopened between them, as a process restart would). Early on they tell facts about
themselves (values from the held-out `EVAL` pools of `core.training.dialogues`, so no model has seen
them) and chat in their own style; in the last two sessions they ask about the facts, each in a
new conversation, so the answer can come only from what persisted: the recall index and the
adapter. The same script is replayed for four strategies, each in its own data directory:

    frozen      no learning
    no_replay   LoRA updates on the new exchange only (no replay, no distillation, no gate)
    replay      LoRA with k replay items per update (no distillation, no gate)
    default     replay + KL distillation to the base on anchor text + the anchor-loss gate

Reported per strategy:
- `personal_loss_change`: relative change of the loss on the persona's held-out messages
  (other phrasings of the same facts, other lines in the same style: near-duplicates of what was
  trained on, so mostly memorising), final adapter vs the base;
- `personal_loss_change_unseen`: the same on lines written from templates and about facts and
  things that never appear in the script (a separate pool, tested disjoint): what carries over;
- `anchor_drift`: relative change of the anchor loss on the fixed evaluation slice (what the gate
  enforces, so the default meets it by construction);
- `general_drift`: the same on general text the gate and the distillation never see (the last
  fifth of `anchor.txt`, taken out of the copy of the model folder the strategies learn with);
- `recall`: share of the late questions whose reply contains the fact's value
  (`recall_in_block`: share whose `<|memory|>` block held it, i.e. retrieval alone);
- what learning adds that recall does not: each fact asked with recall switched off (no memory
  block), with the adapter and with the frozen base: `recall_without_memory` (the greedy reply
  holds the value) and `answer_loss_change_without_memory` (the value's loss after the question);
- `update_ms`: median time of one update (`update_ms_p90` beside it).

Targets (issue 5): default lowers personal loss by >= 15% with anchor drift <= 2%; no_replay
drifts more than default; recall >= 80%; update <= 1 s per exchange.

Without the shipped model (models/default) a tiny stand-in is trained first (a minute); its
figures show that the machinery works, not what the product achieves.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STRATEGY_ORDER = ("frozen", "no_replay", "replay", "default")
TARGETS = {"personal_loss_change": -0.15, "anchor_drift": 0.02, "recall": 0.8, "update_ms": 1000.0}
PASSPHRASE = "bench"

STYLE_TEMPLATES = (
    "Practised the {instrument} for an hour after work.",
    "Had {food} for dinner again, it never gets old.",
    "Made a pot of {drink} and read for a while.",
    "Went to {sport} practice this evening and I'm getting better.",
    "{friend} and I talked about going back to {city} next spring.",
    "Spent the whole afternoon trying to {activity}.",
    "I keep thinking about {city}, the light there is lovely.",
    "{friend} lent me a book about {subject}.",
    "My {instrument} teacher says I should practise my scales more.",
    "Cooking {food} tonight because {friend} is coming over.",
    "The {sport} club meets on Thursdays now.",
    "I've been reading more and more about {subject} lately.",
)
UNSEEN_TEMPLATES = (
    "Finally tried a new recipe with {food}, and {friend} asked for seconds.",
    "Walked to the market and came back with {drink} for the week.",
    "Thinking of signing up for evening classes on {subject} in {city}.",
    "My fingers ache from the {instrument}, but it is worth it.",
    "{friend} beat me at {sport} again, third week in a row.",
    "Booked a long weekend in {city} just to {activity}.",
    "Nothing beats {drink} on a cold morning before work.",
    "Could not stop going on about {subject} over lunch with {friend}.",
)
"""Held-out style lines for `personal_loss_change_unseen`: no template here is in STYLE_TEMPLATES."""
STYLE_PREFIXES = ("", "Today: ", "Honestly, ", "Quick update: ")
STYLE_SUFFIXES = ("", " It was nice.", " Not bad at all.", " Long day though.")


@dataclass
class Turn:
    text: str
    fact: Any = None  # a `core.training.dialogues.Fact` when the turn asks about one


@dataclass
class Script:
    sessions: list[list[list[Turn]]]  # session -> conversations -> user turns
    held_out: list[str]
    facts: list[Any] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    """Held-out lines from templates, facts and things the script never uses."""
    unseen_values: list[str] = field(default_factory=list)
    """The things and fact values those lines are about (none is said in the script)."""

    @property
    def exchanges(self) -> int:
        return sum(len(conv) for session in self.sessions for conv in session)


def persona_script(seed: int, sessions: int, per_session: int, n_facts: int) -> Script:
    """The persona: facts told early (retold once later), a style of their own, questions late."""
    from core.training import dialogues as d

    rng = random.Random(f"persona-{seed}")
    pools = d.EVAL
    facts = [f for f in d.make_persona(rng, pools, n_facts * 2) if len(f.tell) >= 2][:n_facts]
    consts = _persona_constants(rng, pools)
    lines = [
        _cap(prefix + template.format(**consts) + suffix)
        for template in STYLE_TEMPLATES
        for prefix in STYLE_PREFIXES
        for suffix in STYLE_SUFFIXES
    ]
    rng.shuffle(lines)
    held_style, style = lines[:24], lines[24:]
    # each fact: told with its first templates, held out with its last one
    tells = [Turn(f.fill(f.tell[i % (len(f.tell) - 1)])) for i in range(2) for f in facts]
    held_out = held_style + [f.fill(f.tell[-1]) for f in facts]
    asks = [Turn(d.ask_text(rng, f), fact=f) for f in facts]
    rng.shuffle(asks)

    talk_sessions = sessions - 2
    # first telling in the first half, the retelling in the second half of the talking sessions
    first, second = tells[: len(facts)], tells[len(facts) :]
    half = max(1, talk_sessions // 2)
    plan: list[list[Turn]] = [[] for _ in range(sessions)]
    for i, turn in enumerate(first):
        plan[i % half].append(turn)
    for i, turn in enumerate(second):
        plan[half + i % max(1, talk_sessions - half)].append(turn)
    for i, turn in enumerate(asks):
        plan[talk_sessions + i % 2].append(turn)
    general = [u for key, (users, _) in d.EXCHANGES.items() if key in ("greeting", "how_are_you", "thanks", "feeling_good") for u in users]
    script: list[list[list[Turn]]] = []
    for s, fixed in enumerate(plan):
        turns = list(fixed)
        while len(turns) < per_session:
            turns.append(Turn(rng.choice(style) if rng.random() < 0.75 else rng.choice(general)))
        if s < talk_sessions:
            rng.shuffle(turns)
            cut = len(turns) // 2
            script.append([turns[:cut], turns[cut:]])
        else:
            # late sessions: each question opens a new conversation, followed by some small talk
            questions = [t for t in turns if t.fact is not None]
            rest = [t for t in turns if t.fact is None]
            convs = [[q] for q in questions]
            for i, t in enumerate(rest):
                convs[i % len(convs)].append(t)
            script.append(convs)
    unseen, unseen_values = _unseen_pool(seed, script, facts, consts, pools)
    return Script(script, held_out, facts, unseen, unseen_values)


def _unseen_pool(seed: int, script: list[list[list[Turn]]], facts: list[Any], consts: dict[str, str], pools: Any):
    """Lines from UNSEEN_TEMPLATES with things of their own, and statements of facts of kinds the
    persona never tells, every value absent from all the script says (drawn after the script, from
    a generator of their own, so the script is what it always was)."""
    from core.training import dialogues as d

    rng = random.Random(f"persona-unseen-{seed}")
    said = " ".join(t.text for session in script for conv in session for t in conv).casefold()
    taken = {v.casefold() for v in consts.values()} | {f.value.casefold() for f in facts}

    def fresh(value: str) -> bool:
        return value.casefold() not in taken and value.casefold() not in said

    others: dict[str, str] = {}
    for _ in range(200):
        draw = _persona_constants(rng, pools)
        for key, value in draw.items():
            if key not in others and fresh(value) and value not in others.values():
                others[key] = value
        if len(others) == len(consts):
            break
    lines = [template.format(**others) for template in UNSEEN_TEMPLATES]
    kinds = {f.kind for f in facts}
    new_facts = [f for f in d.make_persona(rng, pools, 40) if f.kind not in kinds and fresh(f.value)][:6]
    lines += [f.fill(f.tell[0]) for f in new_facts]
    return lines, sorted(others.values()) + [f.value for f in new_facts]


def _persona_constants(rng: random.Random, pools: Any) -> dict[str, str]:
    return {
        "instrument": rng.choice(pools.instruments), "food": rng.choice(pools.foods), "drink": rng.choice(pools.drinks),
        "sport": rng.choice(pools.sports), "friend": rng.choice(pools.names), "city": rng.choice(pools.cities),
        "activity": rng.choice(pools.activities), "subject": rng.choice(pools.subjects),
    }  # fmt: skip


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# === the model =================================================================================


def stand_in_model(folder: Path, *, quick: bool, log=print) -> Path:
    """A small model trained for a minute on generated dialogues (used when none is shipped)."""
    import torch

    from core.checkpoint import save_model
    from core.config import LiquidConfig
    from core.model import LiquidLM
    from core.template import render_chat
    from core.tokenizer import train_tokenizer
    from core.training.dialogues import generate_dialogues

    torch.manual_seed(0)
    n_docs, steps = (1500, 400) if quick else (4000, 1500)
    texts = [render_chat(g.messages, g.memory, add_generation_prompt=False) for g in generate_dialogues(0, n_docs)]
    log(f"training a stand-in model ({steps} steps on {n_docs} generated dialogues) ...")
    tok = train_tokenizer(texts, vocab_size=1024)
    cfg = LiquidConfig(vocab_size=tok.vocab_size, d_model=128, n_layers=2, n_heads=4, state_kind="matrix", chunk_size=32)
    model = LiquidLM(cfg)
    stream: list[int] = []
    for text in texts:
        stream += tok.encode(text)
    data = torch.tensor(stream)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    rng = random.Random(0)
    seq = 128
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = 3e-3 * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * (1 - step / steps))
        starts = [rng.randrange(len(stream) - seq - 1) for _ in range(16)]
        batch = torch.stack([data[s : s + seq + 1] for s in starts])
        logits, _ = model(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    log(f"stand-in model: final training loss {loss.item():.2f}")
    model.eval()
    save_model(folder, model, tok)
    anchor = [render_chat(g.messages, None, add_generation_prompt=False) for g in generate_dialogues(99, 200)]
    (folder / "anchor.txt").write_text("\n\n".join(anchor) + "\n", encoding="utf-8")
    (folder / "card.json").write_text(json.dumps({"name": "bench stand-in (tiny, untrained for real use)"}) + "\n")
    return folder


def hold_out_general_text(model_dir: Path, out: Path, share: float = 0.2) -> tuple[Path, list[str]]:
    """A copy of `model_dir` (files linked) whose anchor set lacks its last `share` of documents,
    and those documents: general text that neither the gate nor the distillation ever sees."""
    from core.learner import split_anchor

    docs = split_anchor((model_dir / "anchor.txt").read_text(encoding="utf-8"))
    n = max(1, int(len(docs) * share)) if len(docs) > 1 else 0
    out.mkdir(parents=True, exist_ok=True)
    for path in model_dir.iterdir():
        if path.is_file() and path.name != "anchor.txt":
            (out / path.name).symlink_to(path.resolve())
    (out / "anchor.txt").write_text("\n\n".join(docs[: len(docs) - n]) + "\n", encoding="utf-8")
    return out, docs[len(docs) - n :]


# === one strategy ==============================================================================


def run_strategy(name: str, script: Script, model_dir: Path, home: Path, *, max_tokens: int, log=print,
                 general: list[str] | None = None) -> dict:
    """Replay `script` with strategy `name`; `general`: documents of general text for
    `general_drift` (none of them in `model_dir`'s anchor set)."""
    from core.generate import SamplingSettings

    from assistant.session import Session
    from memory.crypto import KdfParams

    kdf = KdfParams(time_cost=1, memory_kib=1024, lanes=1)  # the bench measures learning, not Argon2id
    talk = SamplingSettings(temperature=0.0, repetition_penalty=1.1, max_tokens=max_tokens, seed=0)
    answer = SamplingSettings(temperature=0.0, repetition_penalty=1.1, max_tokens=max(32, max_tokens), seed=0)
    recalled: list[bool] = []
    in_block: list[bool] = []
    misses: list[dict] = []  # the questions answered wrongly: what was asked, told and replied
    waits: list[float] = []
    t0 = time.perf_counter()
    for index, convs in enumerate(script.sessions):
        session = Session.open(PASSPHRASE, home=home, model_dir=model_dir, create=True, kdf=kdf)
        try:
            if index == 0:
                session.settings.set("learning.strategy", name)
            for conv in convs:
                session.new_conversation()
                for turn in conv:
                    reply = session.send(turn.text, settings=answer if turn.fact else talk)
                    reply.wait()
                    w0 = time.perf_counter()
                    session.wait_for_learning()
                    waits.append(time.perf_counter() - w0)
                    if turn.fact is not None:
                        value = turn.fact.value.casefold()
                        recalled.append(value in reply.text.casefold())
                        in_block.append(any(value in s.casefold() for s in reply.memory_used))
                        if not recalled[-1]:
                            misses.append({"question": turn.text, "value": turn.fact.value,
                                           "reply": reply.text[:160], "in_block": in_block[-1]})
        finally:
            session.close()
    elapsed = time.perf_counter() - t0
    return {**_measure(name, script, model_dir, home, kdf, general or []), **{
        "recall": _share(recalled),
        "recall_in_block": _share(in_block),
        "questions": len(recalled),
        "misses": misses,
        "wait_ms_median": round(1000 * statistics.median(waits), 1) if waits else 0.0,
        "seconds": round(elapsed, 1),
    }}


def _measure(name: str, script: Script, model_dir: Path, home: Path, kdf: Any, general: list[str]) -> dict:
    from core.checkpoint import load_model
    from core.learner import Learner, LearnerSettings, split_anchor

    from assistant.session import Session

    session = Session.open(PASSPHRASE, home=home, model_dir=model_dir, kdf=kdf, learn=False)
    try:
        events = session.store.list_events()
        seconds = [float(e.detail["seconds"]) for e in events if e.kind in ("update", "rejected") and "seconds" in e.detail]
        rejected = sum(e.kind == "rejected" for e in events)
        active = session.learning.active_version()
        data = session.learning.adapter_bytes(active) if active is not None else None
        settings = session.learning.learner_settings() or LearnerSettings()
        seed = session.learning.seed
    finally:
        session.close()
    base, tok = load_model(model_dir)
    learner = Learner(base, tok, split_anchor((model_dir / "anchor.txt").read_text(encoding="utf-8")), settings, seed=seed)
    learner.load(data, active)
    from core.template import render_turn

    held = [render_turn("user", text) for text in script.held_out]
    personal_base = learner.personal_loss(held, base=True)
    personal = learner.personal_loss(held)
    unseen = [render_turn("user", text) for text in script.unseen]
    unseen_change = _change(learner.personal_loss(unseen), learner.personal_loss(unseen, base=True)) if unseen else None
    anchor_base = learner.base_anchor_loss()
    anchor = learner.anchor_loss()
    general_drift = _change(learner.text_loss(general), learner.text_loss(general, base=True)) if general else None
    ms = sorted(1000 * s for s in seconds)
    return {
        "personal_loss_change": round(personal / personal_base - 1, 4),
        "personal_loss_change_unseen": unseen_change,
        "anchor_drift": round(anchor / anchor_base - 1, 4),
        "general_drift": general_drift,
        **without_memory(learner, script),
        "update_ms": round(statistics.median(ms), 1) if ms else 0.0,
        "update_ms_p90": round(ms[int(0.9 * (len(ms) - 1))], 1) if ms else 0.0,
        "updates": len(seconds),
        "rejected": rejected,
        "personal_loss_base": round(personal_base, 4),
        "personal_loss": round(personal, 4),
        "anchor_loss_base": round(anchor_base, 4),
        "anchor_loss": round(anchor, 4),
        "active_version": active,
    }


def _change(value: float, base: float) -> float:
    return round(value / base - 1, 4)


def without_memory(learner: Any, script: Script, max_tokens: int = 24) -> dict:
    """Each fact asked with recall switched off (no memory block): does the adapter alone bring
    the value back, against the frozen base? Greedy replies, and the loss of the value's tokens
    as the reply to the question."""
    import torch
    import torch.nn.functional as F

    from core.lora import lora_disabled
    from core.training.evaluate import greedy_reply

    asks = [(t.text, t.fact) for session in script.sessions for conv in session for t in conv if t.fact is not None]
    if not asks:
        return {}
    model, tok = learner.model, learner.tok
    found = {"adapted": [], "frozen": []}
    losses = {"adapted": [], "frozen": []}
    with torch.inference_mode():
        for question, fact in asks:
            prompt = tok.encode_chat([("user", question)], None)
            value = tok.encode(fact.value)
            ids = torch.tensor([prompt + value])
            for which in ("adapted", "frozen"):
                with lora_disabled(model) if which == "frozen" else _nothing():
                    reply = greedy_reply(model, tok, [("user", question)], None, max_tokens=max_tokens)
                    logits, _ = model(ids[:, :-1])
                found[which].append(fact.value.casefold() in reply.casefold())
                tail = logits[0, len(prompt) - 1 :].float()  # the positions that predict the value
                losses[which].append(float(F.cross_entropy(tail, ids[0, len(prompt) :])))
    return {
        "recall_without_memory": _share(found["adapted"]),
        "recall_without_memory_frozen": _share(found["frozen"]),
        "answer_loss_change_without_memory": _change(statistics.mean(losses["adapted"]), statistics.mean(losses["frozen"])),
    }


def _nothing():
    import contextlib

    return contextlib.nullcontext()


def _share(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def verdict(results: dict[str, dict]) -> dict[str, bool]:
    default, no_replay = results.get("default", {}), results.get("no_replay", {})
    return {
        "default_personal_gain": default.get("personal_loss_change", 0.0) <= TARGETS["personal_loss_change"],
        "default_anchor_drift": default.get("anchor_drift", 1.0) <= TARGETS["anchor_drift"],
        "no_replay_drifts_more": no_replay.get("anchor_drift", 0.0) > default.get("anchor_drift", 0.0),
        "default_recall": default.get("recall", 0.0) >= TARGETS["recall"],
        "default_update_latency": 0 < default.get("update_ms", 0.0) <= TARGETS["update_ms"],
    }


# === the command ===============================================================================


def run(args: argparse.Namespace) -> int:
    import os

    from assistant import paths

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    quiet = bool(getattr(args, "json", False))
    quick = bool(getattr(args, "quick", False))

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    sessions, per_session, n_facts, max_tokens = (11, 11, 8, 8) if quick else (12, 26, 14, 16)
    script = persona_script(0, sessions, per_session, n_facts)
    with tempfile.TemporaryDirectory(prefix="assistant-bench-learning-") as tmp:
        root = Path(tmp)
        model_dir = Path(args.model) if getattr(args, "model", None) else paths.default_model_dir()
        stand_in = not (model_dir / "model.safetensors").is_file()
        if stand_in:
            log(f"no model at {model_dir}: using a tiny stand-in (its figures show the machinery, not the product)")
            model_dir = stand_in_model(root / "stand-in", quick=quick, log=log)
        elif not (model_dir / "anchor.txt").is_file():
            from assistant.errors import LearningUnavailable

            raise LearningUnavailable(f"{model_dir} has no anchor.txt, so the learning safeguards cannot run")
        shown_dir = model_dir
        model_dir, general = hold_out_general_text(model_dir, root / "model")
        results: dict[str, dict] = {}
        for name in STRATEGY_ORDER:
            log(f"strategy {name}: {script.exchanges} exchanges over {len(script.sessions)} sessions ...")
            results[name] = run_strategy(name, script, model_dir, root / name, max_tokens=max_tokens, log=log,
                                         general=general)
            log(f"  {name}: {json.dumps(results[name])}")
    report = {
        "strategies": results,
        "model": str(shown_dir) if not stand_in else "tiny stand-in (models/default is absent)",
        "general_text": f"{len(general)} documents of anchor.txt held out of the learning's copy (never gated or distilled on)",
        "stand_in": stand_in,
        "quick": quick,
        "exchanges": script.exchanges,
        "restarts": len(script.sessions),  # every session but the first is a restart, plus the measurement
        "facts": len(script.facts),
        "held_out_messages": len(script.held_out),
        "targets": TARGETS,
        "meets": verdict(results),
    }
    if quiet:
        print(json.dumps(report, indent=2))
        return 0
    print(f"continual learning on a scripted persona: {script.exchanges} exchanges, {len(script.sessions)} sessions "
          f"({report['restarts']} restarts), {len(script.facts)} facts, model: {report['model']}")
    print(f"{'strategy':<10} {'personal':>9} {'unseen':>8} {'anchor':>8} {'general':>8} {'recall':>7} {'in block':>9} "
          f"{'no memory':>10} {'update ms':>10} {'rejected':>9}")
    for name, r in results.items():
        def pct(key: str, width: int, digits: int, sign: str = "+") -> str:
            value = r.get(key)
            return f"{'-':>{width}}" if value is None else f"{value:>{sign}{width}.{digits}%}"

        print(f"{name:<10} {pct('personal_loss_change', 9, 1)} {pct('personal_loss_change_unseen', 8, 1)} "
              f"{pct('anchor_drift', 8, 2)} {pct('general_drift', 8, 2)} {pct('recall', 7, 0, '')} "
              f"{pct('recall_in_block', 9, 0, '')} {pct('recall_without_memory', 10, 0, '')} "
              f"{r['update_ms']:>10.0f} {r['rejected']:>9}")
    print("personal: held-out near-duplicates of the training lines; unseen: lines from templates and facts never "
          "in the script; anchor: the gated slice; general: text the gate never sees; no memory: facts asked with "
          f"recall off (frozen: {results.get('frozen', {}).get('recall_without_memory_frozen', 0.0):.0%})")
    print("targets: " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in report["meets"].items()))
    for miss in results.get("default", {}).get("misses", []):
        where = "in the block" if miss["in_block"] else "not in the block"
        print(f"  default missed {miss['value']!r} ({where}): {miss['question']} -> {miss['reply'][:80]!r}")
    return 0
