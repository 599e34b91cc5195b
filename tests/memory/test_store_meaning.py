"""Recall by meaning: sentence vectors sealed in the store, fused with BM25, forgotten with their text."""

from __future__ import annotations

import hashlib
import logging
import os

import numpy as np
import pytest

from memory import embed
from memory.recall import RecallIndex
from memory.store import Store
from tests.memory.store_helpers import embedding_model_installed, reopen, scan

# A toy embedder: words of one concept share an axis, so "Which town is home for me?" is close to
# "I grew up in Charleston" though they share no word; other words add a little hashed noise.
_CONCEPTS = {
    "charleston": 0, "town": 0, "home": 0, "grew": 0,
    "biscuit": 1, "pet": 1, "dog": 1,
    "veterinarian": 2, "animals": 2,
}  # fmt: skip
_DIM = 16


class ToyEmbedder:
    name = "toy"
    dim = _DIM

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), _DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace("?", " ").replace(".", " ").split():
                if word in _CONCEPTS:
                    out[i, _CONCEPTS[word]] += 1.0
                else:
                    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
                    out[i, 3 + seed % (_DIM - 3)] += 0.3
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-6)
        return out


def vector_rows(s: Store) -> dict[str, bytes]:
    return dict(s._db.conn.execute("SELECT id, blob FROM vectors").fetchall())


@pytest.fixture
def toy(store: Store) -> ToyEmbedder:
    embedder = ToyEmbedder()
    store.use_embedder(embedder)
    store.fill_in_background = False
    return embedder


def test_fused_search_finds_a_paraphrase_that_bm25_misses():
    index = RecallIndex()
    toy = ToyEmbedder()
    texts = ["I grew up in Charleston", "I had pasta for dinner", "The train was late again"]
    for i, (text, vector) in enumerate(zip(texts, toy.embed(texts), strict=True)):
        index.add(("message", i), text, None, "user", vector)
    question = "Which town is home for me?"
    assert index.search(question, 3) == []  # no shared word
    (hit, *_) = index.search(question, 3, query_vector=toy.embed([question])[0])
    assert hit.id == 0


def test_fusion_keeps_a_literal_match_first():
    index = RecallIndex()
    toy = ToyEmbedder()
    texts = ["My dog is called Biscuit", "I grew up in Charleston", "The dog park was busy"]
    for i, (text, vector) in enumerate(zip(texts, toy.embed(texts), strict=True)):
        index.add(("message", i), text, None, "user", vector)
    query = "what is my dog called?"
    assert index.search(query, 1, query_vector=toy.embed([query])[0])[0].id == 0


def test_store_recall_fuses_when_an_embedder_is_in_use(store, toy):
    conv = store.add_conversation("t")
    user, _ = store.add_turn(conv.id, "I grew up in Charleston", "Nice!")
    store.add_turn(conv.id, "I had pasta for dinner", "Yum.")
    hits = store.recall("Which town is home for me?", 2)
    assert hits and hits[0].id == user.id
    store.use_embedder(None)
    assert store.recall("Which town is home for me?", 2) == []


def test_each_vector_is_sealed_and_never_in_the_files_in_plaintext(store, toy):
    conv = store.add_conversation("t")
    user, reply = store.add_turn(conv.id, "My dog is called Biscuit", "Lovely")
    memory = store.add_memory("I grew up in Charleston")
    vectors = toy.embed(["My dog is called Biscuit", "I grew up in Charleston"])
    rows = vector_rows(store)
    assert set(rows) == {f"message:{user.id}", f"message:{reply.id}", f"memory:{memory.id}"}
    for blob in rows.values():
        assert vectors[0].tobytes() not in blob and vectors[1].tobytes() not in blob
    directory = store.directory
    store.close()
    patterns = {}
    for v in vectors:
        for dtype in ("<f4", "<f2", "<f8"):
            # a run of 4 components, so a match cannot be chance
            patterns[np.asarray(v[:4], dtype=dtype).tobytes()] = f"vector ({dtype})"
    assert scan([directory], patterns) == []


def test_deleting_a_memory_deletes_its_vector(store, toy):
    memory = store.add_memory("I grew up in Charleston")
    other = store.add_memory("My dog is called Biscuit")
    assert f"memory:{memory.id}" in vector_rows(store)
    store.delete_memory(memory.id)
    assert set(vector_rows(store)) == {f"memory:{other.id}"}
    assert all(h.id != memory.id for h in store.recall("Which town is home for me?", 3))


def test_deleting_messages_and_conversations_deletes_their_vectors(store, toy):
    conv = store.add_conversation("t")
    user, reply = store.add_turn(conv.id, "I grew up in Charleston", "Nice!")
    other = store.add_conversation("u")
    kept, kept_reply = store.add_turn(other.id, "My dog is called Biscuit", "Cute")
    store.delete_message(user.id)
    assert f"message:{user.id}" not in vector_rows(store) and f"message:{reply.id}" in vector_rows(store)
    store.delete_conversation(conv.id)
    assert set(vector_rows(store)) == {f"message:{kept.id}", f"message:{kept_reply.id}"}
    assert store.verify() == [] and store.check_integrity() == []


