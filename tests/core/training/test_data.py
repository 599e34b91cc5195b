"""The corpus build: cleaning, rendering, splits, determinism, and the held-out memory cases."""

from __future__ import annotations

import json
import random
import re
import struct

import pytest

from core.template import MEMORY, ROLE_TOKENS
from core.training import dialogues
from core.training.data import CorpusError, build_corpus, check_rendered, clean_dialogue, clean_document, corpus_words, read_jsonl
from core.training.sources import SOURCES, Source, _RReader, parse_chatterbot_yaml

WORDS = "the quick brown fox jumps over a lazy dog while rain falls softly on old roofs".split()


def _fixture_sources() -> dict[str, Source]:
    """Two tiny sources: prose (with a duplicate, a too-short entry and dirt) and dialogues."""

    def prose():  # a --quick build reads the first 60 of each source
        yield "Document x.\x07 duplicate"
        yield "Document x.\x07  Duplicate"
        yield "tiny"
        yield "Forged <|assistant|>turn inside a document that is long enough."
        for i in range(56):
            words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(20 + i % 30)]
            yield f"Document {i}.\x07 " + " ".join(words) + "\t\tend."

    def chats():
        yield [("assistant", "only one side")]
        for i in range(59):
            yield [("user", f"hello number {i}"), ("user", "are you there?"), ("assistant", f"yes, hi {i}"), ("user", "bye")]

    return {
        "prose": Source("prose", "CC0", "fixture", "text", prose, lambda: True),
        "chats": Source("chats", "CC0", "fixture", "dialogue", chats, lambda: True),
        "absent": Source("absent", "CC0", "not installed", "text", lambda: iter(()), lambda: False),
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    manifest = build_corpus(out, seed=3, quick=True, sources=_fixture_sources(), progress=False)
    return out, manifest


def _texts(path):
    return [row["text"] for row in read_jsonl(path)]


def test_build_writes_every_file(built):
    out, manifest = built
    for name in ("train.jsonl", "val.jsonl", "anchor.txt", "memory_eval.jsonl", "manifest.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["seed"] == 3 and manifest["build_version"] >= 1
    assert set(manifest["sources"]) == {"prose", "chats", "generated"}
    assert manifest["sources"]["prose"]["licence"] == "CC0"
    assert manifest["sources"]["prose"]["train"]["chars"] > 0


def test_missing_source_is_skipped_and_named(built):
    _, manifest = built
    assert "absent" in manifest["skipped"] and "not installed" in manifest["skipped"]["absent"]


def test_duplicates_and_short_documents_are_dropped(built):
    out, manifest = built
    assert manifest["sources"]["prose"]["dropped"] == {"duplicate": 1, "short": 1}
    assert manifest["sources"]["chats"]["dropped"] == {"short": 1}
    every = _texts(out / "train.jsonl") + _texts(out / "val.jsonl")
    assert len(every) == len(set(every))


def test_cleaning_strips_control_characters_tabs_and_role_tokens(built):
    out, _ = built
    prose = [r["text"] for r in read_jsonl(out / "train.jsonl") if r["source"] == "prose"]
    assert prose and not any("\x07" in t or "\t" in t or "  " in t for t in prose)
    assert not any(token in t for t in prose for token in ROLE_TOKENS)


def test_dialogue_turns_of_one_speaker_are_merged():
    assert clean_dialogue([("user", "a"), ("user", " b "), ("assistant", "c"), ("user", "")]) == [
        ("user", "a b"),
        ("assistant", "c"),
    ]
    assert clean_dialogue([("assistant", "first"), ("user", "q"), ("assistant", "a")])[0] == ("user", "q")


def test_clean_document_keeps_code_indentation():
    assert clean_document("def f():\n    return  1\r\n\n\n\nx") == "def f():\n    return 1\n\nx"


def test_every_rendered_dialogue_is_well_formed(built):
    out, _ = built
    rows = list(read_jsonl(out / "train.jsonl")) + list(read_jsonl(out / "val.jsonl"))
    dialogs = [r["text"] for r in rows if r["source"] in ("chats", "generated")]
    assert len(dialogs) > 50
    for text in dialogs:
        check_rendered(text)


def test_check_rendered_rejects_unbalanced_role_tokens():
    for bad in ("<|user|>hi", "<|user|>hi<|assistant|>yo<|end|>", "loose<|user|>hi<|end|>", "<|end|>"):
        with pytest.raises(CorpusError):
            check_rendered(bad)


def test_splits_are_disjoint_and_anchor_is_never_trained_on(built):
    out, manifest = built
    train, val = set(_texts(out / "train.jsonl")), set(_texts(out / "val.jsonl"))
    anchor = (out / "anchor.txt").read_text()
    assert train and val and anchor.strip()
    assert not train & val
    assert not any(text in anchor for text in train | val)
    assert manifest["splits"]["anchor"]["chars"] > 0


def test_anchor_has_no_memory_blocks_but_some_chat(built):
    out, _ = built
    anchor = (out / "anchor.txt").read_text()
    assert MEMORY not in anchor
    assert "<|user|>" in anchor


def test_build_is_deterministic_for_a_seed(built, tmp_path):
    out, manifest = built
    again = build_corpus(tmp_path / "again", seed=3, quick=True, sources=_fixture_sources(), progress=False)
    assert again["files"] == manifest["files"]
    other = build_corpus(tmp_path / "other", seed=4, quick=True, sources=_fixture_sources(), progress=False)
    assert other["files"]["train.jsonl"] != manifest["files"]["train.jsonl"]


def test_no_source_at_all_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no corpus source"):
        build_corpus(tmp_path, quick=True, sources={"absent": _fixture_sources()["absent"]}, progress=False)


def test_generated_dialogues_are_a_large_share(built):
    _, manifest = built
    share = manifest["sources"]["generated"]["share_of_train_val_chars"]
    assert 0.3 <= share <= 0.5  # dialogues at 30% of the text, plus drills at 15% of the training split
    assert set(manifest["generated_kinds"]) >= {"recall", "absent", "tell", "general"}


# --- generated dialogues and the held-out memory cases ----------------------------------------


def test_train_and_eval_value_lists_are_disjoint():
    train = {v.lower() for values in dialogues.TRAIN.lists().values() for v in values}
    evals = {v.lower() for values in dialogues.EVAL.lists().values() for v in values}
    assert evals and not train & evals


def test_dates_and_numbers_are_split_by_rule():
    import random

    rng = random.Random(0)
    train_dates = {dialogues.random_date(rng, dialogues.TRAIN) for _ in range(2000)}
    eval_dates = {dialogues.random_date(rng, dialogues.EVAL) for _ in range(2000)}
    assert not train_dates & eval_dates
    train_numbers = {dialogues.random_number(rng, dialogues.TRAIN, 3) for _ in range(2000)}
    eval_numbers = {dialogues.random_number(rng, dialogues.EVAL, 3) for _ in range(2000)}
    assert not train_numbers & eval_numbers


def test_every_fact_row_fills_all_its_slots_but_the_value():
    import random

    rng = random.Random(0)
    seen = set()
    for kind in dialogues.FACT_KINDS:
        for _ in range(60):  # enough for both forms of a kind told of the user or of someone else
            fact = dialogues.make_fact(rng, dialogues.TRAIN, kind)
            seen.add((kind, fact.key.endswith(":self")))
            for template in fact.tell + fact.note + fact.ask + fact.state + (fact.topic, fact.key):
                assert "{" not in template.replace("{v}", ""), (kind, template)
            assert all("{v}" in template for template in fact.tell + fact.note + fact.state)
    assert {("birthday", True), ("birthday", False), ("job", True), ("job", False)} <= seen


def test_generated_dialogues_are_reproducible():
    first = [(g.messages, g.memory) for g in dialogues.generate_dialogues(7, 50)]
    again = [(g.messages, g.memory) for g in dialogues.generate_dialogues(7, 50)]
    other = [(g.messages, g.memory) for g in dialogues.generate_dialogues(8, 50)]
    assert first == again and first != other


def test_recall_answers_copy_the_value_from_the_memory_block():
    recalls = [g for g in dialogues.generate_dialogues(1, 400) if g.kind == "recall"]
    assert recalls
    for g in recalls:
        value = g.facts[0].value
        assert any(value in note for note in g.memory)
        assert value in g.messages[-1][1]


def test_absent_answers_do_not_contain_the_value():
    absents = [g for g in dialogues.generate_dialogues(1, 400) if g.kind == "absent"]
    assert absents
    for g in absents:
        said = re.compile(rf"\b{re.escape(g.facts[0].value)}\b")  # as a word: "gold" is not in "goldfish"
        assert not any(said.search(note) for note in g.memory or [])
        assert not said.search(g.messages[-1][1])


def test_recall_drills_pack_one_block_per_question_and_copy_from_it():
    drills = list(dialogues.generate_drills(2, 60))
    assert drills == list(dialogues.generate_drills(2, 60)) and drills != list(dialogues.generate_drills(3, 60))
    segments = [g for drill in drills for g in drill]
    assert all(3 <= len(drill) <= 6 for drill in drills)
    assert {g.kind for g in segments} == {"drill:recall", "drill:absent"}
    for g in segments:
        assert [role for role, _ in g.messages] == ["user", "assistant"]
        value = g.facts[0].value
        if g.kind == "drill:recall":
            assert any(value in note for note in g.memory) and value in g.messages[-1][1]
        else:
            assert value not in g.messages[-1][1]


def test_corpus_words_keep_frequent_names_and_words_apart():
    text = "We met Mr Darcy at Pemberley. later, Darcy and Elizabeth walked to Pemberley with the happy dog. " * 3
    words = corpus_words([text, "the happy Dog slept"])
    assert "Darcy" in words.proper and "Pemberley" in words.proper and "Elizabeth" in words.proper
    assert "We" not in words.proper  # sentence-initial capitals say nothing
    assert "happy" in words.common and "walked" in words.common and "Dog" not in words.proper
    assert corpus_words([text]) == corpus_words([text])  # sorted: drills built from them are reproducible


def test_wide_drills_take_real_words_as_values_never_the_held_out_ones():
    evals = dialogues._eval_values()
    proper = tuple(f"Word{c}{d}".capitalize() for c in "abcdefghij" for d in "klmnopqrst") + tuple(sorted(evals))[:5]
    common = tuple(f"thing{c}{d}" for c in "abcdefghij" for d in "klmnopqrst")
    words = dialogues.WordLists(proper=tuple(w.capitalize() for w in proper), common=common)
    segments = [g for drill in dialogues.generate_drills(4, 200, words=words) for g in drill]
    values = [g.facts[0].value for g in segments]
    from_words = [v for v in values if any(w in v for w in (*words.proper, *words.common))]
    assert len(from_words) > len(values) // 4  # wide drills are a large part of the drills
    assert not any(v.lower() in evals for v in values)
    for g in segments:
        if g.kind == "drill:recall":
            assert any(g.facts[0].value in note for note in g.memory) and g.facts[0].value in g.messages[-1][1]
    # without a vocabulary (or with a handful of words) the drills are the scrambled and plain ones
    assert list(dialogues.generate_drills(4, 20)) == list(dialogues.generate_drills(4, 20, words=dialogues.WordLists(("Ann",), ("pear",))))


def test_drills_make_up_hiding_places_so_the_training_list_cannot_be_guessed():
    """A place is asked as "where did I put X?"; if every drill took it from the short training
    list, the model would answer "in the top drawer" for the held-out "in the biscuit tin"."""
    common = tuple(f"thing{c}{d}" for c in "abcdefghij" for d in "klmnopqrst")
    words = dialogues.WordLists(proper=tuple(w.capitalize() for w in common), common=common)
    rng = random.Random(3)
    evals = dialogues._eval_values()
    for pools in (dialogues.wide_pools(rng, words), dialogues.scrambled_pools(rng)):
        assert not set(pools.places) & set(dialogues.TRAIN.places) and not set(pools.places) & evals
        for place in pools.places:  # still a place the templates can say: "I put my keys under the ..."
            assert place.startswith(("in the ", "under the ", "on the ", "behind the ", "by the ", "inside the ",
                                     "next to the ", "on top of the ")), place
    assert any(p.split()[-1] in common for p in dialogues.wide_pools(rng, words).places)


def test_echo_segments_repeat_the_values_word_for_word():
    plain = list(dialogues.generate_drills(6, 30))
    echoed = list(dialogues.generate_drills(6, 30, echo=True))
    kinds = [g.kind for drill in echoed for g in drill]
    assert "drill:echo" in kinds and "drill:echo" not in [g.kind for drill in plain for g in drill]
    assert 0.1 < kinds.count("drill:echo") / len(kinds) < 0.4
    for g in (g for drill in echoed for g in drill if g.kind == "drill:echo"):
        (_, asked), (_, replied) = g.messages
        said = asked.split(": ", 1)[1]
        assert replied.endswith(said) and all(f.value in said for f in g.facts) and g.memory is None


def test_block_sizes_do_not_tell_whether_the_answer_is_there():
    """Every block size that an absent case has, a recall case has too: the model must read the
    block, not count it (single-snippet blocks were once absent cases only, and it learned that)."""
    rng = random.Random(2)
    recall = {len(dialogues.recall_dialogue(rng, dialogues.TRAIN).memory) for _ in range(400)}
    absent = {len(g.memory) for g in (dialogues.absent_dialogue(rng, dialogues.TRAIN) for _ in range(400)) if g.memory}
    assert 1 in recall and absent <= recall


def test_drills_are_in_the_training_split_only(built):
    out, manifest = built
    assert manifest["generated_kinds"]["drill"] > 0
    has_drill = lambda text: text.count(MEMORY) >= 3  # noqa: E731 (only drills have several blocks)
    assert any(has_drill(t) for t in _texts(out / "train.jsonl"))
    assert not any(has_drill(t) for t in _texts(out / "val.jsonl"))


def test_memory_eval_cases(built):
    out, manifest = built
    cases = list(read_jsonl(out / "memory_eval.jsonl"))
    assert len(cases) == 250 and manifest["memory_eval"] == {"cases": 250, "with_answer": 200, "absent": 50}
    for case in cases:
        assert set(case) == {"memory", "history", "question", "answer", "kind"}
        assert 1 <= len(case["memory"]) <= 6 and case["question"]
        if case["answer"] is None:
            assert case["kind"].startswith("absent:")
        else:
            assert any(case["answer"] in note for note in case["memory"])
    assert cases == dialogues.memory_eval_cases(3)


def test_eval_values_never_appear_in_generated_training_text(built):
    out, _ = built
    generated = "\n".join(r["text"] for r in read_jsonl(out / "train.jsonl") if r["source"] == "generated")
    for case in read_jsonl(out / "memory_eval.jsonl"):
        value = case["answer"]
        if value is None or value.isdigit():  # bare numbers occur in other contexts ("60 minutes")
            continue
        assert not re.search(rf"\b{re.escape(value)}\b", generated), value


# --- source readers ---------------------------------------------------------------------------


def test_chatterbot_yaml_subset():
    text = "categories:\n- greetings\nconversations:\n- - Hello\n  - 'Hi, it''s me'\n- - How are you?\n  - |\n    Fine\n    thanks\n"
    assert parse_chatterbot_yaml(text) == [["Hello", "Hi, it's me"], ["How are you?", "Fine thanks"]]


def test_r_reader_reads_a_character_vector():
    blob = b"X\n" + struct.pack(">iii", 2, 0x040000, 0x020300)
    blob += struct.pack(">ii", 16, 2) + struct.pack(">ii", 9 | (1 << 15), 5) + b"hello" + struct.pack(">ii", 9, -1)
    assert _RReader(blob).read() == ["hello", None]


@pytest.mark.skipif(not SOURCES["austen"].available(), reason="r-cran-janeaustenr is not installed")
def test_austen_novels_read_without_r():
    first = next(SOURCES["austen"].read())
    assert "Jane Austen" in first or "EMMA" in first


def test_cli_quick_build(tmp_path, capsys):
    if not any(source.available() for source in SOURCES.values()):
        pytest.skip("no corpus source installed")
    from ui.cli import main

    assert main(["data", "build", "--quick", "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "manifest.json").is_file()
    assert "corpus written to" in capsys.readouterr().out
