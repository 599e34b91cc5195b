"""The benchmark's transformer: the fixed-shape decoding step equals the cached forward."""

from __future__ import annotations

import torch

from core.config import LiquidConfig
from core.training.baseline import KVCache, TransformerLM


def test_static_step_equals_the_cached_forward_token_by_token():
    torch.manual_seed(0)
    model = TransformerLM(LiquidConfig(vocab_size=97, d_model=32, n_layers=2, n_heads=4)).eval()
    prompt, follow = torch.randint(0, 97, (2, 11)), torch.randint(0, 97, (2, 5))
    dynamic, static = KVCache(model.cfg, 2, 20), KVCache(model.cfg, 2, 20)
    with torch.inference_mode():
        model(prompt, dynamic)
        model(prompt, static)
        for i in range(follow.shape[1]):
            want = model(follow[:, i : i + 1], dynamic)[:, -1]
            got = model.step_static(follow[:, i], static, torch.tensor(11 + i))
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(static.k, dynamic.k)
