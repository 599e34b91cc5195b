"""`assistant bench learning`: the scripted persona has the shape issue 5 asks for, and one
strategy replayed on a tiny model reports what the benchmark prints (recall judged on the reply,
misses named, updates timed)."""

from __future__ import annotations

import json

from assistant.bench import learning as bench
from core.training import dialogues

from .session_support import tiny_model_dir


def test_the_persona_tells_early_asks_late_over_many_restarts():
    script = bench.persona_script(0, 12, 26, 14)
    assert script.exchanges >= 300 and len(script.sessions) >= 11  # 10+ restarts
    told_in = {}
    asked_in = {}
    for s, convs in enumerate(script.sessions):
        for conv in convs:
            for turn in conv:
                for fact in script.facts:
                    if turn.fact is None and fact.value in turn.text:
                        told_in.setdefault(fact.value, s)
                if turn.fact is not None:
                    asked_in[turn.fact.value] = s
                    assert conv[0] is turn  # each question opens a new conversation
    assert set(asked_in) == {f.value for f in script.facts} == set(told_in)
    assert all(told_in[v] <= len(script.sessions) - 3 < asked_in[v] for v in asked_in)  # told early, asked late
    evals = dialogues._eval_values()
    worded = [f.value for f in script.facts if not any(c.isdigit() for c in f.value)]  # numbers, dates: random
    assert len(worded) >= 8 and all(v.lower() in evals for v in worded)  # values no model has trained on
    # the held-out messages are never said in the script
    said = {t.text for convs in script.sessions for conv in convs for t in conv}
    assert not said & set(script.held_out)
    assert bench.persona_script(0, 12, 26, 14).held_out == script.held_out  # reproducible


def test_one_strategy_on_a_tiny_model_reports_recall_misses_and_update_times(tmp_path):
    script = bench.persona_script(1, 4, 5, 2)
    result = bench.run_strategy("default", script, tiny_model_dir(), tmp_path / "home", max_tokens=4, log=lambda m: None)
    assert result["questions"] == len(script.facts) == 2
    assert len(result["misses"]) == round((1 - result["recall"]) * result["questions"])
    for miss in result["misses"]:
        assert set(miss) == {"question", "value", "reply", "in_block"} and miss["value"] not in miss["reply"]
    assert result["updates"] + result["rejected"] >= script.exchanges - len(script.facts)
    assert result["update_ms"] > 0 and result["anchor_loss_base"] > 0
    json.dumps(result)  # the --json output


def test_the_verdict_checks_each_target():
    good = {"personal_loss_change": -0.2, "anchor_drift": 0.01, "recall": 0.85, "update_ms": 500.0}
    results = {"default": good, "no_replay": {**good, "anchor_drift": 0.1}}
    assert all(bench.verdict(results).values())
    assert not bench.verdict({**results, "default": {**good, "recall": 0.79}})["default_recall"]
    assert not bench.verdict({**results, "no_replay": {**good, "anchor_drift": 0.0}})["no_replay_drifts_more"]
    assert not bench.verdict({**results, "default": {**good, "update_ms": 1500.0}})["default_update_latency"]
