"""The recall index: bm25s's scores, updated in place, fast at 100K messages, wired to the store."""

from __future__ import annotations

import random

import numpy as np
import pytest

from assistant.bench.store import Corpus
from memory.recall import RecallIndex, stem, stopwords, tokenize

WORDS = (
    "Lisbon Porto tea coffee green black cat dog garden rain sunny spring winter trip train flight "
    "sister brother birthday cake guitar piano book novel Austen python code bug test deploy "
    "grew grow grown lives living lived left leave children child "
    "I you the and what did say about is it my we that in of to a"
).split()


def random_corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 15))) + rng.choice(["", ".", "!?"]) for _ in range(n)]


def bm25s_scores(corpus: list[str], query: str) -> np.ndarray:
    import bm25s

    stop = sorted(stopwords())
    retriever = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    tokens = bm25s.tokenize(corpus, stopwords=stop, stemmer=lambda words: [stem(w) for w in words], return_ids=False, show_progress=False)
    retriever.index(tokens, show_progress=False)
    query_tokens = [t for t in dict.fromkeys(tokenize(query)) if t in retriever.vocab_dict]
    if not query_tokens:
        return np.zeros(len(corpus), dtype=np.float32)
    return retriever.get_scores(query_tokens)


QUERIES = ["what did I say about Lisbon?", "green tea", "sister birthday cake piano", "python bug", "the and of",
           "where did I grow up", "where did I leave the children"]


@pytest.mark.parametrize("query", QUERIES)
def test_scores_equal_bm25s_on_a_static_corpus(query):
    corpus = random_corpus(300, seed=1)
    index = RecallIndex()
    for n, text in enumerate(corpus):
        index.add(("message", n), text)
    np.testing.assert_allclose(index.scores(query), bm25s_scores(corpus, query), rtol=1e-5, atol=1e-6)


def test_scores_still_equal_bm25s_after_removals_edits_and_compaction(monkeypatch):
    import memory.recall as recall_module

    monkeypatch.setattr(recall_module, "_COMPACT_MIN_SLOTS", 10)
    corpus = dict(enumerate(random_corpus(200, seed=2)))
    index = RecallIndex()
    for n, text in corpus.items():
        index.add(("message", n), text)
    rng = random.Random(3)
    for n in rng.sample(sorted(corpus), 150):  # enough removals to trigger compaction
        index.remove(("message", n))
        del corpus[n]
    extra = random_corpus(30, seed=4)
    for n, text in enumerate(extra, start=1000):
        index.add(("message", n), text)
        corpus[n] = text
    for n in list(corpus)[:10]:  # edits replace the text under the same key
        corpus[n] = "Lisbon " + corpus[n]
        index.add(("message", n), corpus[n])
    assert len(index) == len(corpus)
    keys = sorted(corpus)
    for query in QUERIES:
        expected = bm25s_scores([corpus[k] for k in keys], query)
        got = {hit.id: hit.score for hit in index.search(query, k=len(keys))}
        np.testing.assert_allclose([got.get(k, 0.0) for k in keys], expected, rtol=1e-5, atol=1e-6)


def test_inflected_and_irregular_forms_find_each_other():
    index = RecallIndex()
    told = ["I grew up in Charleston.", "I left my keys in the blue bowl.", "My sister lives in Porto.", "My children love chess."]
    for n, text in enumerate(told):
        index.add(("message", n), text)
    for query, expected in [("Sorry, where did I grow up?", 0), ("where did I leave my keys", 1),
                            ("Where is my sister living now?", 2), ("What game does my child like?", 3)]:
        assert [hit.id for hit in index.search(query, 1)] == [expected], query


def test_search_returns_best_first_with_sources_and_filters():
    index = RecallIndex()
    index.add(("message", 1), "I am flying to Lisbon in May", 10)
    index.add(("message", 2), "Lisbon Lisbon Lisbon trip", 11)
    index.add(("memory", 3), "The user is moving to Lisbon", None)
    index.add(("message", 4), "nothing relevant", 11)
    hits = index.search("Lisbon trip", k=2)
    assert [(h.kind, h.id) for h in hits] == [("message", 2), ("message", 1)]  # ties: first indexed first
    assert hits[0].conversation_id == 11 and hits[0].text == "Lisbon Lisbon Lisbon trip"
    assert {h.id for h in index.search("Lisbon", k=5, exclude_conversation=11)} == {1, 3}
    assert [h.kind for h in index.search("Lisbon", k=5, kinds=["memory"])] == ["memory"]
    assert index.search("zzz unknown", k=5) == [] and index.search("Lisbon", k=0) == []


