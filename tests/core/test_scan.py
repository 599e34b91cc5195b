"""The scan (chunked, parallel) form and the step form are one computation."""

from __future__ import annotations

import pytest
import torch

from core.model import LiquidLM, diagonal_scan, matrix_scan

from .conftest import tiny_config


def step_logits(model, ids, state=None):
    out = []
    for i in range(ids.shape[1]):
        logits, state = model.step(ids[:, i], state)
        out.append(logits)
    return torch.stack(out, 1), state


@pytest.mark.parametrize("chunk", [1, 4, 8, 16])
@pytest.mark.parametrize("length", [1, 7, 19, 33])
def test_scan_form_equals_step_form(kind, chunk, length):
    torch.manual_seed(length * 100 + chunk)
    model = LiquidLM(tiny_config(kind, chunk_size=chunk)).eval()
    ids = torch.randint(0, 300, (2, length))
    with torch.no_grad():
        full, full_state = model(ids)
        stepped, step_state = step_logits(model, ids)
    torch.testing.assert_close(full, stepped, atol=1e-5, rtol=1e-5)
    for a, b in zip(full_state, step_state):
        for name in a:
            torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-5)


def test_diagonal_scan_matches_loop_with_strong_decay():
    """Large time steps (fast forgetting) must not overflow the log-space scan."""
    torch.manual_seed(0)
    log_a = -torch.rand(2, 50, 8) * 20  # a down to e^-20
    x = torch.randn(2, 50, 8)
    h0 = torch.randn(2, 8)
    out, last = diagonal_scan(log_a, x, h0, chunk=16)
    h, ref = h0, []
    for t in range(50):
        h = torch.exp(log_a[:, t]) * h + x[:, t]
        ref.append(h)
    torch.testing.assert_close(out, torch.stack(ref, 1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(last, ref[-1], atol=1e-5, rtol=1e-5)


def test_matrix_scan_matches_loop():
    torch.manual_seed(1)
    b, h, t, k = 2, 3, 21, 4
    q, kk, v = torch.randn(b, h, t, k), torch.randn(b, h, t, k), torch.randn(b, h, t, k)
    log_a = -torch.rand(b, h, t) * 3
    S0 = torch.randn(b, h, k, k)
    out, S_last = matrix_scan(q, kk, v, log_a, S0, chunk=8)
    S, ref = S0, []
    for i in range(t):
        a = torch.exp(log_a[:, :, i])[..., None, None]
        S = a * S + (1 - a) * kk[:, :, i, :, None] * v[:, :, i, None, :]
        ref.append((q[:, :, i, None, :] @ S).squeeze(-2))
    torch.testing.assert_close(out, torch.stack(ref, 2), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(S_last, S, atol=1e-5, rtol=1e-5)


def test_prefill_then_steps_equals_full_forward(tiny_model):
    ids = torch.randint(0, 300, (1, 40))
    with torch.no_grad():
        full, _ = tiny_model(ids)
        pre, state = tiny_model(ids[:, :25])
        rest, _ = step_logits(tiny_model, ids[:, 25:], state)
    torch.testing.assert_close(torch.cat([pre, rest], 1), full, atol=1e-5, rtol=1e-5)


def test_gradients_flow_through_the_scan(tiny_model):
    tiny_model.train()
    ids = torch.randint(0, 300, (2, 20))
    logits, _ = tiny_model(ids)
    logits.logsumexp(-1).mean().backward()
    for name, p in tiny_model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_32k_tokens_stay_finite(kind):
    torch.manual_seed(0)
    model = LiquidLM(tiny_config(kind, chunk_size=64)).eval()
    ids = torch.randint(0, 300, (1, 32768))
    with torch.no_grad():
        logits, state = model(ids)
    assert torch.isfinite(logits).all()
    assert all(torch.isfinite(t).all() for layer in state for t in layer.values())
