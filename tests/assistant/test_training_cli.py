"""The training commands end to end on a tiny corpus: run, export, grow, continue, card."""

from __future__ import annotations

import json

import pytest

from assistant.card import WRITTEN_BY_COMMAND, is_hand_written, unmarked
from core.checkpoint import load_model
from core.training.data import build_corpus
from tests.core.training.test_data import _fixture_sources
from ui.cli import main

SEQ, BATCH = 32, 2
SHAPE = ["--d-model", "32", "--layers", "2", "--heads", "4", "--vocab", "512"]
COMMON = ["--batch", str(BATCH), "--seq-len", str(SEQ), "--warmup", "1", "--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out, seed=5, quick=True, sources=_fixture_sources(), progress=False)
    return out


def _train(run, corpus, steps, *extra):
    return main(["train", "run", "--run", str(run), "--corpus", str(corpus), "--tokens", str(steps * SEQ * BATCH), *COMMON, *extra])


def test_a_run_grows_an_attention_block_and_continues_where_it_stopped(tmp_path, corpus, capsys):
    first, second = tmp_path / "run1", tmp_path / "run2"
    assert _train(first, corpus, 4, *SHAPE) == 0
    assert main(["train", "export", "--run", str(first), "--out", str(tmp_path / "m1"), "--dtype", "fp32"]) == 0
    assert main(["train", "grow", "--model", str(tmp_path / "m1"), "--at", "1", "--window", "16", "--out", str(tmp_path / "grown")]) == 0
    assert "attention at [1]" in capsys.readouterr().err

    # the continued run takes the grown folder's config and tokenizer, and counts on from step 4
    assert _train(second, corpus, 7, "--init-from", str(tmp_path / "grown"), "--rewarm-steps", "2") == 0
    assert (second / "tokenizer.model").read_bytes() == (first / "tokenizer.model").read_bytes()
    assert json.loads((second / "config.json").read_text())["attn_layers"] == [1]
    assert main(["train", "export", "--run", str(second), "--out", str(tmp_path / "m2")]) == 0

    model, _ = load_model(tmp_path / "m2")
    assert model.cfg.n_layers == 3 and model.cfg.attn_layers == [1] and model.cfg.attn_window == 16
    card = json.loads((tmp_path / "m2" / "card.json").read_text())
    assert card["training"]["steps"] == 7 and card["training"]["tokens_seen"] == 7 * SEQ * BATCH
    assert [(leg["start_step"], leg["end_step"]) for leg in card["training"]["legs"]] == [(0, 4), (4, 7)]
    change = card["architecture_changes"][0]
    assert change["at_tokens"] == 4 * SEQ * BATCH and change["parameters_after"] > change["parameters_before"]


def test_card_records_validation_memory_use_and_samples(tmp_path, corpus):
    run = tmp_path / "run"
    assert _train(run, corpus, 2, *SHAPE) == 0
    assert main(["train", "export", "--run", str(run), "--out", str(tmp_path / "m")]) == 0
    assert main(["train", "card", "--run", str(run), "--out", str(tmp_path / "m"), "--corpus", str(corpus), "--quick"]) == 0
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["validation"]["bits_per_byte"] > 0 and card["model"]["state_bytes"] > 0
    assert card["memory_use"]["cases_with_answer"] > 0 and len(card["samples"]) == 20
    assert (tmp_path / "m" / "anchor.txt").read_bytes() == (corpus / "anchor.txt").read_bytes()
    # a note written about a leg survives the next export (which rewrites the training record)
    card["training"]["legs"][0]["note"] = "the first leg, on a tiny corpus"
    (tmp_path / "m" / "card.json").write_text(json.dumps(card))
    assert _train(run, corpus, 3) == 0
    assert main(["train", "export", "--run", str(run), "--out", str(tmp_path / "m")]) == 0
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    legs = card["training"]["legs"]
    hand = {"text": "the first leg, on a tiny corpus", "written_by": "hand"}  # marked as a person's words
    assert [leg.get("note") for leg in legs] == [hand, None] and legs[-1]["end_step"] == 3
    # every field of the card is the commands' own or marked hand-written (issue 18)
    assert unmarked(card) == []
    assert not any(is_hand_written(card[key]) for key in WRITTEN_BY_COMMAND if key in card)


def test_every_card_field_a_command_writes_is_in_the_table_and_hand_fields_survive(tmp_path, corpus):
    """The commands write only fields the table names (a new one must be added there, or the
    card writer would take it for a person's); a field a person added is kept and marked."""
    run, out = tmp_path / "run", tmp_path / "m"
    assert _train(run, corpus, 2, *SHAPE) == 0
    assert main(["train", "export", "--run", str(run), "--out", str(out)]) == 0
    card = json.loads((out / "card.json").read_text())
    card["review"] = "read by a person: fine"
    (out / "card.json").write_text(json.dumps(card))
    assert main(["train", "card", "--run", str(run), "--out", str(out), "--corpus", str(corpus), "--quick"]) == 0
    assert main(["train", "grow", "--model", str(out), "--out", str(tmp_path / "g"), "--at", "1"]) == 0
    for folder in (out, tmp_path / "g"):
        card = json.loads((folder / "card.json").read_text())
        assert card["review"] == {"text": "read by a person: fine", "written_by": "hand"}
        assert set(card) - {"review"} <= set(WRITTEN_BY_COMMAND)
        assert unmarked(card) == []


def test_init_from_a_folder_without_a_model_says_so(tmp_path, corpus):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="needs a model folder"):
        _train(tmp_path / "run", corpus, 2, "--init-from", str(tmp_path / "empty"))


