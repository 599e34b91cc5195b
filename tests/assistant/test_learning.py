"""Online learning through the session: never delaying a reply, the anchor gate against poisoning,
exact unlearning, versions kept and rolled back, pause and resume, the replay reservoir."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load as load_tensors

from assistant.learning import kept_reasons
from core.checkpoint import load_model
from core.learner import Learner, split_anchor

from .session_support import greedy, open_session, tiny_hybrid_model_dir, tiny_model_dir


@pytest.fixture(params=["liquid", "hybrid"])
def model_dir(request):
    """Learning runs on an all-liquid model and on one with a window-attention block (its
    projections get adapters too)."""
    return tiny_model_dir() if request.param == "liquid" else tiny_hybrid_model_dir()


@pytest.fixture
def session(tmp_path, model_dir):
    s = open_session(tmp_path / "home", model_dir)
    yield s
    s.close()


def talk(session, texts, *, wait: bool = True, max_tokens: int = 6):
    for text in texts:
        session.send(text, settings=greedy(max_tokens)).wait()
    if wait:
        assert session.wait_for_learning(120)


def reference_learner(session, model_dir) -> Learner:
    """A learner built from scratch on the same model files, settings and seed as the session's."""
    base, tok = load_model(model_dir)
    anchor = split_anchor((model_dir / "anchor.txt").read_text())
    return Learner(base, tok, anchor, session.learning.learner_settings(), seed=session.learning.seed)


def anchor_loss_of_active(session, model_dir) -> tuple[float, float]:
    """(anchor loss of the active adapter, of the base), measured afresh on the fixed slice."""
    learner = reference_learner(session, model_dir)
    active = session.learning_status().version
    learner.load(None if active is None else session.learning.adapter_bytes(active), active)
    return learner.anchor_loss(), learner.base_anchor_loss()


# --- learning never delays a reply -----------------------------------------------------------


def test_a_reply_streams_while_the_previous_turn_is_being_learned(session):
    session.new_conversation()
    talk(session, ["hello there"])  # warm the learner up: version 1
    baseline_t0 = time.perf_counter()
    session.send("how are you today?", settings=greedy(8)).wait()
    baseline = time.perf_counter() - baseline_t0
    assert session.wait_for_learning(60)

    def slow_step():
        time.sleep(1.5)  # an update that takes seconds, on purpose

    session.learning.step_hook = slow_step
    session.send("my cat is called Miso", settings=greedy(8)).wait()
    deadline = time.monotonic() + 10
    while session.learning.busy != "learning":
        assert time.monotonic() < deadline, "the update for the previous turn did not start"
        time.sleep(0.01)
    t0 = time.perf_counter()
    reply = session.send("and what do you like?", settings=greedy(8))
    first = next(reply)
    first_at = time.perf_counter() - t0
    reply.wait()
    total = time.perf_counter() - t0
    assert first and reply.text
    assert session.learning.busy == "learning"  # the update was still running all along
    assert first_at < 0.5 and total < baseline + 0.5
    session.learning.step_hook = None
    assert session.wait_for_learning(60)
    assert [v.version for v in session.adapter_versions()] == [1, 2, 3, 4]


# --- the safeguards against a poisoning stream -----------------------------------------------


POISON = "zorp blick fnarg wibble zorp blick fnarg wibble qux qux"


def poisoned_drift(home, model_dir, strategy: str) -> tuple[float, list]:
    """Anchor drift of the active adapter after 100 turns of one nonsense line, and the rejections."""
    session = open_session(home, model_dir)
    try:
        session.settings.set("learning.strategy", strategy)
        session.new_conversation()
        talk(session, ["hello, how are you?", "I like tea and long walks by the river"])
        talk(session, [POISON] * 100, max_tokens=2)
        anchor, base = anchor_loss_of_active(session, model_dir)
        return anchor / base - 1, [e for e in session.learning_log(limit=1000) if e.kind == "rejected"]
    finally:
        session.close()


