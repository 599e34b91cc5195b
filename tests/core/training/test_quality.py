"""The converted model's quality measurements: answer matching, windowed loss, held-out text."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from core.hybrid import HybridConfig, HybridLM
from core.training.convert import held_out
from core.training.quality import GENERAL_QUESTIONS, answer_matches, bits_per_byte, held_out_documents, text_nats

ROOT = Path(__file__).resolve().parents[3]


def _tiny_llama() -> HybridLM:
    torch.manual_seed(0)
    cfg = HybridConfig(
        vocab_size=256, hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2,
        head_dim=8, layer_types=["attention", "attention"], attention_window=1024, attention_sinks=0, chunk_size=4,
    )
    model = HybridLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model


class ByteTokens:
    """Bytes as token ids (the measurement needs only `encode`)."""

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))


def test_answers_match_at_word_starts_only():
    assert answer_matches("The capital of France is Paris.", ("paris",))
    assert answer_matches("It turns into a butterfly.", ("butterfl", "moth"))
    assert not answer_matches("There are 17 of them.", ("7", "seven"))
    assert not answer_matches("I am not sure.", ("paris",))


def test_the_general_set_is_large_enough_and_has_no_repeats():
    questions = [q for q, _ in GENERAL_QUESTIONS]
    assert len(questions) >= 30 and len(set(questions)) == len(questions)
    assert all(answers and all(a == a.lower() for a in answers) for _, answers in GENERAL_QUESTIONS)


def test_windowed_loss_scores_every_token_once_and_one_window_equals_a_plain_forward():
    model = _tiny_llama()
    ids = torch.randint(0, 256, (50,)).tolist()
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids[:-1]]))
    whole = F.cross_entropy(logits[0], torch.tensor(ids[1:]), reduction="sum").item()
    nats, count = text_nats(model, ids, ctx=64)
    assert count == 49 and math.isclose(nats, whole, rel_tol=1e-5)
    short, count = text_nats(model, ids, ctx=16, batch=2)
    assert count == 49 and not math.isclose(short, whole, rel_tol=1e-5)  # fresh state every 16 tokens


def test_bits_per_byte_divides_by_the_texts_bytes():
    model = _tiny_llama()
    text = "héllo wörld, " * 4
    nats, _ = text_nats(model, ByteTokens().encode(text), 32)
    assert math.isclose(bits_per_byte(model, ByteTokens(), text, 32), nats / math.log(2) / len(text.encode()), rel_tol=1e-9)


def test_held_out_text_is_only_what_the_conversion_held_out():
    docs = held_out_documents(4_000)
    assert set(docs) == {"chat", "general"}
    for parts in docs.values():
        assert sum(len(p.encode()) for p in parts) >= 1_000
        assert all(held_out(p, 1234, 0.03) for p in parts)  # the split is a pure function of the text


@pytest.mark.slow
def test_evaluate_quick_scores_the_shipped_conversion_beside_its_teacher(tmp_path, capsys):
    """`assistant convert evaluate --quick --write-card` on a copy of the shipped folder: every
    measurement for both models, the table printed, the figures in the copy's card."""
    import json
    import shutil

    from core.converted import read_config
    from ui.cli import main

    folder = tmp_path / "model"
    shutil.copytree(ROOT / "models" / "smollm2-liquid", folder, ignore=shutil.ignore_patterns("leg"))
    read_config(folder)
    assert main(["convert", "evaluate", "--model", str(folder), "--quick", "--write-card"]) == 0
    out = capsys.readouterr().out
    assert "bits/byte, held-out chat@512" in out and "general questions correct" in out
    card = json.loads((folder / "card.json").read_text())["quality"]
    assert set(card["bits_per_byte"]["general@2048"]) == {"converted", "teacher"}
    assert all(0.2 < v < 5 for by in card["bits_per_byte"].values() for v in by.values())
    assert card["memory"]["teacher"]["cases_with_answer"] == 1 and card["measured_by"].endswith("--quick")
