"""The recall index: BM25 over decrypted messages and memories, in memory only, updated in place.

Why not `bm25s` itself: its index is a sparse matrix built once from a whole corpus, with no way
to add or remove a document, and the recall index must follow every new message, edit and
deletion. This module keeps an inverted index that grows and shrinks in place and scores with
exactly bm25s's default ("lucene") BM25, with its tokenisation (lowercase, `\\b\\w\\w+\\b`), its
extended English stop-word list and a stemmer (Snowball English through PyStemmer, after a
small table of irregular forms, so "Where did I grow up?" finds "I grew up in Charleston" and
"where did I leave my keys" finds "I left my keys ..."); `tests/memory/test_store_recall.py`
checks the scores against bm25s, given the same stemmer, on a static corpus. The index is never
written anywhere: it lives and dies with the unlocked store.

Layout: documents occupy slots; each term has a posting list (`array` of slot numbers and
term frequencies, appended in place and scored as zero-copy numpy views). A removed document's
slot is marked dead (its postings are skipped by a mask) and the lists are compacted once dead
slots outnumber live ones. Not thread-safe on its own; the store serialises access.

Recall by meaning: a slot may also hold a sentence vector (`memory.embed`, unit length, given by
the store); `search(..., query_vector=q)` then ranks the slots twice, by BM25 and by cosine
similarity (those at least `min_similarity`), and fuses the two rankings by reciprocal rank
fusion (Cormack et al. 2009: score = sum over rankings of 1 / (RRF_K + rank)), so a paraphrase
that shares no word with the question is found, and a literal match still ranks first. Without a
query vector (no model installed) the ranking is BM25 alone, as before.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from memory.records import Snippet

TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")
KINDS = ("message", "memory")
_COMPACT_MIN_SLOTS = 4096
RRF_K = 60  # reciprocal rank fusion's constant (the paper's value)
CANDIDATES = 50  # how far down each ranking fusion looks (at least k)
MIN_SIMILARITY = 0.35  # cosine below which a vector match is not a candidate (see `assistant.bench.meaning`)

Key = tuple[str, int]


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """bm25s's extended English stop-word list (chat questions are mostly stop words)."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


# Irregular forms a personal fact is told or asked with, by base form (Snowball leaves them apart).
_IRREGULAR_FORMS = {
    "grow": "grew grown", "go": "went gone", "leave": "left", "buy": "bought", "teach": "taught",
    "meet": "met", "forget": "forgot forgotten", "give": "gave given", "get": "got gotten",
    "make": "made", "take": "took taken", "begin": "began begun", "drive": "drove driven",
    "write": "wrote written", "speak": "spoke spoken", "see": "saw seen", "know": "knew known",
    "tell": "told", "say": "said", "find": "found", "think": "thought", "bring": "brought",
    "keep": "kept", "lose": "lost", "sell": "sold", "send": "sent", "spend": "spent", "build": "built",
    "feel": "felt", "hold": "held", "run": "ran", "sit": "sat", "stand": "stood", "win": "won",
    "wear": "wore worn", "eat": "ate eaten", "drink": "drank drunk", "fly": "flew flown",
    "ride": "rode ridden", "swim": "swam swum", "sing": "sang sung", "break": "broke broken",
    "choose": "chose chosen", "fall": "fell fallen", "hide": "hid hidden", "pay": "paid",
    "lend": "lent", "sleep": "slept", "wake": "woke woken", "draw": "drew drawn", "throw": "threw thrown",
    "catch": "caught", "fight": "fought", "mean": "meant", "steal": "stole stolen", "understand": "understood",
    "child": "children", "wife": "wives", "man": "men", "woman": "women", "person": "people",
}  # fmt: skip
IRREGULAR = {form: base for base, forms in _IRREGULAR_FORMS.items() for form in forms.split()}


@lru_cache(maxsize=1)
def _snowball():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """The index term of a lowercased word: its base form if irregular, then its Snowball stem."""
    return _snowball().stemWord(IRREGULAR.get(word, word))


def tokenize(text: str) -> list[str]:
    """Index terms: lowercased word tokens of two or more characters, stop words removed, stemmed."""
    stop = stopwords()
    return [stem(token) for token in TOKEN_PATTERN.findall(text.lower()) if token not in stop]


