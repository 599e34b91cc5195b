"""`bench model` on a converted model: the hybrid beside its teacher, measured state bytes."""

from __future__ import annotations

from core.converted import GGUF_ENV
from core.training import convert
from tests.core.gguf_support import make_tiny_run


def test_converted_bench_measures_both_models_and_real_state_bytes(tmp_path, monkeypatch):
    run, s = make_tiny_run(tmp_path)
    convert.stage1(run, s, max_steps=1, progress=False, log=lambda *_: None)
    folder = convert.export_converted(run, tmp_path / "model", [1])
    monkeypatch.setenv(GGUF_ENV, s.gguf)
    from assistant.bench.converted import measure

    r = measure(folder, contexts=(16, 48), steps=3, log=lambda *_: None)
    lq, tf = r["liquid"], r["teacher"]
    assert set(lq["decode_tok_s_by_mode"]["16"]) == {"eager", "int8"}
    assert lq["decode_tok_s"]["48"] == max(lq["decode_tok_s_by_mode"]["48"].values())
    # the converted model's state is bounded (window 1024 > 48 here, so it is the same size);
    # the teacher's full cache grows with the context
    assert lq["state_bytes"]["16"] == lq["state_bytes"]["48"]
    assert tf["state_bytes"]["48"] > tf["state_bytes"]["16"]
    assert r["ratios"]["liquid state bytes equal at every context"] is True


def test_doctor_names_a_converted_models_missing_source_and_how_to_get_it(tmp_path, monkeypatch):
    from assistant.doctor import check_model

    run, s = make_tiny_run(tmp_path)
    convert.stage1(run, s, max_steps=1, progress=False, log=lambda *_: None)
    folder = convert.export_converted(run, tmp_path / "model", [1])
    monkeypatch.setenv(GGUF_ENV, str(tmp_path / "gone.gguf"))
    [check] = check_model(folder)
    assert check.status == "fail" and "missing" in check.detail and "make source" in check.fix
    monkeypatch.setenv(GGUF_ENV, s.gguf)
    [check] = check_model(folder)[:1]
    assert check.status == "ok" and "converted GGUF" in check.detail
