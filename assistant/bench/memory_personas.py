"""The memory bench's personas: pools of its own (not the learning bench's), the scripts made
from them, and the check that every question shares no content word with what was said.

A persona tells facts one per conversation among small talk, later updates a third of them, each
in a conversation of its own, and is then asked about each (`current`), about each earlier value
(`past`) and about things it never told (`absent`). `assistant.bench.memory` runs the scripts.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

# === the pools =================================================================================


@dataclass(frozen=True)
class Slot:
    """One kind of fact: how it is told, updated and asked. `{v}` is the value. Every question
    shares no content word with any statement of its slot (`check_pools`)."""

    name: str
    values: tuple[str, ...]
    tell: tuple[str, ...]
    ask: tuple[str, ...]
    update: tuple[str, ...] = ()  # empty: a fact that does not change
    ask_past: tuple[str, ...] = ()


SLOTS = (
    Slot("home", ("Bergen", "Tartu", "Ghent", "Porto", "Graz", "Turku", "Leeds", "Cork", "Utrecht", "Bilbao"),
         tell=("I rent an apartment in {v}.", "My flat is in {v}.", "I'm based in {v} at the moment."),
         ask=("Which town is home for me these days?", "What place do I call home?"),
         update=("I moved to {v} last month.", "I've relocated to {v}.", "We just settled in {v}."),
         ask_past=("Which town was home for me earlier?", "What place did I call home previously?")),
    Slot("employer", ("Brightwater Foods", "Kestrel Systems", "Halden Press", "Marlow Textiles", "Orbis Freight",
                      "Tidewell Energy", "Copperleaf Studio", "Vantor Insurance"),
         tell=("I work at {v}.", "My job is at {v}."),
         ask=("Which company pays my salary?", "Who is my employer right now?"),
         update=("I started a new job at {v}.", "I've joined {v} as of this week."),
         ask_past=("Which company paid my salary earlier?", "Who was my previous employer?")),
    Slot("manager", ("Ingrid", "Tobias", "Marisol", "Henrik", "Priya", "Declan", "Agnes", "Rafael", "Yusuf"),
         tell=("My manager is {v}.", "{v} is my team lead."),
         ask=("Who do I report to at the office?", "Who supervises me?"),
         update=("My new boss is {v}.", "{v} took over as my manager."),
         ask_past=("Who did I report to at the office before?", "Who supervised me earlier?")),
    Slot("commute", ("7:15", "7:40", "8:05", "6:50", "8:20", "7:55"),
         tell=("My train leaves at {v}.", "I catch the {v} train every day."),
         ask=("When does my morning ride to work depart?",),
         update=("My train now leaves at {v}.", "I've switched to the {v} train."),
         ask_past=("When did my morning ride to work depart before?",)),
    Slot("food", ("ramen", "lasagne", "paella", "dumplings", "falafel", "risotto", "goulash", "tacos"),
         tell=("I love eating {v}.", "{v} is my favourite food."),
         ask=("Which dish do I enjoy most?", "What meal makes me happiest?"),
         update=("These days I'm really into {v}.", "My new favourite food is {v}."),
         ask_past=("Which dish did I enjoy most before?",)),
    Slot("sport", ("badminton", "squash", "volleyball", "curling", "handball", "fencing", "rowing"),
         tell=("I play {v} on weekends.", "I do {v} twice a week."),
         ask=("What keeps me active and fit?",),
         update=("I've taken up {v} instead.", "I spend my free time on {v} now."),
         ask_past=("What kept me active and fit earlier?",)),
    Slot("car", ("Volvo", "Skoda", "Subaru", "Peugeot", "Mazda", "Renault", "Hyundai"),
         tell=("I drive a {v}.", "My car is a {v}."),
         ask=("What vehicle do I own?",),
         update=("I sold my old car and bought a {v}.", "I just got a {v}."),
         ask_past=("What vehicle did I own before?",)),
    Slot("language", ("Portuguese", "Japanese", "Finnish", "Greek", "Turkish", "Korean", "Polish"),
         tell=("I'm studying {v} in the evenings.", "I've been taking {v} classes."),
         ask=("Which foreign tongue am I picking up?",),
         update=("I switched to learning {v}.", "I've started {v} lessons."),
         ask_past=("Which foreign tongue was I picking up earlier?",)),
    Slot("dentist", ("Okafor", "Lindqvist", "Moreau", "Brennan", "Haddad", "Novak"),
         tell=("My dentist is Dr {v}.", "Dr {v} is my dentist."),
         ask=("Who looks after my teeth?",),
         update=("My new dentist is Dr {v}.", "I changed dentists, I see Dr {v} now."),
         ask_past=("Who looked after my teeth before?",)),
    Slot("pet", ("Biscuit", "Pepper", "Juniper", "Mochi", "Ziggy", "Clementine", "Bramble"),
         tell=("My dog is {v}.", "Our dog's called {v}."),
         ask=("What's the name of my furry companion?",)),
    Slot("partner", ("Lena", "Mateo", "Sofia", "Jonas", "Amara", "Felix", "Nadia"),
         tell=("My wife is {v}.", "I'm married to {v}."),
         ask=("Who is my spouse?", "What's my partner's name?")),
    Slot("sibling", ("veterinarian", "pharmacist", "architect", "electrician", "librarian", "surveyor", "paramedic"),
         tell=("My brother is a {v}.", "My brother works as a {v}."),
         ask=("What does my male sibling do for a living?",)),
    Slot("birthday", ("March 3", "July 19", "October 8", "January 27", "May 14", "September 2"),
         tell=("My birthday is on {v}.", "I celebrate my birthday on {v}."),
         ask=("On which date was I born?",)),
    Slot("allergy", ("peanuts", "shellfish", "penicillin", "pollen", "sesame", "latex"),
         tell=("{v} gives me a bad allergic reaction.", "I have an allergy to {v}."),
         ask=("What must I avoid so I don't get sick?",)),
)  # fmt: skip

FILLERS = (
    "Good morning!", "Thanks, that helps.", "Haha, that's funny.", "Okay, talk to you later.",
    "Can you explain how rainbows form?", "What's a good way to cook rice?", "Tell me something about octopuses.",
    "How many planets are in the solar system?", "That sounds like a lovely idea.", "Interesting, I never knew that.",
    "Hello again!", "Could you recommend a short poem?", "Nice, thank you!", "Why is the sky blue?",
)  # fmt: skip
"""Small talk and general questions: nothing to remember."""

# === personas ==================================================================================


@dataclass(frozen=True)
class Told:
    """A fact statement: `supersedes` the value it replaces (an update) or None."""

    slot: str
    value: str
    text: str
    supersedes: str | None = None


@dataclass(frozen=True)
class Turn:
    text: str
    told: Told | None = None


@dataclass(frozen=True)
class Question:
    """A question and what answers it: `expected` (None: an abstention) and, for a current
    question about an updated fact, the `stale` value it replaced."""

    text: str
    slot: str
    kind: str  # "current" | "past" | "absent"
    expected: str | None = None
    stale: str | None = None
    said: tuple[str, ...] = ()  # everything told about the slot (for the shared-word check)


@dataclass
class Persona:
    """One imagined user: the conversations that tell (user turns only), the questions asked
    afterwards, and every statement told, in the order told."""

    name: str
    conversations: list[list[Turn]]
    questions: list[Question]
    told: list[Told] = field(default_factory=list)


def make_persona(seed: int, n_told: int, n_absent: int, fillers: int = 1) -> Persona:
    """A persona telling `n_told` facts (one conversation each), updating a third of them later
    (one conversation each), then asked about each, about each earlier value, and about
    `n_absent` things never told. Reproducible from `seed`."""
    rng = random.Random(f"memory-persona-{seed}")
    updatable = [s for s in SLOTS if s.update]
    n_updates = max(1, round(n_told / 3)) if n_told else 0
    if n_updates > len(updatable) or n_told + n_absent > len(SLOTS):
        raise ValueError(f"at most {len(SLOTS)} slots ({len(updatable)} updatable), got {n_told} told + {n_absent} absent")
    updated = rng.sample(updatable, n_updates)
    others = [s for s in SLOTS if s not in updated]
    rng.shuffle(others)
    told_slots = updated + others[: n_told - n_updates]
    absent = others[n_told - n_updates : n_told - n_updates + n_absent]
    first, later, questions = [], [], []
    for slot in told_slots:
        old, new = rng.sample(slot.values, 2)
        said = [Told(slot.name, old, _cap(rng.choice(slot.tell).format(v=old)))]
        if slot in updated:
            said.append(Told(slot.name, new, _cap(rng.choice(slot.update).format(v=new)), supersedes=old))
            later.append(said[-1])
        first.append(said[0])
        texts = tuple(t.text for t in said)
        current = said[-1]
        questions.append(Question(rng.choice(slot.ask), slot.name, "current", current.value, current.supersedes, texts))
        if current.supersedes is not None:
            questions.append(Question(rng.choice(slot.ask_past), slot.name, "past", current.supersedes, None, texts))
    questions += [Question(rng.choice(slot.ask), slot.name, "absent") for slot in absent]
    rng.shuffle(first)
    rng.shuffle(later)
    rng.shuffle(questions)
    conversations = []
    for told in first + later:
        turns = [Turn(told.text, told)] + [Turn(rng.choice(FILLERS)) for _ in range(fillers)]
        rng.shuffle(turns)
        conversations.append(turns)
    return Persona(f"persona {seed}", conversations, questions, first + later)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def personas(quick: bool) -> list[Persona]:
    """The benchmark's personas: three telling 10 facts over 13 conversations, or one small one."""
    if quick:
        return [make_persona(0, 6, 3)]
    return [make_persona(seed, 10, 4) for seed in range(3)]


def shared_words(question: str, statement: str) -> set[str]:
    """The index terms (stemmed content words, as recall sees them) the two texts share."""
    from memory.recall import tokenize

    return set(tokenize(question)) & set(tokenize(statement))


def check_pools(slots: Sequence[Slot] = SLOTS) -> list[str]:
    """Every (question, statement) pair of a slot that shares a content word, any value filled
    in (empty: every question is a true paraphrase)."""
    problems = []
    for slot in slots:
        for value in slot.values:
            statements = [t.format(v=value) for t in slot.tell + slot.update]
            for question in slot.ask + slot.ask_past:
                problems += [f"{slot.name}: {question!r} ~ {s!r}: {sorted(shared_words(question, s))}"
                             for s in statements if shared_words(question, s)]
    return problems
