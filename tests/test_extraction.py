"""Automatic memories (issue 17): the statement detector, its slots, and its measured quality.

The quality tests measure the shipped weights (models/extraction/detector.safetensors) at test
time on the held-out pool (templates and values training never saw) and on the hand-written set;
retraining with worse data or a broken feature makes them fail.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest

from assistant.extraction import Candidate, default_weights, find_memories, load_detector
from core.errors import ModelFilesError
from core.extraction import Detector, DetectorConfig, normalise, slot_of, split_clauses
from core.training import extraction as training

PRECISION_TARGET, RECALL_TARGET = 0.9, 0.8  # the issue's bar for extraction
SLOT_TARGET = 0.8


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector()


@pytest.fixture(scope="module")
def held_out() -> list[training.Example]:
    return training.build(0, held_out=True, sizes=training.HELD_OUT_SIZES)


def test_the_dana_message_gives_name_home_and_sister_job():
    found = find_memories("Hi! My name is Dana and I live in Tromso. My sister Ilse is a veterinarian.")
    assert [(c.text, c.slot) for c in found] == [
        ("My name is Dana.", "name"), ("I live in Tromso.", "home"), ("My sister Ilse is a veterinarian.", "sister.job"),
    ]
    assert all(isinstance(c, Candidate) and 0.5 <= c.score <= 1 for c in found)


@pytest.mark.parametrize("text", [
    "Where do I live?", "What's my sister's name?", "Do you remember when my train leaves?",  # questions
    "haha nice", "how are you?", "thanks!", "ok", "good morning!",  # small talk
    "Set an alarm for 7 am.", "Tell me a joke.", "Summarise this email for me.", "Write a poem about cats.",  # commands
])
def test_questions_small_talk_and_commands_give_nothing(text):
    assert find_memories(text) == []


@pytest.mark.parametrize("old, new, slot", [
    ("I live in Oslo.", "I moved to Bergen last month.", "home"),
    ("My manager is Tom.", "I report to Priya now.", "manager"),
    ("My train leaves at 7:40.", "My train leaves at 8:10 now.", "train_time"),
    ("My sister is a nurse.", "My sister works as a pilot.", "sister.job"),
])
def test_a_newer_statement_about_the_same_thing_gets_the_same_slot(old, new, slot):
    assert [c.slot for c in find_memories(old)] == [slot]
    assert [c.slot for c in find_memories(new)] == [slot]


@pytest.mark.parametrize("attribute, clause, slot", [
    ("home", "My ex-boss lives in Leeds.", "ex_boss.home"),
    ("name", "Sam is my hairdresser.", "hairdresser"),
    ("name", "My new boss is Marisol.", "manager"),
    ("name", "Priya is my team lead.", "manager"),
    ("job", "Priya took over as my manager.", "manager"),
    ("name", "Our kitten's name is Tom.", "kitten"),
    ("birthday", "I was born in Cusco.", "hometown"),
])
def test_someone_else_s_statement_never_takes_the_user_s_own_slot(attribute, clause, slot):
    """Regression: "my ex-boss lives in Leeds" took the slot "home" and would have superseded where
    the user lives; a name of someone unknown took "name" and would have replaced the user's."""
    assert slot_of(attribute, clause) == slot


def test_a_statement_is_cleaned_into_standalone_form():
    assert normalise("btw im Tom lol") == "I'm Tom."
    assert normalise("oh, by the way, i live in Leeds!!") == "I live in Leeds."
    assert normalise("where do i live") == "Where do I live."  # no question mark typed: none added


def test_clauses_split_at_a_new_subject_but_not_before_a_short_tail():
    assert split_clauses("My name is Dana and I live in Tromso. My sister is a vet.") == [
        "My name is Dana", "I live in Tromso.", "My sister is a vet."]
    assert split_clauses("I can't be near sesame, I'm allergic.") == ["I can't be near sesame, I'm allergic."]


def test_held_out_statements_meet_the_issue_precision_and_recall(detector, held_out):
    figures = training.evaluate(detector, held_out)
    assert figures["statements"] > 1000 and figures["messages"] > 2000
    assert figures["precision"] >= PRECISION_TARGET, figures
    assert figures["recall"] >= RECALL_TARGET, figures


def test_held_out_slots_are_mostly_right(detector, held_out):
    assert training.evaluate(detector, held_out)["slot_accuracy"] >= SLOT_TARGET


