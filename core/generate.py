"""Streaming generation: an iterator of text pieces, cancellable between tokens.

    gen = Generator(model, tokenizer)
    for piece in gen.stream(prompt_ids, state, settings, cancel=event):
        print(piece, end="")
    gen.state  # the state after the last token read (prompt, reply and the closing <|end|>)

The state after a reply includes the `<|end|>` that closes it, so the next turn continues from
exactly what a full re-read of the conversation would give.

Memory contrast (context-aware decoding, Shi et al. 2023, "Trusting Your Evidence"): when the
prompt holds a `<|memory|>` block, pass the same prompt without it as `contrast_ids`. A second
state reads that prompt and follows the reply, and each token is picked from

    (1 + a) * logits(with the block) - a * logits(without it)      a = settings.memory_contrast

which amplifies what the block changes, so a value in the block is copied rather than half
remembered ("Plovia" for Plovdiv). Without a block nothing changes. The kept state is the one
that read the block, as without contrast.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from core.model import LiquidLM
from core.tokenizer import Tokenizer


@dataclass
class SamplingSettings:
    temperature: float = 0.7  # 0 = greedy
    top_p: float = 0.9
    repetition_penalty: float = 1.1  # > 1 discourages tokens already in the reply
    max_tokens: int = 256
    seed: int | None = None
    memory_contrast: float = 0.5  # weight a above; 0 = plain decoding


    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if not 0 <= self.memory_contrast <= 4:
            raise ValueError(f"memory_contrast must be in [0, 4], got {self.memory_contrast}")


def sample_token(logits: torch.Tensor, previous: Sequence[int], s: SamplingSettings, gen: torch.Generator) -> int:
    """Pick the next id from logits (V,) with repetition penalty, temperature and top-p."""
    logits = logits.float().clone()
    if s.repetition_penalty != 1.0 and previous:
        idx = torch.tensor(sorted(set(previous)), dtype=torch.long)
        vals = logits[idx]
        logits[idx] = torch.where(vals > 0, vals / s.repetition_penalty, vals * s.repetition_penalty)
    if s.temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / s.temperature, dim=-1)
    if s.top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, 0) - sorted_p < s.top_p  # always keeps the first
        sorted_p = sorted_p * keep
        return int(order[torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=gen)])
    return int(torch.multinomial(probs, 1, generator=gen))


class Generator:
    """Runs prefill and decoding on one model; holds the state after each call."""

    def __init__(self, model: LiquidLM, tokenizer: Tokenizer) -> None:
        self.model = model
        self.tok = tokenizer
        self.state = None
        self.reply_ids: list[int] = []
        self.stopped_by: str = ""  # "end", "max_tokens" or "cancel"

    @torch.inference_mode()
    def prefill(self, ids: Sequence[int], state=None) -> torch.Tensor:
        """Read `ids` from `state`; returns the logits after the last one and keeps the new state."""
        if not ids:
            raise ValueError("prefill needs at least one token")
        logits, self.state = self.model(torch.tensor([list(ids)]), state)
        return logits[0, -1]

    @torch.inference_mode()
    def stream(
        self,
        prompt_ids: Sequence[int],
        state=None,
        settings: SamplingSettings | None = None,
        cancel: threading.Event | None = None,
        contrast_ids: Sequence[int] | None = None,
    ) -> Iterator[str]:
        """Decode a reply to `prompt_ids` read from `state`; `contrast_ids`: the prompt without its
        memory block (see the module's docstring), or None."""
        s = settings or SamplingSettings()
        gen = torch.Generator()
        gen.manual_seed(s.seed if s.seed is not None else int(torch.randint(0, 2**31 - 1, ()).item()))
        self.reply_ids = []
        self.stopped_by = "max_tokens"
        alpha = s.memory_contrast if contrast_ids else 0.0
        if alpha:  # `forward` leaves the state it is given valid (both model kinds), so both read it
            plain, plain_state = self.model(torch.tensor([list(contrast_ids)]), state)
            plain = plain[0, -1]
        logits = self.prefill(prompt_ids, state)
        shown = ""
        for _ in range(s.max_tokens):
            if cancel is not None and cancel.is_set():
                self.stopped_by = "cancel"
                break
            if alpha:
                logits = (1 + alpha) * logits.float() - alpha * plain.float()
            nxt = sample_token(logits, self.reply_ids, s, gen)
            step_logits, self.state = self.model.step(torch.tensor([nxt]), self.state)
            logits = step_logits[0]
            if alpha and nxt != self.tok.end_id:
                plain_logits, plain_state = self.model.step(torch.tensor([nxt]), plain_state)
                plain = plain_logits[0]
            if nxt == self.tok.end_id:
                self.stopped_by = "end"
                return
            self.reply_ids.append(nxt)
            text = self.tok.decode(self.reply_ids)
            if text.endswith("\ufffd"):  # an incomplete UTF-8 sequence from byte fallback: wait for the rest
                continue
            if len(text) > len(shown) and text.startswith(shown):
                piece, shown = text[len(shown) :], text
                yield piece
        # stopped without <|end|> (cancel or max_tokens): close the turn so the state is whole
        _, self.state = self.model.step(torch.tensor([self.tok.end_id]), self.state)
