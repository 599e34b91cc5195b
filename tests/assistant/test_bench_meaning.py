"""`python -m assistant.bench.meaning`: the paraphrase set and its scoring."""

from __future__ import annotations

from assistant.bench.meaning import hits_at, paraphrase_items
from memory.recall import tokenize


def test_every_paraphrase_question_shares_no_index_term_with_its_statement():
    items = paraphrase_items()
    assert len(items) >= 100
    assert all(not set(tokenize(s)) & set(tokenize(q)) for s, q in items)


def test_a_hit_is_any_right_statement_among_the_first_k():
    assert hits_at([[4, 2, 9], [1, 5, 6]], [{2}, {7}], (1, 3)) == {"hit@1": 0.0, "hit@3": 0.5}
