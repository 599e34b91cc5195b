"""Shared by the session and learning tests: a tiny trained model folder and cheap vault keys.

The model is tiny (d=32, 2 layers, ~400 pieces) and trained for a few seconds on generated chat
dialogues, so its anchor loss means something (a random model's is flat, and nothing could
drift). Everything is built once per test session, in seconds.
"""

from __future__ import annotations

import atexit
import functools
import random
import shutil
import tempfile
from pathlib import Path

import torch

from core.checkpoint import save_model
from core.config import LiquidConfig
from core.model import LiquidLM
from core.template import render_chat
from core.tokenizer import train_tokenizer
from core.training.dialogues import generate_dialogues
from memory.crypto import KdfParams

CHEAP_KDF = KdfParams(time_cost=1, memory_kib=64, lanes=1)
PASSPHRASE = "correct horse battery staple"
TINY = dict(vocab_size=400, d_model=32, n_layers=2, n_heads=4, chunk_size=16, dt_max=0.5, state_kind="diagonal")


def dialogue_texts(seed: int, n: int) -> list[str]:
    return [render_chat(g.messages, g.memory, add_generation_prompt=False) for g in generate_dialogues(seed, n)]


def build_model_dir(folder: Path, *, steps: int = 150, seed: int = 0, **config) -> Path:
    """A tiny trained model folder: weights, config, tokenizer and an anchor set."""
    torch.manual_seed(seed)
    texts = dialogue_texts(seed, 400)
    tok = train_tokenizer(texts, vocab_size=TINY["vocab_size"])
    cfg = LiquidConfig(**{**TINY, **config})
    model = LiquidLM(cfg)
    stream: list[int] = []
    for text in texts:
        stream += tok.encode(text)
    data = torch.tensor(stream)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(seed)
    seq = 64
    for _ in range(steps):
        starts = [rng.randrange(len(stream) - seq - 1) for _ in range(16)]
        batch = torch.stack([data[s : s + seq + 1] for s in starts])
        logits, _ = model(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    save_model(folder, model, tok)
    anchor = dialogue_texts(seed + 1000, 60)
    (folder / "anchor.txt").write_text("\n\n".join(anchor) + "\n", encoding="utf-8")
    return folder


@functools.cache
def tiny_model_dir() -> Path:
    """One tiny trained model folder per test process (built on first use, removed at exit)."""
    root = Path(tempfile.mkdtemp(prefix="assistant-tiny-model-"))
    atexit.register(shutil.rmtree, root, True)
    return build_model_dir(root / "model")


@functools.cache
def tiny_hybrid_model_dir() -> Path:
    """Like `tiny_model_dir`, with matrix blocks and a window-attention block whose window (24
    tokens) a few turns overflow, so the attention state's bounded window is exercised."""
    root = Path(tempfile.mkdtemp(prefix="assistant-tiny-hybrid-"))
    atexit.register(shutil.rmtree, root, True)
    return build_model_dir(root / "model", state_kind="matrix", attn_layers=[1], attn_window=24)


def open_session(home: Path, model_dir: Path, **kwargs):
    from assistant.session import Session

    kwargs.setdefault("create", True)
    kwargs.setdefault("kdf", CHEAP_KDF)
    return Session.open(PASSPHRASE, home=home, model_dir=model_dir, **kwargs)


def greedy(max_tokens: int = 12):
    from core.generate import SamplingSettings

    return SamplingSettings(temperature=0.0, repetition_penalty=1.0, max_tokens=max_tokens, seed=0)


def next_logits(session, conversation_id: int, text: str, *, with_memory: bool = True) -> torch.Tensor:
    """The logits (V,) the model gives for the first reply token if `text` were sent now.

    Nothing is stored: it shows exactly what the conversation's saved state holds. Built from the
    session's parts as a turn builds it (`Turns.context`: the resumed state, its adapter, the
    recalled memory and the one prompt), then one forward pass.
    """
    runtime = session.runtime
    model, _ = runtime.load()
    with runtime.lock:
        context = session.turns.context(session.chats.get(conversation_id), text, with_memory=with_memory)
        with torch.inference_mode():
            logits, _ = model(torch.tensor([context.prompt_ids]), context.state)
    return logits[0, -1].clone()
