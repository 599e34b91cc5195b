"""Adapters: a fresh one changes nothing; a trained one changes logits, round-trips and merges."""

from __future__ import annotations

import pytest
import torch

from core.errors import AdapterMismatch
from core.lora import (
    adapter_to_bytes,
    attach_lora,
    detach_lora,
    has_lora,
    load_adapter_bytes,
    lora_disabled,
    merge_lora,
)
from core.model import LiquidLM

from .conftest import tiny_config


def train_adapter(model, steps=5):
    params = attach_lora(model, rank=4, alpha=8, seed=1)
    opt = torch.optim.SGD(params, lr=0.5)
    ids = torch.randint(0, 300, (2, 16), generator=torch.Generator().manual_seed(3))
    for _ in range(steps):
        logits, _ = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_fresh_adapter_changes_no_logit(tiny_model):
    ids = torch.randint(0, 300, (1, 20))
    with torch.no_grad():
        before, _ = tiny_model(ids)
        attach_lora(tiny_model, rank=8)
        after, _ = tiny_model(ids)
    assert torch.equal(before, after)


def test_trained_adapter_changes_logits_and_round_trips(tiny_model):
    ids = torch.randint(0, 300, (1, 20))
    with torch.no_grad():
        base, _ = tiny_model(ids)
    train_adapter(tiny_model)
    with torch.no_grad():
        adapted, _ = tiny_model(ids)
        with lora_disabled(tiny_model):
            bypassed, _ = tiny_model(ids)
    assert not torch.allclose(adapted, base, atol=1e-4)
    assert torch.equal(bypassed, base)
    data = adapter_to_bytes(tiny_model, tiny_model.cfg.hash(), meta={"version": 3})
    fresh = LiquidLM(tiny_model.cfg).eval()
    fresh.load_state_dict({k: v for k, v in tiny_model.state_dict().items() if "lora_" not in k}, strict=False)
    header = load_adapter_bytes(fresh, data, tiny_model.cfg.hash())
    with torch.no_grad():
        loaded, _ = fresh(ids)
    assert header["meta"] == {"version": 3}
    assert torch.equal(loaded, adapted)


def test_merged_adapter_gives_the_same_logits(tiny_model):
    train_adapter(tiny_model)
    ids = torch.randint(0, 300, (1, 20))
    with torch.no_grad():
        adapted, _ = tiny_model(ids)
        merge_lora(tiny_model)
        merged, _ = tiny_model(ids)
    assert not has_lora(tiny_model)
    torch.testing.assert_close(merged, adapted, atol=1e-5, rtol=1e-5)


def test_adapter_refuses_another_model(kind):
    model = LiquidLM(tiny_config(kind))
    attach_lora(model, rank=2)
    data = adapter_to_bytes(model, model.cfg.hash())
    other = LiquidLM(tiny_config(kind, d_model=64))
    with pytest.raises(AdapterMismatch, match="made for model"):
        load_adapter_bytes(other, data, other.cfg.hash())
    detach_lora(model)
    assert not has_lora(model)
