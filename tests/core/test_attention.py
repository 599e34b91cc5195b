"""The window-attention block: its bounded state, its window, and growing a trained model with it."""

from __future__ import annotations

import pytest
import torch

from core.config import LiquidConfig
from core.model import LiquidLM, insert_attention_block, zero_state
from core.state import state_from_bytes, state_nbytes, state_to_bytes

from .conftest import tiny_config


def test_attention_sees_exactly_the_last_window_tokens():
    torch.manual_seed(0)
    cfg = tiny_config("matrix", n_layers=1, attn_layers=[0], attn_window=4)
    block = LiquidLM(cfg).blocks[0].mixer.eval()
    x = torch.randn(1, 10, cfg.d_model)
    with torch.no_grad():
        y, _ = block(x, None)
        for t in range(10):
            changed = x.clone()
            changed[0, t] += 5.0
            dy = (block(changed, None)[0] - y).abs().amax(-1)[0]  # (t,)
            touched = (dy > 1e-6).nonzero().flatten().tolist()
            assert touched == list(range(t, min(t + 4, 10))), f"token {t} reached {touched}"


def test_attention_state_is_fixed_size_and_counts_what_it_holds():
    cfg = tiny_config("hybrid")
    model = LiquidLM(cfg).eval()
    with torch.no_grad():
        _, short = model(torch.randint(0, cfg.vocab_size, (1, 3)))
        _, long = model(torch.randint(0, cfg.vocab_size, (1, 50)))
    assert state_nbytes(short) == state_nbytes(long) == state_nbytes(zero_state(cfg))
    assert short[1]["n"].item() == 3 and long[1]["n"].item() == cfg.attn_window


def test_batched_states_of_different_fill_stay_independent():
    torch.manual_seed(1)
    cfg = tiny_config("hybrid")
    model = LiquidLM(cfg).eval()
    a, b = torch.randint(0, cfg.vocab_size, (1, 2)), torch.randint(0, cfg.vocab_size, (1, 9))
    nxt = torch.randint(0, cfg.vocab_size, (1, 4))
    with torch.no_grad():
        _, sa = model(a)
        _, sb = model(b)
        la, _ = model(nxt, sa)
        lb, _ = model(nxt, sb)
        both = [{k: torch.cat([x[k], y[k]]) for k in x} for x, y in zip(sa, sb)]
        lab, _ = model(nxt.repeat(2, 1), both)
    torch.testing.assert_close(lab[0], la[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lab[1], lb[0], rtol=1e-5, atol=1e-5)


def test_hybrid_state_round_trips_and_continues_identically():
    torch.manual_seed(2)
    cfg = tiny_config("hybrid")
    model = LiquidLM(cfg).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, 30))
    with torch.no_grad():
        full, _ = model(ids)
        _, state = model(ids[:, :17])
        restored, _ = state_from_bytes(state_to_bytes(state, cfg.hash()), zero_state(cfg), cfg.hash())
        rest, _ = model(ids[:, 17:], restored)
    torch.testing.assert_close(rest, full[:, 17:], rtol=1e-5, atol=1e-5)


def test_grown_model_computes_what_the_old_one_did_until_trained():
    torch.manual_seed(3)
    old = LiquidLM(tiny_config("matrix", n_layers=3)).eval()
    grown = insert_attention_block(old, 1).eval()
    assert grown.cfg.n_layers == 4 and grown.cfg.attn_layers == [1]
    assert grown.cfg.hash() != old.cfg.hash()
    ids = torch.randint(0, old.cfg.vocab_size, (2, 20))
    with torch.no_grad():
        torch.testing.assert_close(grown(ids)[0], old(ids)[0], rtol=0, atol=0)
    # the later blocks moved up with their weights
    torch.testing.assert_close(grown.blocks[3].mlp.up_proj.weight, old.blocks[2].mlp.up_proj.weight)
    # and the new block does learn: one step moves the logits
    opt = torch.optim.SGD(grown.parameters(), lr=0.5)
    for _ in range(2):
        logits, _ = grown(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert grown.blocks[1].mixer.out_proj.weight.abs().sum() > 0
    assert grown.blocks[1].mixer.qkv_proj.weight.grad.abs().sum() > 0


def test_growing_twice_shifts_the_earlier_attention_block():
    old = LiquidLM(tiny_config("hybrid", n_layers=3)).eval()  # attention at 1
    grown = insert_attention_block(old, 0)
    assert grown.cfg.attn_layers == [0, 2]
    with pytest.raises(ValueError, match="--at"):
        insert_attention_block(old, 7)


def test_all_liquid_configs_keep_their_config_hash():
    # states and adapters saved by earlier versions stay loadable: the new fields only enter the
    # hash when a config uses attention
    assert LiquidConfig().hash() == LiquidConfig(attn_window=128).hash()
    assert LiquidConfig().hash() != LiquidConfig(n_layers=7, attn_layers=[3]).hash()


def test_config_rejects_attention_outside_the_stack():
    with pytest.raises(ValueError, match="attn_layers"):
        LiquidConfig(n_layers=2, attn_layers=[2])
