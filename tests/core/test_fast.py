"""The int8 decoding copy stays close to the model it was made from and leaves it untouched."""

from __future__ import annotations

import torch

from core.fast import int8_decoder
from core.lora import attach_lora, has_lora
from core.model import LiquidLM

from .conftest import tiny_config


def test_int8_decoder_tracks_the_fp32_model_and_leaves_it_alone(kind):
    torch.manual_seed(0)
    model = LiquidLM(tiny_config(kind, d_model=64, n_heads=4)).eval()
    attach_lora(model, rank=2)
    with torch.no_grad():
        for m in model.modules():
            if getattr(m, "lora_B", None) is not None:
                m.lora_B.normal_(std=0.05)  # a non-trivial adapter, which the copy must include
    q = int8_decoder(model)
    ids = torch.randint(0, 300, (1, 24))
    a, b, sa, sb = [], [], None, None
    with torch.inference_mode():
        for i in range(ids.shape[1]):
            la, sa = model.step(ids[:, i], sa)
            lb, sb = q.step(ids[:, i], sb)
            a.append(la)
            b.append(lb)
    a, b = torch.stack(a), torch.stack(b)
    assert has_lora(model)  # the original keeps its adapter
    assert (a - b).abs().mean() < 0.1 * a.abs().mean()
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() >= 0.8
