"""The memory detector: which clauses of a user message state something worth remembering, and
what each is about.

Glossary:
    clause     a sentence, or a part of one joined by "and"/"but"/a comma to another subject
               ("My name is Dana" | "and I live in Tromso")
    statement  a clause the user tells about themselves, their people, pets, plans, preferences or
               places; questions, small talk, commands and passing moods are not statements
    attribute  what a statement is about, one of `ATTRIBUTES` ("name", "home", "job" ...)
    slot       the attribute with its subject and detail, the key under which a newer statement
               supersedes an older one: "home", "sister.job", "manager", "train_time"
    B          hashed feature buckets of the detector; A: those of the attribute classifier
    C          the number of attributes

Two linear models over hashed word, word-shape and character n-grams (numpy only, no torch at
run time): a logistic detector `p(statement | clause)` and a softmax over `ATTRIBUTES`. The slot
is the attribute completed by rules (whose it is: "my sister" -> "sister."; which favourite,
which appointment, which time). The weights are plain data: float16 tensors in one safetensors
file, the `DetectorConfig` as JSON in its metadata. `core.training.extraction` trains them; this
module never imports it.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import ModelFilesError

FORMAT = "assistant-memory-detector/1"

ATTRIBUTES = (
    "other", "name", "home", "hometown", "job", "employer", "birthday", "age", "pet", "favourite",
    "like", "dislike", "allergy", "diet", "plan", "trip", "appointment", "number", "wifi",
    "language", "instrument", "studied", "gift", "item_place", "schedule",
)  # fmt: skip
"""What a statement can be about; "other" is a statement with no known slot."""


@dataclass(frozen=True)
class DetectorConfig:
    """Sizes and the decision threshold; saved beside the weights (safetensors metadata)."""

    buckets: int = 1 << 15  # B
    attribute_buckets: int = 1 << 12  # A
    attributes: tuple[str, ...] = ATTRIBUTES
    threshold: float = 0.5
    format: str = FORMAT
    training: dict = field(default_factory=dict)  # how the weights were made (seed, data sizes, figures)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DetectorConfig:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ModelFilesError(f"not a memory detector: format {data.get('format')!r}, expected {FORMAT!r}")
        data["attributes"] = tuple(data["attributes"])
        return cls(**data)


# --- clauses ----------------------------------------------------------------------------------

_ABBREVIATIONS = ("a.m.", "p.m.", "dr.", "mr.", "mrs.", "ms.", "st.", "e.g.", "i.e.", "etc.", "vs.")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*")
# A new clause starts at "and"/"but"/"also" or a comma or semicolon followed by a subject the user owns.
_SUBJECT = r"(?:i|i'm|im|i've|i'd|i'll|my|our|we|we're|we've)\b"
_CLAUSE_BREAK = re.compile(
    # "and I ...", "but my ...": a new clause; after a bare comma only when three more words follow,
    # so "I can't be near sesame, I'm allergic" stays one statement
    rf"\s*(?:,?\s+(?:and|but|also|plus)\s+(?={_SUBJECT})|[,;]\s*(?={_SUBJECT}(?:[\s,]+[\w'\-:.]+){{3,}}))",
    re.IGNORECASE,
)
_FILLER_START = re.compile(
    r"^(?:hi+|hello|hey+|hiya|heya|yo|oh|ooh|ok|okay|so|well|um+|uh+|er+|hmm+|also|anyway|anyways|plus|and|but|"
    r"btw|by the way|fun fact|something to remember|just so you know|fyi|for the record|"
    r"(?:please\s+)?(?:remember|note)(?: that|:)|don'?t let me forget|just a note|quick note|"
    r"can you remember this|good (?:morning|evening|afternoon)|actually)\b[\s,:;!.\-]*",
    re.IGNORECASE,
)
_FILLER_END = re.compile(r"[\s,]*\b(?:by the way|btw|lol|haha|fyi|just so you know|in case i forget)\s*([.!?]*)$", re.IGNORECASE)


def split_clauses(text: str) -> list[str]:
    """The message cut into sentences, and sentences at "and I ...", ", my ...": raw, unnormalised."""
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(text.strip()):
        if pieces and pieces[-1].lower().endswith(_ABBREVIATIONS):
            pieces[-1] += " " + piece
        elif piece:
            pieces.append(piece)
    clauses = []
    for sentence in pieces:
        clauses += [c for c in _CLAUSE_BREAK.split(sentence) if c and c.strip(" ,;.!?")]
    return clauses


_LOWER_I = re.compile(r"\bi(?:'(?:m|ve|d|ll))?\b|\bim\b")


def normalise(clause: str) -> str:
    """A clause in clean standalone form: fillers and greetings dropped, "i" capitalised, the first
    letter capitalised, ending in one full stop (a question keeps its question mark)."""
    text = " ".join(clause.split())
    while True:
        stripped = _FILLER_START.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = _FILLER_END.sub(r"\1", text).strip(" ,;:-")
    text = _LOWER_I.sub(lambda m: "I'm" if m.group(0) == "im" else "I" + m.group(0)[1:], text)
    if not text:
        return ""
    question = text.rstrip().endswith("?")
    text = text.rstrip(" .!?") + ("?" if question else ".")
    return text[:1].upper() + text[1:]


# --- features ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?|[?!.,:]")


def _shape(token: str, first: bool) -> str:
    if token[:1].isdigit():
        return "<num>"
    if token[:1].isupper() and not first and token != "I":
        return "<cap>"
    return token.lower()


_PAST = frozenset(
    "went got had made took saw came lost broke ran fell forgot dropped spent bought ate drank met found left slept "
    "woke wrote read sent told".split()
)  # fmt: skip
_DEICTIC = ("yesterday", "today", "this morning", "tonight", "last night", "just", "ago", "earlier", "right now",
            "at the moment", "again", "just now")  # fmt: skip


def _tense(words: list[str]) -> list[str]:
    """What marks a passing event ("I just dropped my phone", "I spilled coffee this morning"): the
    verb after "I"/"we" in the past or -ing form, and words that tie a clause to now."""
    feats = []
    for a, b in zip(words, words[1:]):
        if a in ("i", "we", "i've", "we've", "just"):
            kind = "<past>" if b.endswith("ed") or b in _PAST else "<ing>" if b.endswith("ing") else None
            if kind:
                feats.append(f"v:{a} {kind}")
    joined = " " + " ".join(words) + " "
    return feats + [f"time:{t}" for t in _DEICTIC if f" {t} " in joined]


def feature_strings(clause: str) -> list[str]:
    """Word uni- and bigrams, bigrams of word shapes (names and numbers as <cap>, <num>), character
    3- and 4-grams of the words, tense and time words (`_tense`), and the length: what both models
    read, before hashing."""
    tokens = _TOKEN.findall(clause)
    words = ["<s>"] + [t.lower() for t in tokens] + ["</s>"]
    shapes = ["<s>"] + [_shape(t, i == 0) for i, t in enumerate(tokens)] + ["</s>"]
    feats = [f"w:{w}" for w in words[1:-1]]
    feats += [f"b:{a} {b}" for a, b in zip(words, words[1:])]
    feats += [f"s:{a} {b}" for a, b in zip(shapes, shapes[1:])]
    feats += [f"t:{a} {b} {c}" for a, b, c in zip(shapes, shapes[1:], shapes[2:])]
    for w in words[1:-1]:
        if len(w) > 3 and w.isalpha():
            padded = f"^{w}$"
            feats += [f"c:{padded[i:i + 3]}" for i in range(len(padded) - 2)]
            feats += [f"c:{padded[i:i + 4]}" for i in range(len(padded) - 3)]
    feats += _tense(words[1:-1])
    feats.append(f"n:{min(len(tokens), 12)}")
    return feats


def feature_hashes(feats: list[str]) -> np.ndarray:
    """The crc32 of each feature: stable across runs and machines (Python's `hash` is not)."""
    return np.fromiter((zlib.crc32(f.encode()) for f in feats), dtype=np.int64, count=len(feats))


def hashed(feats: list[str], buckets: int) -> np.ndarray:
    """Bucket indices of the features, one per feature."""
    return feature_hashes(feats) % buckets


# --- slots ------------------------------------------------------------------------------------

RELATIONS = {
    "sister": "sister", "brother": "brother", "mum": "mother", "mom": "mother", "mother": "mother",
    "dad": "father", "father": "father", "best friend": "best_friend", "oldest friend": "oldest_friend",
    "partner": "partner", "wife": "partner", "husband": "partner", "girlfriend": "partner",
    "boyfriend": "partner", "fiance": "partner", "fiancee": "partner", "fiancé": "partner", "fiancée": "partner",
    "boss": "manager", "manager": "manager", "line manager": "manager", "team lead": "manager",
    "team leader": "manager", "supervisor": "manager", "neighbour": "neighbour",
    "neighbor": "neighbour", "son": "son", "daughter": "daughter", "cousin": "cousin",
    "grandmother": "grandmother", "grandma": "grandmother", "granny": "grandmother", "nan": "grandmother",
    "grandfather": "grandfather", "grandpa": "grandfather", "roommate": "roommate", "flatmate": "roommate",
    "housemate": "roommate", "teacher": "teacher", "doctor": "doctor", "dentist": "dentist", "aunt": "aunt",
    "uncle": "uncle", "niece": "niece", "nephew": "nephew", "colleague": "colleague", "coworker": "colleague",
    "co-worker": "colleague", "coach": "coach", "landlord": "landlord", "landlady": "landlord",
    "godmother": "godmother", "godfather": "godfather", "stepdad": "stepfather", "stepmum": "stepmother",
    "stepmom": "stepmother", "piano teacher": "piano_teacher", "mentor": "mentor", "therapist": "therapist",
    "friend": "friend", "kid": "child", "child": "child", "baby": "child", "twin": "twin",
    "parents": "parents", "in-laws": "in_laws", "mother-in-law": "mother_in_law", "father-in-law": "father_in_law",
}  # fmt: skip
_PETS = (
    "dog", "cat", "puppy", "kitten", "rabbit", "bunny", "parrot", "hamster", "horse", "tortoise", "turtle",
    "goldfish", "fish", "guinea pig", "budgie", "lizard", "ferret", "pony", "snake", "gecko", "rat", "mouse",
)  # fmt: skip
_ITEMS = (
    "keys", "car keys", "passport", "glasses", "sunglasses", "wallet", "purse", "phone charger", "charger",
    "umbrella", "spare key", "headphones", "notebook", "laptop", "bike", "car", "remote",
)  # fmt: skip
_NUMBERS = (
    "locker number", "room number", "door code", "bike lock code", "flat number", "parking space",
    "seat number", "gate number", "employee number", "membership number", "table number", "bus number",
    "pin for the garage", "pin", "phone number", "desk number", "house number", "alarm code", "locker code",
)  # fmt: skip
_SCHEDULES = (
    "train", "bus", "ferry", "tram", "flight", "shift", "yoga class", "swimming lesson", "football practice",
    "choir practice", "gym session", "lecture", "class", "lesson", "practice", "standup", "stand-up",
    "meeting", "school run", "work", "school", "yoga", "gym",
)  # fmt: skip
_FAVOURITES = ("board game", "tv show", "food", "drink", "colour", "color", "sport", "fruit", "animal",
               "book", "film", "movie", "song", "band", "singer", "season", "game", "flower", "dessert")  # fmt: skip
WHENS = (
    "this weekend", "next weekend", "tomorrow", "tonight", "next week", "next month", "next year",
    "this summer", "this winter", "this spring", "this autumn", "this evening", "today",
    *(f"{w}day" for w in ("mon", "tues", "wednes", "thurs", "fri", "satur", "sun")),
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "christmas", "easter", "summer", "winter",
)  # fmt: skip
_PERSON_CUES = (("married to", "partner"), ("engaged to", "partner"), ("dating", "partner"), ("report to", "manager"),
                ("reports to", "manager"))  # fmt: skip
_OBJECT_END = re.compile(r"\s*(?:[,;:.!?]|\b(?:because|since|but|it's|it is|they're|they are|"
                         r"very much|so much|a lot|anymore|any more|these days|at all|for years|now)\b).*$")  # fmt: skip
_PREFERENCE_VERB = re.compile(
    r"\b(?:absolutely |really |just |kind of |truly )?(?:love|loves|like|likes|enjoy|enjoys|adore|hate|hates|"
    r"dislike|detest|can't stand|cannot stand|can't bear|don't like|do not like|don't eat|never eat|"
    r"am a (?:big |huge )?fan of|'m a (?:big |huge )?fan of|'m not a fan of|am not a fan of|"
    r"(?:'m|am) (?:really |very )?into|suggest|prefer)\s+(.+)",
    re.IGNORECASE,
)


_SOMEONE = re.compile(r" (?:my|our) (?:new |current )?([a-z][a-z\-]+) (?:lives|live|is|was|works|work|just|has|moved|"
                      r"grew|turns|turned|birthday|job|will|got)\b")  # fmt: skip
_OWN_THINGS = frozenset(
    "home job birthday flat house apartment work office company degree name age hometown place plan train bus "
    "family's new current address city town salary role position title".split()
)  # fmt: skip
"""Words after "my" that are the user's own things, not people: "my job is ..." stays the user's."""


def slot_token(phrase: str) -> str:
    """A phrase as a slot part: lower case, "'s" dropped, runs of other characters as one "_"."""
    phrase = re.sub(r"'s\b", "", phrase.lower())
    return re.sub(r"[^a-z0-9]+", "_", phrase).strip("_")


@lru_cache(maxsize=64)
def _alternation(phrases: tuple[str, ...], before: str = "") -> re.Pattern:
    """One regex for a list of phrases, longest first, so the leftmost match is the longest there."""
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(rf" {before}({'|'.join(re.escape(p) for p in ordered)})(?= )")


def find_phrase(words: str, phrases: tuple[str, ...], before: str = "") -> str | None:
    """The earliest, then longest, of `phrases` in `words` (lower case, padded with spaces),
    after `before` (a regex) where given."""
    match = _alternation(tuple(phrases), before).search(words)
    return match.group(1) if match else None


def _words(clause: str) -> str:
    """The clause's words, lower case, "'s" dropped, padded with spaces: " my sister name is ilse "."""
    return " " + " ".join(re.findall(r"[a-z0-9'\-]+", re.sub(r"'s\b", "", clause.lower()))) + " "


def whose(clause: str) -> str | None:
    """The person a clause is about when it is not the user: "my sister ..." -> "sister"."""
    words = _words(clause)
    owned = find_phrase(words, tuple(RELATIONS), before="(?:my|our) (?:new |current )?")
    if owned:
        return RELATIONS[owned]
    for cue, relation in _PERSON_CUES:
        if f" {cue} " in words:
            return relation
    return None


def _object(clause: str) -> str | None:
    match = _PREFERENCE_VERB.search(clause)
    if not match:
        return None
    obj = _OBJECT_END.sub("", match.group(1))
    obj = re.sub(r"^(?:the|a|an|my|to|eating|having|drinking|playing|doing)\s+", "", obj.strip(), flags=re.IGNORECASE)
    return slot_token(" ".join(obj.split()[:4])) or None


def slot_of(attribute: str, clause: str) -> str | None:
    """The slot of a statement: its attribute, completed by rules with whose it is and which one."""
    words = _words(clause)
    person = whose(clause)
    pet = find_phrase(words, _PETS, before="(?:my|our|a|an) ")
    if attribute == "name" and person is None and pet:  # "our dog's name is Rex": the pet's name
        attribute = "pet"
    if attribute == "job" and re.match(r"^[A-Z][\w\-]*(?:'s| is) (?:my|our) [\w\- ]+[.!]?$", clause) and person:
        attribute = "name"  # "Gideon is my manager": who the manager is, not a job
    if attribute == "job" and person and re.search(r"\bas (?:my|our) ", clause):
        attribute = "name"  # "Priya took over as my manager"
    if attribute == "job" and re.search(r"\b(?:work|works|worked|working|employed) (?:at|for)\b|\bjob at\b", clause):
        attribute = "employer"
    if attribute == "birthday" and re.search(r"\bborn in [A-Z]", clause):
        attribute = "hometown"  # born in a place, not on a date
    if attribute == "language" and re.search(r"\bplay\b", clause.lower()):
        attribute = "instrument"
    if attribute == "name" and person is None:
        # someone the relation list does not know ("Dana is my hairdresser"): never the user's own name
        other = re.search(r"\b(?:my|our) (?:new |current )?([a-z][a-z\-]+)", words)
        if other and other.group(1) not in ("name", "first", "full", "nickname", "own", "friends"):
            person = slot_token(other.group(1))
    if attribute == "name":
        return person or "name"
    if attribute in ("home", "hometown", "job", "employer", "birthday", "age", "gift"):
        if person is None:  # someone the relation list does not know: "my ex-boss lives in Leeds"
            other = _SOMEONE.search(words)
            if other and other.group(1) not in _OWN_THINGS:
                person = slot_token(other.group(1))
        return f"{person}.{attribute}" if person else attribute
    if attribute == "pet":
        return slot_token(find_phrase(words, _PETS) or "pet")
    if attribute == "favourite":
        what = find_phrase(words, _FAVOURITES)
        if what is None:
            after = re.search(r"\bfavou?rite\s+([a-z]+)", clause.lower())
            what = after.group(1) if after else None
        what = {"color": "colour", "movie": "film"}.get(what, what)
        return f"favourite.{slot_token(what)}" if what else None
    if attribute in ("like", "dislike"):
        obj = _object(clause)
        return f"pref.{obj}" if obj else None
    if attribute == "allergy":
        after = re.search(r"\b(?:allergic to|allergy to|allergy:)\s+([^,.;!?]+)", clause.lower())
        if after is None:
            after = re.search(r"\b(?:near|an?)\s+([^,.;!?]+?)(?= allergy\b|[,.;!?]|$)", clause.lower())
        obj = _OBJECT_END.sub("", re.sub(r"^(?:the|a|an) ", "", after.group(1))) if after else ""
        return f"allergy.{slot_token(obj)}" if slot_token(obj) else "allergy"
    if attribute == "plan":
        when = find_phrase(words, WHENS)
        return f"plan.{slot_token(when)}" if when else None
    if attribute == "trip":
        where = re.search(r"\b(?:to|in|visit|visiting)\s+((?:[A-Z][\w'\-]*\s?)+)", clause)
        return f"trip.{slot_token(where.group(1))}" if where else "trip"
    if attribute == "appointment":
        kind = re.search(r"([a-z']+(?: [a-z']+)?)\s+appointment", clause.lower())
        if kind is None:
            return "appointment"
        parts = [p for p in kind.group(1).split() if p not in ("a", "an", "the", "my", "our", "have", "booked")]
        return f"appointment.{slot_token(' '.join(parts))}" if parts else "appointment"
    if attribute == "number":
        thing = find_phrase(words, _NUMBERS)
        if thing is None:
            found = re.search(r"\b(?:my|our|the)\s+([a-z ]+?)\s+(?:is|was)\b", clause.lower())
            thing = found.group(1) if found else None
        return slot_token(thing) if thing else None
    if attribute == "wifi":
        return "wifi_password"
    if attribute == "item_place":
        item = find_phrase(words, _ITEMS)
        return f"{slot_token(item)}.place" if item else None
    if attribute == "schedule":
        lesson = re.search(r"\b(?:my|the|our|a|an)\s+((?:[a-z]+ )?(?:lesson|class|practice|session|rehearsal|shift))\b", clause.lower())
        thing = lesson.group(1) if lesson else find_phrase(words, _SCHEDULES)
        return f"{slot_token(thing)}_time" if thing else None
    if attribute in ("diet", "language", "instrument", "studied"):
        return attribute
    return None


# --- the models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """One clause as the detector sees it."""

    text: str  # normalised
    score: float  # p(statement)
    attribute: str
    slot: str | None


class Detector:
    """The two linear models: `score(clause)` for p(statement), `attribute(clause)` for what it is
    about. Weights: `fact_w` (B,), `fact_b` (1,), `attr_w` (A, C), `attr_b` (C,)."""

    def __init__(self, config: DetectorConfig, tensors: dict[str, np.ndarray]) -> None:
        expected = {"fact_w": (config.buckets,), "fact_b": (1,),
                    "attr_w": (config.attribute_buckets, len(config.attributes)), "attr_b": (len(config.attributes),)}  # fmt: skip
        for name, shape in expected.items():
            if name not in tensors or tuple(tensors[name].shape) != shape:
                got = tuple(tensors[name].shape) if name in tensors else "missing"
                raise ModelFilesError(f"memory detector tensor {name}: expected shape {shape}, got {got}")
        self.config = config
        self.fact_w = tensors["fact_w"].astype(np.float32)
        self.fact_b = float(tensors["fact_b"][0])
        self.attr_w = tensors["attr_w"].astype(np.float32)
        self.attr_b = tensors["attr_b"].astype(np.float32)

    @classmethod
    def load(cls, path: str | Path) -> Detector:
        from safetensors import safe_open
        from safetensors.numpy import load_file

        path = Path(path)
        if not path.is_file():
            raise ModelFilesError(f"memory detector weights not found: {path}")
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
            tensors = load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types for every kind of damage
            raise ModelFilesError(f"{path}: not a safetensors file ({exc})") from None
        if "config" not in meta:
            raise ModelFilesError(f"{path}: no detector config in the safetensors metadata")
        try:
            config = DetectorConfig.from_json(meta["config"])
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelFilesError(f"{path}: the detector config does not parse ({exc})") from None
        return cls(config, tensors)

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        tensors = {"fact_w": self.fact_w, "fact_b": np.array([self.fact_b]), "attr_w": self.attr_w, "attr_b": self.attr_b}
        save_file({k: np.ascontiguousarray(v, dtype=np.float16) for k, v in tensors.items()}, str(path),
                  metadata={"config": self.config.to_json()})  # fmt: skip

    def score(self, clause: str, hashes: np.ndarray | None = None) -> float:
        """p(statement | clause); `hashes`: the clause's `feature_hashes`, where already made."""
        hashes = feature_hashes(feature_strings(clause)) if hashes is None else hashes
        if not len(hashes):
            return 0.0
        logit = float(self.fact_w[hashes % self.config.buckets].sum()) / math.sqrt(len(hashes)) + self.fact_b
        return 1.0 / (1.0 + math.exp(-logit))

    def attribute(self, clause: str, hashes: np.ndarray | None = None) -> str:
        """The most likely of `config.attributes` for a statement."""
        hashes = feature_hashes(feature_strings(clause)) if hashes is None else hashes
        logits = self.attr_w[hashes % self.config.attribute_buckets].sum(axis=0) / np.sqrt(max(len(hashes), 1))
        return self.config.attributes[int(np.argmax(logits + self.attr_b))]  # (C,)

    def statements(self, text: str) -> list[Scored]:
        """The clauses of `text` the detector takes for statements, in order."""
        return [c for c in self.clauses(text) if c.score >= self.config.threshold]

    def clauses(self, text: str) -> list[Scored]:
        """Every clause of `text`, normalised and scored; its attribute and slot where it is a statement."""
        out = []
        for raw in split_clauses(text):
            clean = normalise(raw)
            if not clean:
                continue
            hashes = feature_hashes(feature_strings(clean))
            score = self.score(clean, hashes)
            if score >= self.config.threshold:
                attribute = self.attribute(clean, hashes)
                out.append(Scored(clean, score, attribute, slot_of(attribute, clean)))
            else:
                out.append(Scored(clean, score, "other", None))
        return out
