"""The session on an LFM2 checkpoint folder: same product, bounded persistent state, learning."""

from __future__ import annotations

import functools
import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

from core.generate import SamplingSettings
from tests.assistant.session_support import next_logits, open_session
from tests.core.lfm2_support import build_lfm2_dir


@functools.cache
def lfm2_dir() -> Path:
    root = Path(tempfile.mkdtemp(prefix="assistant-tiny-lfm2-"))
    atexit.register(shutil.rmtree, root, True)
    return build_lfm2_dir(root / "lfm2", assistant_attention_window=24, assistant_attention_sinks=2)


def greedy(n: int) -> SamplingSettings:
    return SamplingSettings(temperature=0, max_tokens=n, repetition_penalty=1.0)


@pytest.fixture
def session(tmp_path):
    s = open_session(tmp_path / "home", lfm2_dir())
    s.pause_learning()
    yield s
    s.close()


def test_the_session_loads_an_lfm2_folder_and_replies(session):
    from core.lfm2 import Lfm2LM

    session.new_conversation()
    reply = session.send("hello there", settings=greedy(5))
    reply.wait()
    model, _ = session.runtime.load()
    assert isinstance(model, Lfm2LM) and model.start_ids
    assert reply.done and not reply.cut


def test_reopening_an_lfm2_conversation_continues_from_its_bounded_state(session):
    conv = session.new_conversation()
    for text in ("my sister is called ines", "we like tea and long walks", "the cat sat on the mat"):
        session.send(text, settings=greedy(8)).wait()  # past the 24-token window
    before = next_logits(session, conv.id, "what is her name?")
    home = session.home
    session.close()
    again = open_session(home, lfm2_dir())
    try:
        assert torch.equal(next_logits(again, conv.id, "what is her name?"), before)
        assert not [e for e in again.learning_log() if e.kind == "state"]  # resumed, nothing re-read
    finally:
        again.close()


def test_the_stored_state_does_not_grow_with_the_conversation(session):
    conv = session.new_conversation()
    sizes = []
    for text in ("hello", "my sister is called ines and we like tea", "the cat sat on the mat and long walks"):
        session.send(text, settings=greedy(10)).wait()
        sizes.append(len(session.store.load_state(conv.id).data))
    assert len(set(sizes)) == 1


@pytest.mark.slow
def test_learning_updates_an_adapter_on_an_lfm2_model(session):
    session.resume_learning()
    session.new_conversation()
    session.send("my sister is called ines", settings=greedy(4)).wait()
    assert session.wait_for_learning(timeout=120)
    kinds = [e.kind for e in session.learning_log()]
    assert "update" in kinds or "rejected" in kinds  # an update ran through the gate on the LFM2 model


@pytest.mark.slow
def test_bench_model_runs_on_an_lfm2_folder_against_transformers(tmp_path):
    pytest.importorskip("transformers")
    from assistant.bench import lfm2

    folder = tmp_path / "cfg"
    folder.mkdir()
    shutil.copy(lfm2_dir() / "config.json", folder / "config.json")  # only the config is needed
    r = lfm2.measure(folder, quick=True, contexts=(16, 64), steps=3, log=lambda m: None)
    assert set(r["ours"]["decode_tok_s"]) == {"16", "64"} and r["transformers"]["decode_tok_s"]["64"] > 0
    assert r["ours"]["state_bytes"]["16"] == r["ours"]["state_bytes"]["64"]  # bounded: window 24
    assert r["transformers"]["state_bytes"]["64"] > r["transformers"]["state_bytes"]["16"]
    lfm2.report(r)


def test_lfm2_350m_shape_reads_as_published():
    from assistant.bench.lfm2 import LFM2_350M_CONFIG
    from core.lfm2 import Lfm2Config, Lfm2LM

    cfg = Lfm2Config.from_hf(LFM2_350M_CONFIG)
    assert cfg.intermediate_size == 4608 and cfg.layer_types.count("full_attention") == 6
    with torch.device("meta"):
        assert 350e6 < Lfm2LM(cfg).num_parameters() < 360e6


def test_doctor_reports_an_lfm2_folder_and_names_what_is_missing(tmp_path):
    from assistant.doctor import check_model

    checks = check_model(lfm2_dir())
    assert checks[0].status == "ok" and "LFM2 checkpoint" in checks[0].detail
    broken = tmp_path / "broken"
    shutil.copytree(lfm2_dir(), broken)
    (broken / "model.safetensors").unlink()
    check = check_model(broken)[0]
    assert check.status == "fail" and "model.safetensors" in check.detail


def test_the_model_setting_selects_the_folder(monkeypatch):
    from assistant import paths

    monkeypatch.setenv("ASSISTANT_MODEL", str(lfm2_dir()))
    assert paths.default_model_dir() == lfm2_dir()


def test_bench_model_dispatches_an_lfm2_folder(monkeypatch, capsys):
    import argparse
    import json

    from assistant.bench import lfm2, model

    seen = {}
    monkeypatch.setattr(lfm2, "measure", lambda folder, quick=False: seen.setdefault("r", {"folder": str(folder), "quick": quick}))
    assert model.run(argparse.Namespace(model=str(lfm2_dir()), quick=True, json=True)) == 0
    assert json.loads(capsys.readouterr().out) == {"folder": str(lfm2_dir()), "quick": True}
