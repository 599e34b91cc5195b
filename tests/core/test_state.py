"""The recurrent state: fixed size, serialisable, refuses a model it does not fit."""

from __future__ import annotations

import pytest
import torch

from core.errors import StateMismatch
from core.model import LiquidLM, zero_state
from core.state import state_from_bytes, state_nbytes, state_to_bytes

from .conftest import tiny_config


def test_state_round_trips_through_bytes_and_continues_identically(tiny_model):
    cfg = tiny_model.cfg
    ids = torch.randint(0, 300, (1, 30))
    with torch.no_grad():
        _, state = tiny_model(ids[:, :17])
        expected, _ = tiny_model(ids[:, 17:], state)
        data = state_to_bytes(state, cfg.hash(), tokens_seen=17)
        restored, header = state_from_bytes(data, zero_state(cfg), cfg.hash())
        got, _ = tiny_model(ids[:, 17:], restored)
    assert header["tokens_seen"] == 17
    assert torch.equal(got, expected)


def test_state_size_does_not_grow_with_history(tiny_model):
    with torch.no_grad():
        _, short = tiny_model(torch.randint(0, 300, (1, 10)))
        _, long = tiny_model(torch.randint(0, 300, (1, 3000)))
    assert state_nbytes(short) == state_nbytes(long) == state_nbytes(zero_state(tiny_model.cfg))


def test_state_refuses_a_model_with_another_config(kind):
    cfg = tiny_config(kind)
    other = tiny_config(kind, d_model=64)
    data = state_to_bytes(zero_state(cfg), cfg.hash())
    with pytest.raises(StateMismatch, match="made by model"):
        state_from_bytes(data, zero_state(other), other.hash())


def test_state_refuses_damaged_bytes(kind):
    cfg = tiny_config(kind)
    with pytest.raises(StateMismatch):
        state_from_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!", zero_state(cfg), cfg.hash())
    data = state_to_bytes(zero_state(cfg), cfg.hash())
    with pytest.raises(StateMismatch):
        state_from_bytes(data[: len(data) // 2], zero_state(cfg), cfg.hash())


def test_default_state_sizes_are_bounded():
    from core.config import LiquidConfig

    assert state_nbytes(zero_state(LiquidConfig(state_kind="diagonal"))) <= 28 * 1024
    assert state_nbytes(zero_state(LiquidConfig(state_kind="matrix"))) <= 1024 * 1024