def test_editing_a_memory_replaces_its_vector(store, toy):
    memory = store.add_memory("I grew up in Charleston")
    store.recall("warm", 1)  # the index is built
    store.edit_memory(memory.id, "My dog is called Biscuit")
    (hit, *_) = store.recall("what pet do I have?", 1)
    assert hit.id == memory.id
    store.use_embedder(None)
    store.edit_memory(memory.id, "I grew up in Charleston")
    assert f"memory:{memory.id}" not in vector_rows(store)  # a stale vector is not kept


def test_vectors_are_opened_from_the_store_after_reopening_not_recomputed(store, toy):
    conv = store.add_conversation("t")
    user, _ = store.add_turn(conv.id, "I grew up in Charleston", "Nice!")
    fresh = reopen(store)
    try:
        again = ToyEmbedder()
        fresh.use_embedder(again)
        fresh.fill_in_background = False
        hits = fresh.recall("Which town is home for me?", 1)
        assert hits[0].id == user.id and again.calls == 1  # the query only
    finally:
        fresh.close()


def test_texts_written_without_an_embedder_get_vectors_later(store):
    conv = store.add_conversation("t")
    user, _ = store.add_turn(conv.id, "I grew up in Charleston", "Nice!")
    assert vector_rows(store) == {}
    store.use_embedder(ToyEmbedder())
    store.fill_in_background = False
    store.build_recall_index()
    assert store.fill_vectors() == 2
    assert set(vector_rows(store)) >= {f"message:{user.id}"}
    assert store.recall("Which town is home for me?", 1)[0].id == user.id


def test_missing_weights_fall_back_to_bm25_with_one_notice(store, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(embed.EMBED_ENV, str(tmp_path / "nowhere"))
    store.use_embedder(embed.load_default_embedder)
    conv = store.add_conversation("t")
    with caplog.at_level(logging.WARNING):
        user, _ = store.add_turn(conv.id, "I grew up in Charleston", "Nice!")
        assert [h.id for h in store.recall("where did I grow up?", 1)] == [user.id]
        assert store.recall("Which town is home for me?", 1) == []
    notices = [r.getMessage() for r in caplog.records if "recall by meaning is off" in r.getMessage()]
    assert len(notices) == 1 and "\n" not in notices[0]


def test_a_damaged_vector_is_left_out_and_dropped_by_repair(store, toy):
    memory = store.add_memory("I grew up in Charleston")
    key = f"memory:{memory.id}"
    store._db.conn.execute("UPDATE vectors SET blob = ? WHERE id = ?", [b"\x01" + bytes(60), key])
    bad = [r for r in store.verify() if r.table == "vectors"]
    assert [r.row for r in bad] == [key]
    store.drop_damaged(bad)
    assert key not in vector_rows(store)


@pytest.mark.skipif(not embedding_model_installed() and not os.environ.get("CI"), reason="the embedding model is not installed (make source)")
def test_the_shipped_model_finds_a_paraphrase_bm25_misses(store):
    store.use_embedder(embed.load_default_embedder)
    store.fill_in_background = False
    conv = store.add_conversation("t")
    home, _ = store.add_turn(conv.id, "I grew up in Charleston", "Lovely place.")
    for text in ("I had pasta for dinner.", "The train was late again.", "My sister is a veterinarian."):
        store.add_turn(conv.id, text, "I see.")
    question = "Where did I spend my childhood?"  # no word in common with the statement
    store.use_embedder(None)
    assert store.recall(question, 3, roles=["user"]) == []
    store.use_embedder(embed.load_default_embedder)
    assert store.recall(question, 1, roles=["user"])[0].id == home.id  # roles: as the recall policy asks



def test_texts_added_without_vectors_after_many_with_them_are_still_searchable():
    """Regression: the vector matrix grew only when a vector came, so a search over slots added
    later without one failed on mismatched shapes."""
    index = RecallIndex()
    toy = ToyEmbedder()
    index.add(("message", 0), "I grew up in Charleston", None, "user", toy.embed(["I grew up in Charleston"])[0])
    for i in range(1, 3000):
        index.add(("message", i), f"note number {i}", None, "user")
    question = "Which town is home for me?"
    assert index.search(question, 1, query_vector=toy.embed([question])[0])[0].id == 0


def test_query_vectors_are_kept_for_a_repeated_query_and_forgotten_at_lock(store, toy):
    store.add_memory("I grew up in Charleston")
    before = toy.calls
    store.recall("Which town is home for me?", 1)
    store.recall("Which town is home for me?", 4)
    assert toy.calls == before + 1
    store.lock()
    assert "_query_vectors" not in store.__dict__
