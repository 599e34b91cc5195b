"""Faster decoding on a CPU, used only where the benchmark shows it helps.

One-token decoding of a small model is bound by reading the weights from memory (about 55 MB in
fp32 per token for the default model), not by arithmetic. Two remedies, each optional:
  * `int8_decoder(model)`: a copy whose projections and output head are int8 (dynamic
    quantisation: weights int8, activations quantised on the fly), a quarter of the bytes to read;
  * `compiled_step(model)`: `torch.compile` of the one-step form, which fuses the many small
    element-wise operations between the projections.
Both leave the original model untouched; adapters must be merged into the copy first (the
session does that when an adapter version changes).
"""

from __future__ import annotations

import torch
from torch import nn

from core.lora import plain_copy, quantize_int8
from core.model import LiquidLM, zero_state


def int8_decoder(model: LiquidLM) -> LiquidLM:
    """A decode-only copy with int8 projections and head (the scan form still works, in fp32 glue)."""
    clone = plain_copy(model)
    head = nn.Linear(model.cfg.d_model, model.cfg.vocab_size, bias=False)
    head.weight = nn.Parameter(clone.embed.weight.detach().clone())
    clone.decode_head = head
    return quantize_int8(clone)


def compiled_step(model: LiquidLM):
    """`model.step` compiled for fixed shapes; the first call compiles (tens of seconds here)."""
    compiled = torch.compile(model.step, dynamic=False)

    def step(ids: torch.Tensor, state=None):
        return compiled(ids, state if state is not None else zero_state(model.cfg, ids.shape[0]))

    return step