def test_recall_finds_the_one_telling_message_among_100k():
    """At issue 3's scale the right message still ranks first. (Its 50 ms latency target is a
    figure of `assistant bench store`, measured there, not timed here.)"""
    texts = Corpus(seed=5).messages(100_000)
    planted = {17: "my locksmith is called Ottoline Vasquez-Brandt", 99_123: "the spare key hides under the geranium pot"}
    index = RecallIndex()
    for n, text in enumerate(texts):
        index.add(("message", n), planted.get(n, text), n // 200)
    assert index.search("what is my locksmith called?", 3)[0].id == 17
    assert index.search("where does the spare key hide?", 3)[0].id == 99_123
    # and a planted message found by other words of its own, among 100K others
    assert index.search("Ottoline", 1)[0].id == 17 and index.search("geranium", 1)[0].id == 99_123


# --- wired to the store ------------------------------------------------------------------------


def test_store_recall_follows_messages_and_memories(store):
    conv = store.add_conversation()
    user, _ = store.add_turn(conv.id, "My sister's birthday is on the 4th of June", "Noted!")
    memory = store.add_memory("The user plays the cello")
    assert [(h.kind, h.id) for h in store.recall("when is my sister's birthday?", k=1)] == [("message", user.id)]
    later = store.add_message(conv.id, "user", "I also play the cello badly")  # after the index exists
    assert {h.id for h in store.recall("cello", k=5)} == {memory.id, later.id}
    store.edit_memory(memory.id, "The user plays the violin")
    assert [h.id for h in store.recall("cello", k=5)] == [later.id]
    store.update_message(later.id, text="I play the drums")
    assert store.recall("cello") == []
    store.delete_message(user.id)
    assert store.recall("sister birthday") == []
    store.delete_memory(memory.id)
    assert store.recall("violin") == []


def test_store_recall_can_leave_out_the_current_conversation(store):
    here = store.add_conversation()
    there = store.add_conversation()
    store.add_message(here.id, "user", "talking about gardens here")
    elsewhere = store.add_message(there.id, "user", "gardens elsewhere")
    assert [h.id for h in store.recall("gardens", exclude_conversation=here.id)] == [elsewhere.id]


def test_search_by_role_keeps_memories_and_the_roles_asked_for():
    index = RecallIndex()
    index.add(("message", 1), "my bicycle is green", 7, "user")
    index.add(("message", 2), "your bicycle is green", 7, "assistant")
    index.add(("memory", 3), "the bicycle lives in the shed")
    index.add(("message", 4), "bicycle without a role", 8)
    assert {h.id for h in index.search("bicycle", k=10, roles=["user"])} == {1, 3}
    assert {h.id for h in index.search("bicycle", k=10, roles=["nobody"])} == {3}
    assert {h.id for h in index.search("bicycle", k=10)} == {1, 2, 3, 4}
    index.remove(("message", 4))
    index.compact()  # roles survive a compaction
    assert {h.id for h in index.search("bicycle", k=10, roles=["assistant"])} == {2, 3}


def test_store_recall_by_role_leaves_out_the_assistants_replies(store):
    """The session's recall policy asks the store for the user's own statements only."""
    from tests.memory.store_helpers import PASSPHRASE

    conv = store.add_conversation()
    user, reply = store.add_turn(conv.id, "my locker is number 311", "your locker is number 311")
    memory = store.add_memory("the locker key is blue")
    expected = {("message", user.id), ("memory", memory.id)}
    assert {(h.kind, h.id) for h in store.recall("locker", 10, roles=["user"])} == expected
    store.lock()  # rebuilt from the rows on unlock: the roles come from the decrypted messages
    store.unlock(PASSPHRASE)
    assert {(h.kind, h.id) for h in store.recall("locker", 10, roles=["user"])} == expected
    assert ("message", reply.id) in {(h.kind, h.id) for h in store.recall("locker", 10)}


def test_deleting_a_conversation_empties_its_recall(store):
    conv = store.add_conversation()
    store.add_turn(conv.id, "quantum chromodynamics", "gluons")
    assert store.recall("gluons")
    store.delete_conversation(conv.id)
    assert store.recall("gluons") == [] and store.recall("quantum") == []


def test_writes_during_an_index_build_reach_the_new_index(store, monkeypatch):
    conv = store.add_conversation()
    store.add_message(conv.id, "user", "before the build: apples")
    original = type(store)._index_rows
    written = []

    def build_with_a_write_in_the_middle(self, *args):
        result = original(self, *args)
        written.append(store.add_message(conv.id, "user", "during the build: oranges"))
        return result

    monkeypatch.setattr(type(store), "_index_rows", build_with_a_write_in_the_middle)
    store.build_recall_index()
    assert [h.id for h in store.recall("oranges")] == [written[0].id]
    assert len(store.recall("apples")) == 1


def test_index_is_dropped_on_lock_and_rebuilt_on_unlock(store):
    from tests.memory.store_helpers import PASSPHRASE

    conv = store.add_conversation()
    store.add_message(conv.id, "user", "remember the lighthouse")
    assert store.recall("lighthouse")
    store.lock()
    assert store._index is None
    store.unlock(PASSPHRASE)
    assert store.recall("lighthouse")