def test_drills_are_added_once_and_replaced_not_stacked(tmp_path, corpus):
    import numpy as np

    run = tmp_path / "run"
    assert _train(run, corpus, 1, *SHAPE) == 0
    base = np.fromfile(run / "train.bin", dtype=np.uint16)
    assert main(["train", "drills", "--run", str(run), "--tokens", "3000"]) == 0
    first = np.fromfile(run / "train.bin", dtype=np.uint16)
    assert np.array_equal(first[: len(base)], base) and len(first) > len(base) + 1000
    assert main(["train", "drills", "--run", str(run), "--tokens", "3000", "--seed", "1", "--echo"]) == 0
    second = np.fromfile(run / "train.bin", dtype=np.uint16)
    assert np.array_equal(second[: len(base)], base) and not np.array_equal(second[len(base):][:500], first[len(base):][:500])
    info = json.loads((run / "data.json").read_text())
    assert info["train"]["tokens"] == len(second)
    assert [e["from_step"] for e in info["extensions"]] == [1, 1]
    assert "echo" not in info["extensions"][0]["recipe"] and "echo=True" in info["extensions"][1]["recipe"]
    # training goes on over the new file
    assert _train(run, corpus, 2) == 0


def test_continuing_with_only_the_run_folder_keeps_the_stored_schedule(tmp_path, corpus, capsys):
    run = tmp_path / "run"
    assert _train(run, corpus, 6, *SHAPE, "--max-steps", "3", "--lr", "5e-3", "--seed", "9") == 0
    # no schedule options this time: the stored 6-step schedule, lr and seed go on
    assert main(["train", "run", "--run", str(run), "--corpus", str(corpus), "--no-progress", "--threads", "1"]) == 0
    settings = json.loads((run / "settings.json").read_text())
    assert settings["total_tokens"] == 6 * SEQ * BATCH and settings["lr"] == 5e-3 and settings["seed"] == 9
    assert settings["batch_size"] == BATCH and settings["seq_len"] == SEQ
    trainer = json.loads((run / "ckpt" / "trainer.json").read_text())["trainer"]
    assert trainer["step"] == 6
    # the schedule has ended: running again takes no step and records no empty leg
    assert main(["train", "run", "--run", str(run), "--corpus", str(corpus), "--no-progress", "--threads", "1"]) == 0
    again = json.loads((run / "ckpt" / "trainer.json").read_text())["trainer"]
    assert again["step"] == 6
    assert [(leg["start_step"], leg["end_step"]) for leg in again["legs"]] == [(0, 3), (3, 6)]
    # an option given again overrides the stored one (a longer schedule continues from step 6)
    assert main(["train", "run", "--run", str(run), "--corpus", str(corpus), "--tokens", str(8 * SEQ * BATCH),
                 "--no-progress", "--threads", "1"]) == 0
    assert json.loads((run / "ckpt" / "trainer.json").read_text())["trainer"]["step"] == 8
