"""Fixtures for the model tests: tiny random models of both state kinds and a tiny tokenizer."""

from __future__ import annotations

import random

import pytest
import torch

from core.config import LiquidConfig
from core.model import LiquidLM
from core.tokenizer import train_tokenizer

TINY = dict(vocab_size=300, d_model=32, n_layers=2, n_heads=4, chunk_size=8, dt_max=0.5)


def tiny_config(kind: str, **over) -> LiquidConfig:
    """kind: "diagonal", "matrix", or "hybrid" (matrix blocks with a short-window attention block)."""
    if kind == "hybrid":
        over = {"attn_layers": [1], "attn_window": 6, **over}
        kind = "matrix"
    return LiquidConfig(**{**TINY, "state_kind": kind, **over})


@pytest.fixture(params=["diagonal", "matrix", "hybrid"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def tiny_model(kind) -> LiquidLM:
    torch.manual_seed(0)
    return LiquidLM(tiny_config(kind)).eval()


WORDS = (
    "hello there how are you today I am fine thanks what is your name my name is Anna and I live in "
    "Lisbon with my cat Miso we like tea and long walks by the river the weather is lovely tomorrow "
    "I will visit my sister in Porto remember that her birthday is on the fourth of May"
).split()


@pytest.fixture(scope="session")
def tiny_tokenizer():
    rng = random.Random(0)
    texts = []
    for _ in range(400):
        u = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        a = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        texts.append(f"<|user|>{u}<|end|><|assistant|>{a}<|end|>")
    return train_tokenizer(texts, vocab_size=300)