def test_a_poisoning_stream_stays_within_the_tolerance_only_with_the_safeguards(tmp_path, model_dir):
    drift, rejected = poisoned_drift(tmp_path / "with", model_dir, "default")
    assert drift <= 0.02 + 1e-6
    assert rejected and "rolled back by the gate" in rejected[0].detail
    unguarded, none = poisoned_drift(tmp_path / "without", model_dir, "no_replay")
    assert not none  # no gate: every update was kept
    assert unguarded > 0.02 and unguarded > drift


# --- exact unlearning ------------------------------------------------------------------------


def test_deleting_an_exchange_retrains_exactly_from_the_remaining_buffer(session, model_dir):
    events = []
    session.on_learning_event(events.append)
    session.new_conversation()
    talk(session, ["my sister is called Ines", "she lives in Porto", "my password is swordfish"])
    session.new_conversation()
    talk(session, ["I have a cat named Miso", "we like tea"])
    secret = next(m for c in session.conversations() for m in session.messages(c.id) if m.text == "my password is swordfish")
    assert any(secret.id in v.seen.message_ids for v in session.store.list_adapter_versions())
    deleted_at = time.time()
    session.delete_message(secret.id)
    assert session.wait_for_learning(120)

    versions = session.store.list_adapter_versions()
    assert len(versions) == 1 and versions[0].metrics["kind"] == "retrain"
    assert all(v.created >= deleted_at for v in versions)  # no kept version predates the deletion
    assert all(secret.id not in v.seen.message_ids for v in versions)
    assert session.learning_status().version == versions[0].version
    buffer = session.store.list_replay_items()
    assert len(buffer) == 4 and not any("swordfish" in item.text for item in buffer)

    reference = reference_learner(session, model_dir)
    reference.retrain([item.text for item in buffer], session.learning.seed)
    expected = load_tensors(reference.adapter_bytes())
    got = load_tensors(session.store.get_adapter_version(versions[0].version).data)
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6)

    kinds = [e.kind for e in events]
    assert "unlearning" in kinds and "retrained" in kinds
    progress = [e.detail for e in events if e.kind == "progress"]
    assert progress[0].startswith("unlearning: retraining from 4 buffer items") and progress[-1].endswith("4/4")


def test_deleting_a_conversation_or_a_memory_unlearns_it(session):
    session.add_memory("my locker number is 311")
    conv = session.new_conversation()
    talk(session, ["my dog is called Biscuit"])
    assert {v.metrics["kind"] for v in session.store.list_adapter_versions()} == {"memory", "exchange"}
    session.delete_conversation(conv.id)
    assert session.wait_for_learning(60)
    session.delete_memory(session.memories()[0].id)
    assert session.wait_for_learning(60)
    assert session.store.list_replay_items() == []
    [version] = session.store.list_adapter_versions()
    assert version.metrics["kind"] == "retrain" and not version.seen
    assert [e.kind for e in session.learning_log()].count("retrained") == 2


def test_nothing_learned_nothing_to_retrain(session):
    session.pause_learning()
    conv = session.new_conversation()
    talk(session, ["a passing remark"], wait=False)
    session.resume_learning()
    session.delete_conversation(conv.id)
    assert session.wait_for_learning(30)
    assert session.store.list_adapter_versions() == [] and session.learning.pending() == []


# --- pause, resume, pending work -------------------------------------------------------------


def test_paused_learning_queues_nothing_and_resumes(session):
    session.pause_learning()
    assert session.learning_status().state == "paused"
    session.new_conversation()
    talk(session, ["learn nothing from this"], wait=False)
    assert session.learning.pending() == [] and session.adapter_versions() == []
    assert session.wait_for_learning(0.1)  # nothing waits
    session.resume_learning()
    talk(session, ["but learn from this"])
    assert [v.version for v in session.adapter_versions()] == [1]
    assert session.learning_status().state == "idle"


