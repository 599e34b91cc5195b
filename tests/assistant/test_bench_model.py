"""The model benchmark's measurements have the documented shape, every model gets every decoding
mode, and state bytes are measured (so the comparisons between them can fail)."""

from __future__ import annotations

import pytest

from assistant.bench.model import measure, ratios
from core.config import LiquidConfig
from core.model import zero_state
from core.state import state_nbytes


CFG = LiquidConfig(vocab_size=256, d_model=64, n_layers=2, n_heads=2, chunk_size=16, attn_window=32)


@pytest.fixture(scope="module")
def r():
    return measure(quick=True, cfg=CFG, contexts=(64, 512), steps=4, log=lambda m: None)


def test_model_bench_reports_every_figure_with_a_fixed_liquid_state(r):
    cfg = CFG
    for name in ("liquid", "transformer"):
        row = r[name]
        assert set(row["decode_tok_s"]) == {"64", "512"}
        assert all(v > 0 for v in row["decode_tok_s"].values())
        assert row["ttft_ms_500"] > 0
        # every model gets every mode, and the best of each is what is reported
        for n, speeds in row["decode_tok_s_by_mode"].items():
            assert set(speeds) == {"eager", "int8"}, name
            assert row["decode_tok_s"][n] == max(speeds.values())
    assert r["liquid"]["lora_step_ms"] > 0
    # measured, not computed: the serialised state holds at least the tensors' bytes
    lq, tf = r["liquid"]["state_bytes"], r["transformer"]["state_bytes"]
    assert lq["64"] == lq["512"] >= state_nbytes(zero_state(cfg))
    per_token = 2 * cfg.n_layers * cfg.d_model * 4  # fp32 keys and values
    for n in (64, 512):
        assert 0 < tf[str(n)] - per_token * n < 4096  # the tensors plus a safetensors header
    assert ratios(r)["liquid state bytes equal at every context"] is True


def test_like_for_like_row_sets_liquid_blocks_against_window_attention_blocks_of_the_same_window(r):
    cfg = CFG
    same = r["like_for_like"]
    alone, window = same["liquid_blocks"], same["window_attention_blocks"]
    assert same["attention_window"] == 32
    assert 0.7 < alone["parameters"] / window["parameters"] < 1.3  # equal-size, near enough
    for row in (alone, window):
        assert set(row["decode_tok_s"]) == {"64", "512"} and all(v > 0 for v in row["decode_tok_s"].values())
        assert row["state_bytes"]["64"] == row["state_bytes"]["512"]  # both bounded past the window
    assert window["state_bytes"]["64"] > 2 * cfg.n_layers * 32 * cfg.d_model * 4  # W keys and values a block
    assert "liquid blocks / window-attention blocks decode at 512" in ratios(r)


def test_the_printed_report_shows_every_mode_and_the_like_for_like_row(r, monkeypatch, capsys):
    import argparse

    from assistant.bench import model as bench

    monkeypatch.setattr(bench, "measure", lambda quick=False: r)
    assert bench.run(argparse.Namespace(model=None, quick=True, json=False)) == 0
    out = capsys.readouterr().out
    assert "transformer decode modes at 512 (tok/s): eager" in out and "int8" in out
    assert "like for like, every block one kind (window 32)" in out
    assert "liquid blocks / window-attention blocks decode at 512" in out