class RecallIndex:
    """An incrementally updated BM25 index (Lucene variant: k1=1.5, b=0.75 by default)."""

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._reset()

    def _reset(self) -> None:
        self._vocab: dict[str, int] = {}
        self._post_slots: list[array] = []  # per term: slot numbers (int32)
        self._post_tf: list[array] = []  # per term: term frequencies (float32)
        self._df: list[int] = []  # per term: live documents containing it
        self._doc_len = array("f")  # per slot
        self._alive = np.zeros(1024, dtype=bool)  # per slot
        self._kind = np.zeros(1024, dtype=np.uint8)  # per slot: index into KINDS
        self._keys: list[Key | None] = []  # per slot
        self._texts: list[str] = []  # per slot
        self._conv: list[int | None] = []  # per slot
        self._role = np.zeros(1024, dtype=np.int32)  # per slot: a message's role, as an index into _roles
        self._roles: list[str | None] = [None]  # the roles seen ("user", "assistant" ...); 0: none given
        self._slot_of: dict[Key, int] = {}
        self._conv_slots: dict[int, set[int]] = {}
        self._vectors: np.ndarray | None = None  # per slot: its sentence vector (slots, dim), once one is given
        self._has_vector = np.zeros(1024, dtype=bool)  # per slot
        self._total_len = 0.0
        self._dead = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, key: object) -> bool:
        return key in self._slot_of

    # --- changes -------------------------------------------------------------------------------

    def add(
        self, key: Key, text: str, conversation_id: int | None = None, role: str | None = None,
        vector: np.ndarray | None = None,
    ) -> None:
        """Index `text` under `key` ("message" or "memory", id), replacing what was there; `role`:
        a message's role, for `search(roles=...)`; `vector`: its sentence vector, if known."""
        kind, _ = key
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if key in self._slot_of:
            self.remove(key)
        counts = Counter(tokenize(text))
        slot = len(self._keys)
        if slot >= len(self._alive):
            self._alive = np.concatenate([self._alive, np.zeros(len(self._alive), dtype=bool)])
            self._kind = np.concatenate([self._kind, np.zeros(len(self._kind), dtype=np.uint8)])
            self._role = np.concatenate([self._role, np.zeros(len(self._role), dtype=np.int32)])
            self._has_vector = np.concatenate([self._has_vector, np.zeros(len(self._has_vector), dtype=bool)])
        self._alive[slot] = True
        self._kind[slot] = KINDS.index(kind)
        self._keys.append(key)
        self._texts.append(text)
        self._conv.append(conversation_id)
        if role not in self._roles:
            self._roles.append(role)
        self._role[slot] = self._roles.index(role)
        length = float(sum(counts.values()))
        self._doc_len.append(length)
        self._total_len += length
        self._slot_of[key] = slot
        if conversation_id is not None:
            self._conv_slots.setdefault(conversation_id, set()).add(slot)
        vocab = self._vocab
        for term, tf in counts.items():
            term_id = vocab.get(term)
            if term_id is None:
                term_id = vocab[term] = len(vocab)
                self._post_slots.append(array("i"))
                self._post_tf.append(array("f"))
                self._df.append(0)
            self._post_slots[term_id].append(slot)
            self._post_tf[term_id].append(tf)
            self._df[term_id] += 1
        if vector is not None:
            self._put_vector(slot, vector)

    def _put_vector(self, slot: int, vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if self._vectors is None or self._vectors.shape[1] != len(vector):
            self._vectors = np.zeros((len(self._has_vector), len(vector)), dtype=np.float32)
            self._has_vector[:] = False  # vectors of another size (another model) are dropped
        if len(self._vectors) < len(self._has_vector):
            grown = np.zeros((len(self._has_vector), self._vectors.shape[1]), dtype=np.float32)
            grown[: len(self._vectors)] = self._vectors
            self._vectors = grown
        self._vectors[slot] = vector
        self._has_vector[slot] = True

    def set_vector(self, key: Key, vector: np.ndarray) -> None:
        """Give the document under `key` its sentence vector (ignored if it is not indexed)."""
        slot = self._slot_of.get(key)
        if slot is not None:
            self._put_vector(slot, vector)

    def has_vector(self, key: Key) -> bool:
        """Whether the document under `key` has a sentence vector."""
        slot = self._slot_of.get(key)
        return slot is not None and bool(self._has_vector[slot])

    def text(self, key: Key) -> str | None:
        """The indexed text under `key` (None if it is not indexed)."""
        slot = self._slot_of.get(key)
        return None if slot is None else self._texts[slot]

    def keys(self) -> list[Key]:
        """Every indexed key."""
        return list(self._slot_of)

    def add_many(self, items: Iterable[tuple[Key, str, int | None]]) -> None:
        """Index many (key, text, conversation id) triples."""
        for key, text, conversation_id in items:
            self.add(key, text, conversation_id)

    def remove(self, key: Key) -> None:
        """Forget the document under `key` (no error if it is not indexed)."""
        slot = self._slot_of.pop(key, None)
        if slot is None:
            return
        for term in set(tokenize(self._texts[slot])):
            self._df[self._vocab[term]] -= 1
        self._alive[slot] = False
        self._has_vector[slot] = False
        if self._vectors is not None:
            self._vectors[slot] = 0.0  # the vector is as sensitive as the text: not kept after removal
        self._total_len -= self._doc_len[slot]
        conversation_id = self._conv[slot]
        if conversation_id is not None:
            slots = self._conv_slots.get(conversation_id)
            if slots is not None:
                slots.discard(slot)
                if not slots:
                    del self._conv_slots[conversation_id]
        self._keys[slot] = None
        self._texts[slot] = ""
        self._dead += 1
        if self._dead > _COMPACT_MIN_SLOTS and self._dead > len(self._slot_of):
            self.compact()

    def compact(self) -> None:
        """Rebuild the posting lists without the dead slots."""
        live = [
            (key, self._texts[slot], self._conv[slot], self._roles[self._role[slot]],
             self._vectors[slot].copy() if self._vectors is not None and self._has_vector[slot] else None)
            for slot, key in enumerate(self._keys)
            if key is not None
        ]
        self._reset()
        for key, text, conversation_id, role, vector in live:
            self.add(key, text, conversation_id, role, vector)

    # --- queries -------------------------------------------------------------------------------

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every slot for `query` (dead slots score 0). Shape: (slots,)."""
        n_slots = len(self._keys)
        scores = np.zeros(n_slots, dtype=np.float32)
        n_docs = len(self._slot_of)
        if n_docs == 0 or self._total_len <= 0:
            return scores
        avgdl = self._total_len / n_docs
        doc_len = np.frombuffer(self._doc_len, dtype=np.float32)
        terms = {self._vocab[t] for t in tokenize(query) if t in self._vocab}
        k1, b = self.k1, self.b
        for term_id in terms:
            df = self._df[term_id]
            if df <= 0:
                continue
            idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
            slots = np.frombuffer(self._post_slots[term_id], dtype=np.int32)
            tf = np.frombuffer(self._post_tf[term_id], dtype=np.float32)
            norm = k1 * (1.0 - b + b * doc_len[slots] / avgdl)
            scores[slots] += np.float32(idf) * tf / (tf + norm)
        if self._dead:
            scores[~self._alive[:n_slots]] = 0.0
        return scores

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        exclude_conversation: int | None = None,
        kinds: Iterable[str] | None = None,
        roles: Iterable[str] | None = None,
        query_vector: np.ndarray | None = None,
        min_similarity: float = MIN_SIMILARITY,
    ) -> list[Snippet]:
        """The `k` best documents for `query`, best first: by BM25 (score > 0), or, given
        `query_vector`, by BM25 and cosine similarity fused (see the module's docstring; the
        score is then the fused one).

        `roles` keeps only the messages of those roles (memories are kept whatever it says)."""
        if k <= 0:
            return []
        scores = self.scores(query)
        allowed = self._allowed(len(scores), exclude_conversation, kinds, roles)
        scores[~allowed] = 0.0
        if query_vector is not None and self._vectors is not None:
            scores = self._fused(scores, allowed, np.asarray(query_vector, dtype=np.float32), k, min_similarity)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        order = sorted(hits.tolist(), key=lambda slot: (-float(scores[slot]), slot))
        results = []
        for slot in order:
            kind, ident = self._keys[slot]  # type: ignore[misc]
            results.append(
                Snippet(kind=kind, id=ident, text=self._texts[slot], score=float(scores[slot]), conversation_id=self._conv[slot])
            )
        return results

    def _allowed(
        self, n: int, exclude_conversation: int | None, kinds: Iterable[str] | None, roles: Iterable[str] | None
    ) -> np.ndarray:
        """(n,) bool: the live slots that the filters keep."""
        allowed = self._alive[:n].copy()
        if exclude_conversation is not None and exclude_conversation in self._conv_slots:
            allowed[list(self._conv_slots[exclude_conversation])] = False
        if kinds is not None:
            wanted = [KINDS.index(kind) for kind in kinds]
            allowed &= np.isin(self._kind[:n], wanted)
        if roles is not None:
            kept = [self._roles.index(role) for role in roles if role in self._roles]
            allowed &= ~((self._kind[:n] == KINDS.index("message")) & ~np.isin(self._role[:n], kept))
        return allowed

    def similarities(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of every slot's vector to `query_vector` (slots without one: -1). Shape: (slots,)."""
        n = len(self._keys)
        if self._vectors is None:
            return np.full(n, -1.0, dtype=np.float32)
        from memory.embed import one_blas_thread

        m = min(n, len(self._vectors))  # slots added since the last vector have none
        sims = np.full(n, -1.0, dtype=np.float32)
        with one_blas_thread():  # a matrix-vector product gains nothing from threads that may spin
            sims[:m] = self._vectors[:m] @ np.asarray(query_vector, dtype=np.float32)
        sims[~self._has_vector[:n]] = -1.0
        return sims

    def _fused(self, bm25: np.ndarray, allowed: np.ndarray, query_vector: np.ndarray, k: int, floor: float) -> np.ndarray:
        """Reciprocal rank fusion of the BM25 ranking and the cosine ranking, per slot (0: in neither)."""
        depth = max(k, CANDIDATES)
        fused = np.zeros_like(bm25)
        for scores, keep in ((bm25, bm25 > 0), (self.similarities(query_vector), None)):
            if keep is None:
                keep = allowed & (scores >= floor)
            candidates = np.flatnonzero(keep)
            if len(candidates) > depth:
                candidates = candidates[np.argpartition(-scores[candidates], depth - 1)[:depth]]
            ranked = sorted(candidates.tolist(), key=lambda slot: (-float(scores[slot]), slot))
            fused[ranked] += 1.0 / (RRF_K + 1 + np.arange(len(ranked), dtype=np.float32))
        return fused
