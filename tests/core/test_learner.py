"""The online learner: updates learn, the gate undoes exactly, retraining is a pure function of its seed."""

from __future__ import annotations

import random

import pytest
import torch

from core.learner import Learner, LearnerSettings, split_anchor, strategy_settings, torch_threads
from core.model import LiquidLM
from core.template import render_turn

from .conftest import WORDS, tiny_config


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


@pytest.fixture(scope="module")
def anchor_docs() -> list[str]:
    rng = random.Random(1)
    return [sentence(rng, rng.randint(20, 40)) for _ in range(40)]


@pytest.fixture
def base() -> LiquidLM:
    """A random tiny model with logits large enough to move (at init_std 0.02 they barely can)."""
    torch.manual_seed(0)
    return LiquidLM(tiny_config("diagonal", init_std=0.1)).eval()


def exchange(user: str, reply: str = "okay") -> str:
    return render_turn("user", user) + render_turn("assistant", reply)


def make(base, tok, anchor, **over) -> Learner:
    settings = LearnerSettings(**{"anchor_window": 32, "eval_windows": 4, **over})
    return Learner(base, tok, anchor, settings, seed=7)


def test_a_fresh_learner_is_the_base_model(base, tiny_tokenizer, anchor_docs):
    learner = make(base, tiny_tokenizer, anchor_docs)
    assert learner.anchor_loss() == pytest.approx(learner.base_anchor_loss(), abs=1e-6)


def test_the_learner_trains_a_copy_and_leaves_the_base_untouched(base, tiny_tokenizer, anchor_docs):
    before = {k: v.clone() for k, v in base.state_dict().items()}
    learner = make(base, tiny_tokenizer, anchor_docs, lr=1e-2, gate=False)
    learner.update([exchange("my cat Miso likes tea")])
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    assert not any("lora_" in k for k in base.state_dict())


@pytest.mark.parametrize("bf16", ["off", "on"])
def test_updates_lower_the_loss_on_what_was_learned(base, tiny_tokenizer, anchor_docs, bf16):
    learner = make(base, tiny_tokenizer, anchor_docs, lr=1e-2, gate=False, distill_weight=0.0, bf16=bf16)
    text = exchange("my sister lives in Porto and her birthday is on the fourth of May")
    before = learner.personal_loss([text])
    for _ in range(10):
        result = learner.update([text])
    assert result.accepted
    assert learner.personal_loss([text]) < 0.8 * before


def test_user_turns_weigh_one_and_replies_weigh_reply_weight(base, tiny_tokenizer, anchor_docs):
    learner = make(base, tiny_tokenizer, anchor_docs, reply_weight=0.25)
    ids, weights = learner.encode_personal(exchange("hello there", "I am fine"))
    assistant_at = ids.index(tiny_tokenizer.role_ids["<|assistant|>"])
    assert set(weights[:assistant_at]) == {1.0}
    assert set(weights[assistant_at:]) == {0.25}


def test_the_gate_undoes_an_update_exactly_adapter_and_optimiser(base, tiny_tokenizer, anchor_docs):
    learner = make(base, tiny_tokenizer, anchor_docs, lr=5e-2)
    learner.update([exchange("hello")])  # give the optimiser some moments to restore
    tensors = learner.adapter_tensors()
    moments = {k: {n: t.clone() for n, t in v.items()} for k, v in learner._opt.state_dict()["state"].items()}
    learner._base_anchor_loss = 0.5 * learner.anchor_loss()  # now any update is "too far from the base"
    result = learner.update([exchange("zzqx zzqx zzqx " * 5)])
    assert not result.accepted
    assert result.anchor_loss > result.base_anchor_loss * 1.02
    assert all(torch.equal(a, b) for a, b in zip(tensors, learner.adapter_tensors(), strict=True))
    after = learner._opt.state_dict()["state"]
    assert all(torch.equal(moments[k][n], after[k][n]) for k in moments for n in moments[k])


def test_an_update_within_the_tolerance_is_kept(base, tiny_tokenizer, anchor_docs):
    learner = make(base, tiny_tokenizer, anchor_docs, lr=1e-3)
    before = learner.adapter_tensors()
    result = learner.update([exchange("my cat Miso likes tea")])
    assert result.accepted and result.anchor_loss <= result.base_anchor_loss * 1.02
    assert not all(torch.equal(a, b) for a, b in zip(before, learner.adapter_tensors(), strict=True))


