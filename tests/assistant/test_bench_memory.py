"""`assistant bench memory` (issue 17): personas shaped like LongMemEval, questions that share no
content word with what was said, figures computed from what the session put in the block and
replied, and one small run through the real session on the shipped model."""

from __future__ import annotations

import argparse
import json
import zlib
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.bench import learning as learning_bench
from assistant.bench import memory as bench
from assistant.bench import memory_personas as script
from core.training import dialogues
from memory.recall import tokenize
from ui.commands import bench as bench_command


class _TrigramEmbedder:
    """A cheap stand-in for the sentence model: hashed character trigrams, unit length."""

    name = "trigram-test"

    def embed(self, texts):
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for i in range(len(padded) - 2):
                out[row, zlib.crc32(padded[i : i + 3].encode()) % 64] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)


def _record(kind, expected, block, reply, stale=None):
    return {"question": "?", "kind": kind, "slot": "s", "expected": expected, "stale": stale, "block": block, "reply": reply}


def test_no_question_shares_a_content_word_with_any_statement_of_its_fact():
    assert script.check_pools() == []
    for persona in script.personas(quick=False) + script.personas(quick=True):
        for question in persona.questions:
            assert tokenize(question.text), question.text  # not vacuous: every question has content words
            for said in question.said:
                assert script.shared_words(question.text, said) == set(), (question.text, said)


def test_the_shared_word_check_sees_stems_and_irregular_forms():
    assert script.shared_words("Where did I grow up?", "I grew up in Ghent.") == {"grow"}
    assert script.shared_words("Which town is home for me?", "I live in Ghent.") == set()


def test_full_personas_tell_over_ten_conversations_update_a_third_and_ask_in_three_kinds():
    for persona in script.personas(quick=False):
        firsts = [t for t in persona.told if t.supersedes is None]
        updates = [t for t in persona.told if t.supersedes is not None]
        assert len(persona.conversations) >= 10 and len(firsts) >= 10
        assert len(updates) == round(len(firsts) / 3)
        assert all(sum(turn.told is not None for turn in conv) == 1 for conv in persona.conversations)
        told_order = [turn.told for conv in persona.conversations for turn in conv if turn.told]
        assert all(t.supersedes is None for t in told_order[: len(firsts)])  # updates come later
        kinds = [q.kind for q in persona.questions]
        assert kinds.count("current") == len(firsts) and kinds.count("past") == len(updates) and kinds.count("absent") >= 3
        told_slots = {t.slot for t in persona.told}
        assert all(q.slot not in told_slots for q in persona.questions if q.kind == "absent")
        assert all(q.text.endswith("?") for q in persona.questions)
        stale = {q.slot: q.stale for q in persona.questions if q.kind == "current" and q.stale}
        assert stale == {t.slot: t.supersedes for t in updates}
    assert script.personas(quick=False)[0].questions == script.personas(quick=False)[0].questions  # reproducible


def test_the_pools_are_the_benchs_own_not_the_learning_benchs_or_the_training_dialogues():
    mine = {t for slot in script.SLOTS for t in slot.tell + slot.update + slot.ask + slot.ask_past}
    trained = {t for row in dialogues.FACTS for t in row.tell + row.ask + row.note}
    assert not mine & trained
    assert not mine & set(learning_bench.STYLE_TEMPLATES + learning_bench.UNSEEN_TEMPLATES)
    assert not set(script.FILLERS) & {u for users, _ in dialogues.EXCHANGES.values() for u in users}


def test_scoring_counts_hits_stale_rankings_stale_answers_and_inventions():
    records = [
        _record("current", "Bergen", ["I live in Bergen."], "You live in Bergen."),
        _record("current", "Porto", ["I live in Graz.", "I moved to Porto."], "Graz.", stale="Graz"),
        _record("current", "Mochi", [], "I don't know."),
        _record("past", "Graz", ["I live in Graz."], "It was Graz."),
        _record("absent", None, [], "I don't know, you haven't told me."),
        _record("absent", None, [], "Your dentist is Dr Novak."),
    ]
    figures = bench.score(records)
    assert figures["hit_at_k"] == round(2 / 3, 4)
    assert figures["past_in_block"] == 1.0
    assert figures["stale_rate"] == 1.0  # Graz ranked above Porto
    assert figures["correct"] == 0.5 and figures["correct_current"] == round(1 / 3, 4) and figures["correct_past"] == 1.0
    assert figures["stale_answers"] == 1.0
    assert figures["invented"] == 0.5
    assert figures["questions"] == {"current": 3, "updated": 1, "past": 1, "absent": 2}


