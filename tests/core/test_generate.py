"""Generation: reproducible with a seed, stops on <|end|>, cancellable, state continues exactly."""

from __future__ import annotations

import threading

import pytest
import torch

from core.generate import Generator, SamplingSettings
from core.model import LiquidLM

from .conftest import tiny_config


@pytest.fixture
def model_and_tok(kind, tiny_tokenizer):
    torch.manual_seed(0)
    return LiquidLM(tiny_config(kind, vocab_size=tiny_tokenizer.vocab_size)).eval(), tiny_tokenizer


def test_seeded_generation_is_reproducible(model_and_tok):
    model, tok = model_and_tok
    prompt = tok.encode_chat([("user", "hello there")])
    s = SamplingSettings(temperature=1.0, top_p=0.9, max_tokens=30, seed=7)
    a = "".join(Generator(model, tok).stream(prompt, None, s))
    b = "".join(Generator(model, tok).stream(prompt, None, s))
    c = "".join(Generator(model, tok).stream(prompt, None, SamplingSettings(temperature=1.0, max_tokens=30, seed=8)))
    assert a == b
    assert a != c


def test_generation_stops_on_end(model_and_tok):
    model, tok = model_and_tok
    with torch.no_grad():  # make <|end|> the certain next token after two tokens
        model.embed.weight[tok.end_id] *= 0
    gen = Generator(model, tok)
    bias = torch.zeros(tok.vocab_size)
    bias[tok.end_id] = 1e4
    original = model.step

    calls = {"n": 0}

    def biased_step(ids, state):
        logits, state = original(ids, state)
        calls["n"] += 1
        return (logits + bias if calls["n"] >= 2 else logits), state

    model.step = biased_step
    pieces = list(gen.stream(tok.encode_chat([("user", "hi")]), None, SamplingSettings(temperature=0, max_tokens=50)))
    assert gen.stopped_by == "end"
    assert len(gen.reply_ids) == 2
    assert "".join(pieces) == gen.reply_text()


def test_generation_respects_max_tokens_and_cancel(model_and_tok):
    model, tok = model_and_tok
    prompt = tok.encode_chat([("user", "hi")])
    gen = Generator(model, tok)
    list(gen.stream(prompt, None, SamplingSettings(temperature=1.0, max_tokens=5, seed=1)))
    assert len(gen.reply_ids) <= 5
    cancel = threading.Event()
    gen2 = Generator(model, tok)
    it = gen2.stream(prompt, None, SamplingSettings(temperature=1.0, max_tokens=200, seed=1), cancel=cancel)
    next(it, None)
    cancel.set()
    rest = list(it)
    assert gen2.stopped_by == "cancel"
    assert len(rest) <= 1


def test_state_after_a_reply_equals_rereading_the_conversation(model_and_tok):
    """The state a reply leaves (with its closing <|end|>) is what a full re-read would give."""
    model, tok = model_and_tok
    prompt = tok.encode_chat([("user", "hello there")])
    gen = Generator(model, tok)
    list(gen.stream(prompt, None, SamplingSettings(temperature=0.8, max_tokens=12, seed=3)))
    full = prompt + gen.reply_ids + [tok.end_id]
    with torch.no_grad():
        _, reread = model(torch.tensor([full]))
    for a, b in zip(gen.state, reread):
        for name in a:
            torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-5)


def test_bad_sampling_settings_are_refused():
    with pytest.raises(ValueError, match="top_p"):
        SamplingSettings(top_p=0)
    with pytest.raises(ValueError, match="temperature"):
        SamplingSettings(temperature=-1)