def test_the_hand_written_set_meets_the_issue_precision_and_recall(detector):
    figures = training.evaluate(detector, training.handwritten_examples())
    assert figures["messages"] >= 60
    assert figures["precision"] >= PRECISION_TARGET, figures
    assert figures["recall"] >= RECALL_TARGET, figures
    assert figures["slot_accuracy"] >= SLOT_TARGET, figures


def _canonical(template: str) -> str:
    return re.sub(r"[^a-z{} ]", "", re.sub(r"\{[^}]*\}", "{}", template.lower())).strip()


def test_held_out_templates_and_messages_never_appear_in_training():
    sizes = training.Sizes(facts=1500, extras=1500, composites=0, questions=800, negatives_per_template=1, chitchat=400)
    train = training.build(0, held_out=False, sizes=sizes)
    held = training.build(0, held_out=True, sizes=sizes)
    train_templates = {_canonical(e.template) for e in train}
    assert not {_canonical(e.template) for e in held} & train_templates
    train_texts = {e.text.lower() for e in train}
    assert not [e.text for e in held if e.text.lower() in train_texts]


def test_no_hand_written_message_is_a_training_template():
    from core.training import dialogues
    from core.training.extraction_data import EXTRA_FACTS, HANDWRITTEN, NEGATIVES

    def key(text: str) -> str:
        return " ".join(re.sub(r"[^a-z ]", "", text.lower()).split())

    templates = {key(t) for row in NEGATIVES for t in row.texts} | {key(t) for row in EXTRA_FACTS for t in row.tell}
    templates |= {key(t) for row in dialogues.FACTS for t in row.tell + row.ask}
    templates |= {key(t) for users, _ in dialogues.EXCHANGES.values() for t in users}
    templates |= {key(t) for t in dialogues.FILLER_NOTES}
    assert [text for text, _ in HANDWRITTEN if key(text) in templates] == []


def test_held_out_values_come_from_the_other_pool():
    from core.training import dialogues

    held_values = {v.lower() for e in training.build(0, True, training.Sizes(300, 300, 0, 0, 1, 0)) for v in e.values}
    train_names = {n.lower() for n in dialogues.TRAIN.names} | {c.lower() for c in dialogues.TRAIN.cities}
    assert held_values and not held_values & train_names


def test_retraining_with_the_same_seed_gives_the_same_weights():
    sizes = training.Sizes(facts=200, extras=200, composites=20, questions=100, negatives_per_template=1, chitchat=0)
    a, b = training.train(0, sizes), training.train(0, sizes)
    assert np.array_equal(a.fact_w, b.fact_w) and np.array_equal(a.attr_w, b.attr_w)
    assert a.config == b.config


def test_weights_round_trip_through_safetensors(tmp_path, detector):
    detector.save(tmp_path / "d.safetensors")
    again = Detector.load(tmp_path / "d.safetensors")
    assert again.config == detector.config
    assert np.array_equal(again.attr_w, detector.attr_w)


def test_missing_weights_raise_a_model_files_error(tmp_path):
    with pytest.raises(ModelFilesError, match="not found"):
        Detector.load(tmp_path / "none.safetensors")


def test_a_damaged_weights_file_raises_a_model_files_error(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"not tensors at all")
    with pytest.raises(ModelFilesError, match="not a safetensors file"):
        Detector.load(tmp_path / "junk.safetensors")


def test_weights_of_the_wrong_shape_are_refused_naming_the_tensor(detector):
    tensors = {"fact_w": np.zeros(8, np.float16), "fact_b": np.zeros(1, np.float16),
               "attr_w": detector.attr_w, "attr_b": detector.attr_b}  # fmt: skip
    with pytest.raises(ModelFilesError, match="fact_w"):
        Detector(DetectorConfig(), tensors)


def test_the_shipped_weights_are_small():
    assert default_weights().stat().st_size < 400_000


def test_importing_the_module_loads_no_weights():
    """STYLE.md 9: no model loaded at import; the detector loads on the first `find_memories`."""
    code = "import assistant.extraction as e; print(e.load_detector.cache_info().currsize)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_a_message_takes_under_two_milliseconds_of_cpu(detector):
    """CPU time of this thread, not wall time: the test machine may be busy with other work."""
    messages = ["Hi! My name is Dana and I live in Tromso. My sister Ilse is a veterinarian.", "Where do I live?",
                "haha nice", "My train leaves at 7:40 tomorrow.", "Set an alarm for 7 am."]  # fmt: skip
    find_memories(messages[0])
    times = {text: [] for text in messages}
    for _ in range(30):
        for text in messages:
            start = time.thread_time()
            find_memories(text)
            times[text].append(time.thread_time() - start)
    assert max(statistics.median(t) for t in times.values()) < 0.002
