"""The shipped default model loads offline and answers."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from core.checkpoint import load_model
from core.training.dialogues import memory_eval_cases
from core.training.evaluate import greedy_reply, memory_eval

MODEL = Path(__file__).resolve().parents[2] / "models" / "default"


def test_shipped_model_folder_is_complete_and_small():
    names = {p.name for p in MODEL.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.model", "anchor.txt", "card.json"} <= names
    total = sum(p.stat().st_size for p in MODEL.iterdir() if p.is_file())
    assert total < 60 * 1024 * 1024
    assert 150_000 < (MODEL / "anchor.txt").stat().st_size < 300_000


def test_shipped_model_loads_and_replies():
    model, tok = load_model(MODEL)
    assert 10_000_000 < model.num_parameters() < 20_000_000
    with torch.inference_mode():
        reply = greedy_reply(model, tok, [("user", "Hello!")], None, max_tokens=24)
    assert reply.strip()
    assert "<|" not in reply


def test_card_records_training():
    card = json.loads((MODEL / "card.json").read_text())
    assert card["training"]["tokens_seen"] > 0
    assert card["training"]["history"], "the card keeps the loss history"


def test_shipped_model_answers_from_its_memory_block_and_invents_nothing_without_it():
    """A guard, not the bar (the card measures that on 200 cases): on twenty held-out cases of
    another draw, most are answered from the block as the assistant decodes, and none has the
    value when the block is removed. An export of the wrong weights fails here."""
    model, tok = load_model(MODEL)
    cases = memory_eval_cases(seed=3, present=20, absent=0)
    with torch.inference_mode():
        result = memory_eval(model, tok, cases)
    assert result["correct_with_block"] >= 0.6, result["failures"]
    assert result["invented_without_block"] == 0.0
