"""Generation: reproducible with a seed, stops on <|end|>, cancellable, state continues exactly."""

from __future__ import annotations

import threading

import pytest
import torch

from core.generate import Generator, SamplingSettings
from core.lfm2 import clone_state
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
    assert "".join(pieces) == tok.decode(gen.reply_ids)


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


@torch.no_grad()
def test_memory_contrast_decodes_from_the_amplified_difference(model_and_tok, kind):
    """Each token is argmax((1 + a) logits with the block - a logits without it), both states
    following the reply; the state kept is the one that read the block."""
    _, tok = model_and_tok
    # an untrained model at its initialisation barely lets the block reach the question:
    # slow-forgetting states and larger projections make it matter
    torch.manual_seed(1)
    model = LiquidLM(tiny_config(kind, vocab_size=tok.vocab_size, dt_min=1e-3, dt_max=1e-2)).eval()
    for name, param in model.named_parameters():
        if name.endswith("proj.weight"):
            param.normal_(0, 0.3)
    alpha, n = 3.0, 12
    without = tok.encode_chat([("user", "where")], None)

    def by_hand(with_block: list[int], a: float) -> list[int]:
        out: list[int] = []
        lw, sw = model(torch.tensor([with_block]))
        lo, so = model(torch.tensor([without]))
        lw, lo = lw[0, -1], lo[0, -1]
        for _ in range(n):
            nxt = int(torch.argmax((1 + a) * lw - a * lo))
            if nxt == tok.end_id:
                break
            out.append(nxt)
            (lw, sw), (lo, so) = model.step(torch.tensor([nxt]), sw), model.step(torch.tensor([nxt]), so)
            lw, lo = lw[0], lo[0]
        return out

    # a block whose contrast changes the greedy reply (the test is void if none does)
    blocks = [tok.encode_chat([("user", "where")], [f"I live in {city}."]) for city in ("Leeds", "Oslo", "Lima", "Kyiv", "Cork")]
    found = [(b, by_hand(b, alpha)) for b in blocks if by_hand(b, alpha) != by_hand(b, 0.0)]
    assert found, "no block changed the reply: the test model cannot tell the two prompts apart"
    with_block, expected = found[0]
    settings = SamplingSettings(temperature=0, repetition_penalty=1.0, max_tokens=n, memory_contrast=alpha)
    gen = Generator(model, tok)
    list(gen.stream(with_block, None, settings, contrast_ids=without))
    assert gen.reply_ids == expected
    _, reread = model(torch.tensor([with_block + gen.reply_ids + [tok.end_id]]))
    for a, b in zip(gen.state, reread):
        for name in a:
            torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-5)


def test_memory_contrast_off_or_without_a_block_is_plain_decoding(model_and_tok):
    model, tok = model_and_tok
    prompt = tok.encode_chat([("user", "hello")], ["I live in Leeds."])
    s = SamplingSettings(temperature=0.9, max_tokens=12, seed=5)
    plain = "".join(Generator(model, tok).stream(prompt, None, s))
    off = SamplingSettings(temperature=0.9, max_tokens=12, seed=5, memory_contrast=0.0)
    assert "".join(Generator(model, tok).stream(prompt, None, off, contrast_ids=tok.encode_chat([("user", "hello")]))) == plain
    assert "".join(Generator(model, tok).stream(prompt, None, s, contrast_ids=None)) == plain


@torch.no_grad()
def test_memory_contrast_leaves_the_callers_state_as_it_was(model_and_tok):
    model, tok = model_and_tok
    _, state = model(torch.tensor([tok.encode_chat([("user", "my name is Ada")])]))
    before = clone_state(state)
    prompt = tok.encode_chat([("user", "who am I")], ["my name is Ada"])
    gen = Generator(model, tok)
    list(gen.stream(prompt, state, SamplingSettings(temperature=0, max_tokens=6), contrast_ids=tok.encode_chat([("user", "who am I")])))
    for a, b in zip(state, before):
        for name in a:
            assert torch.equal(a[name], b[name])


def test_memory_contrast_weight_is_checked():
    with pytest.raises(ValueError, match="memory_contrast"):
        SamplingSettings(memory_contrast=-0.1)
