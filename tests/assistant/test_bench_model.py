"""The model benchmark's measurements have the documented shape and the state stays fixed."""

from __future__ import annotations

from assistant.bench.model import measure, ratios
from core.config import LiquidConfig


def test_model_bench_reports_every_figure_with_a_fixed_liquid_state():
    cfg = LiquidConfig(vocab_size=256, d_model=64, n_layers=2, n_heads=2, chunk_size=16)
    r = measure(quick=True, cfg=cfg, contexts=(64, 512), steps=4, log=lambda m: None)
    for name in ("liquid", "transformer"):
        assert set(r[name]["decode_tok_s"]) == {"64", "512"}
        assert all(v > 0 for v in r[name]["decode_tok_s"].values())
        assert r[name]["ttft_ms_500"] > 0
    assert r["liquid"]["lora_step_ms"] > 0
    assert r["liquid"]["state_bytes"]["64"] == r["liquid"]["state_bytes"]["512"]
    assert r["transformer"]["state_bytes"]["512"] == 8 * r["transformer"]["state_bytes"]["64"]
    assert ratios(r)["liquid state bytes equal at every context"] is True