def test_a_value_matches_whole_words_only_whatever_the_case_and_punctuation():
    assert bench.holds("It leaves at 7:40!", "7:40")
    assert bench.holds("BRIGHTWATER foods, I think", "Brightwater Foods")
    assert not bench.holds("Grazing cows", "Graz")


def test_extraction_precision_and_recall_from_a_detector():
    persona = script.make_persona(3, 3, 1)
    said = {t.text: t for t in persona.told}
    small_talk = next(turn.text for conv in persona.conversations for turn in conv if turn.told is None)
    missed = persona.told[0].text

    def find(text):
        if text == small_talk:
            return [SimpleNamespace(text=text, slot="other", score=0.6)]
        if text in said and text != missed:
            return [SimpleNamespace(text=text, slot=said[text].slot, score=0.9)]
        return []

    figures = bench.extraction_figures([persona], find)
    statements = len(persona.told)
    flagged = sum(turn.text == small_talk for conv in persona.conversations for turn in conv)  # small talk repeats
    assert figures["recall"] == round((statements - 1) / statements, 4)
    assert figures["precision"] == round((statements - 1) / (statements - 1 + flagged), 4)
    assert figures["false_positives"] == flagged and figures["missed"] == 1
    updated = {t.slot for t in persona.told if t.supersedes is not None}
    assert figures["updates_same_slot"] == (0.0 if persona.told[0].slot in updated else 1.0)  # a missed original has no slot


def test_the_bench_command_knows_memory():
    parser = argparse.ArgumentParser()
    bench_command.add_arguments(parser)
    args = parser.parse_args(["memory", "--json", "--quick"])
    assert args.kind == "memory" and args.json and args.quick


@pytest.mark.timeout(120)
def test_a_persona_that_told_nothing_gets_retrieval_misses(tmp_path):
    """Figures come from what the block held: with the statements left out of the script, no
    current question finds its fact (and the run still answers every question)."""
    persona = script.make_persona(4, 1, 0)
    silent = script.Persona("silent", [], persona.questions, [])
    run = bench.run_persona(silent, None, tmp_path / "home", max_tokens=2, seeded=True,
                            embedder=lambda: _TrigramEmbedder(), log=lambda m: None)
    assert run["passes"] == ["fused", "bm25"] and run["memories"] == 0
    for records in run["records"].values():
        assert len(records) == len(persona.questions)
        assert bench.score(records)["hit_at_k"] == 0.0
        assert not any(bench.holds(s, r["expected"]) for r in records for s in r["block"])


@pytest.mark.timeout(120)
def test_a_small_run_through_the_session_reports_fused_and_bm25_figures(tmp_path, capsys):
    persona = script.make_persona(5, 1, 1, fillers=0)  # told, updated, asked three ways: 8 replies in all
    report = bench.measure([persona], None, tmp_path, max_tokens=2, embedder=lambda: _TrigramEmbedder(), log=lambda m: None)
    assert report["fused_available"] and report["embedder"].startswith("trigram-test")
    assert report["recall"]["fused"] and report["recall"]["bm25"]
    assert report["extraction"]["available"] == (bench.load_detector()[0] is not None)
    assert report["updates"] == 1 and report["k"] == 3
    if not report["extraction"]["available"]:
        assert report["superseded"] == 1.0  # the seeded memories are superseded by slot in the session
        assert report["kept_from_questions"] == 0
    main = report["recall"]["fused"] or report["recall"]["bm25"]
    assert main["questions"] == {"current": 1, "updated": 1, "past": 1, "absent": 1}
    measured = ("hit_at_k", "past_in_block", "stale_rate", "correct", "stale_answers", "invented")
    assert all(main[key] is not None for key in measured)
    assert set(report["meets"]) == set(bench.TARGETS)
    json.dumps(report)
    bench.print_report({**report, "model": "shipped", "quick": True})
    out = capsys.readouterr().out
    assert "current fact in the block" in out and "bm25 only" in out