def test_pending_work_survives_a_restart(tmp_path, model_dir):
    session = open_session(tmp_path / "home", model_dir)
    session.learning.stop()  # the worker is gone: the job can only wait in the store
    session.new_conversation()
    talk(session, ["remember that my bus number is 42"], wait=False)
    assert [j.kind for j in session.learning.pending()] == ["exchange"]
    session.close()
    again = open_session(tmp_path / "home", model_dir)
    try:
        assert again.wait_for_learning(60)
        assert [v.version for v in again.adapter_versions()] == [1]
        assert again.learning_status().pending == 0
    finally:
        again.close()


# --- versions --------------------------------------------------------------------------------


def test_rollback_makes_a_kept_version_active_and_learning_continues_from_it(session):
    session.new_conversation()
    talk(session, ["one", "two", "three"])
    session.rollback(2)
    status = session.learning_status()
    assert (status.state, status.version) == ("rolled back", 2)
    assert [e.kind for e in session.learning_log()][-1] == "rollback"
    session.new_conversation()
    talk(session, ["four"])
    assert session.runtime.adapter_version == 2  # the new conversation answered with version 2
    newest = session.store.list_adapter_versions()[-1]
    assert newest.parent == 2
    assert (session.learning_status().state, session.learning_status().version) == ("idle", newest.version)
    assert session.learning.lineage()[-2:] == [2, newest.version]


def test_rollback_refuses_a_version_the_gate_rejected(session):
    session.new_conversation()
    talk(session, ["hello"])
    rejected = session.store.add_adapter_version(b"", {"accepted": False})
    with pytest.raises(ValueError, match="rejected"):
        session.rollback(rejected.version)


def test_versions_kept_are_the_recent_ones_and_the_active_one(session):
    session.settings.set("learning.keep_recent", 2)
    session.settings.set("learning.gate", False)  # every update becomes a version (the gate is tested above)
    session.new_conversation()
    talk(session, ["one", "two", "three", "four", "five"])
    versions = session.adapter_versions()
    assert [v.version for v in versions] == [4, 5]
    assert [v.kept_reason for v in versions] == ["recent", "active"]
    assert all(v.accepted and v.personal_loss is not None for v in versions)


def test_kept_reasons_recent_daily_pinned_active_and_recent_rejections():
    day = 86400.0
    t0 = 1_700_000_000.0

    def info(version, days, accepted=True):
        return SimpleNamespace(version=version, created=t0 + days * day, metrics={"accepted": accepted})

    infos = [info(1, 0), info(2, 0), info(3, 1), info(4, 2), info(5, 2, accepted=False), info(6, 2), info(7, 2)]
    reasons = kept_reasons(infos, active=3, pinned={1}, keep_recent=2, keep_days=2)
    assert reasons[6] == reasons[7] == "recent"
    assert reasons[3] == "active"  # also the last of its day
    assert reasons[1] == "used by a conversation"
    assert 2 not in reasons  # the last of its day, but that day is too old
    assert 5 not in reasons  # rejected before the recent window
    assert kept_reasons(infos, None, set(), 3, 0)[5] == "rejected (recent)"


def test_the_replay_buffer_is_a_bounded_reservoir(session):
    session.settings.set("learning.replay_capacity", 3)
    session.new_conversation()
    talk(session, [f"message number {i}" for i in range(8)])
    assert len(session.store.replay_ids()) == 3
    assert session.store.get_setting("_learning.exchanges_seen") == 8


def test_learning_events_reach_listeners_and_the_log(session):
    seen = []
    session.on_learning_event(seen.append)
    session.new_conversation()
    talk(session, ["hello"])
    assert [e.kind for e in seen] == ["update"]
    assert session.learning_log()[-1].detail == seen[0].detail
    assert seen[0].detail.startswith("version 1: personal loss")