def test_the_evaluation_slice_is_fixed_and_apart_from_the_training_windows(base, tiny_tokenizer, anchor_docs):
    a = make(base, tiny_tokenizer, anchor_docs)
    b = make(base, tiny_tokenizer, anchor_docs)
    assert a.eval_slice == b.eval_slice and len(a.eval_slice) == 4
    assert not any(w in a.anchor_pool for w in a.eval_slice)


def test_retraining_is_a_pure_function_of_buffer_and_seed(base, tiny_tokenizer, anchor_docs):
    rng = random.Random(3)
    buffer = [exchange(sentence(rng, 8), sentence(rng, 4)) for _ in range(6)]
    first = make(base, tiny_tokenizer, anchor_docs, lr=1e-2)
    first.update([exchange("something learned before")])  # the learner's past must not matter
    first.retrain(buffer, seed=11)
    second = make(base, tiny_tokenizer, anchor_docs, lr=1e-2)
    second.retrain(buffer, seed=11)
    other = make(base, tiny_tokenizer, anchor_docs, lr=1e-2)
    other.retrain(buffer, seed=12)
    assert all(torch.equal(a, b) for a, b in zip(first.adapter_tensors(), second.adapter_tensors(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first.adapter_tensors(), other.adapter_tensors(), strict=True))


def test_retraining_reports_progress_and_can_be_abandoned(base, tiny_tokenizer, anchor_docs):
    learner = make(base, tiny_tokenizer, anchor_docs)
    seen = []
    learner.retrain([exchange("a"), exchange("b"), exchange("c")], seed=1, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]

    class Stop(Exception):
        pass

    def stop():
        raise Stop

    with pytest.raises(Stop):
        learner.retrain([exchange("a")], seed=1, before_step=stop)


def test_adapter_bytes_round_trip_into_another_learner(base, tiny_tokenizer, anchor_docs):
    a = make(base, tiny_tokenizer, anchor_docs, lr=1e-2, gate=False)
    a.update([exchange("tea and long walks by the river")])
    b = make(base, tiny_tokenizer, anchor_docs)
    b.load(a.adapter_bytes(), version=5)
    assert b.version == 5
    assert all(torch.equal(x, y) for x, y in zip(a.adapter_tensors(), b.adapter_tensors(), strict=True))
    assert b.anchor_loss() == pytest.approx(a.anchor_loss(), abs=1e-6)


def test_strategies_switch_replay_distillation_and_gate():
    assert strategy_settings("frozen") is None
    no_replay = strategy_settings("no_replay")
    assert (no_replay.replay_k, no_replay.distill_weight, no_replay.gate) == (0, 0.0, False)
    replay = strategy_settings("replay")
    assert replay.replay_k > 0 and replay.distill_weight == 0.0 and not replay.gate
    default = strategy_settings("default")
    assert default.replay_k > 0 and default.distill_weight > 0 and default.gate and default.tolerance == 0.02
    with pytest.raises(ValueError, match="expected one of"):
        strategy_settings("yolo")


def test_torch_threads_is_per_call_and_restored():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_split_anchor_separates_documents_by_blank_lines():
    assert split_anchor("one\nline two\n\n\nthree\n\n") == ["one\nline two", "three"]


def test_settings_name_the_bad_value():
    with pytest.raises(ValueError, match="tolerance"):
        LearnerSettings(tolerance=1.5)
    with pytest.raises(ValueError, match="bf16"):
        LearnerSettings(bf16="yes")


def test_the_gate_measures_in_fp32_whatever_the_steps_use(base, tiny_tokenizer, anchor_docs):
    """bf16 steps must not shift the losses the gate compares: a fresh adapter is the base exactly."""
    on, off = make(base, tiny_tokenizer, anchor_docs, bf16="on"), make(base, tiny_tokenizer, anchor_docs, bf16="off")
    assert on.base_anchor_loss() == off.base_anchor_loss()
    assert on.anchor_loss() == on.base_anchor_loss()
