"""The state-kind ablation: which liquid state learns to recall a value seen earlier in context?

Multi-query associative recall (the Zoology study's MQAR), shaped like the assistant's memory
block: a block of key-value pairs, then queries for some of the keys in random order, each to be
answered with its value. Every answer position is a training signal (dense), filler between the
block and the queries makes the model hold the block, and keys/values are drawn afresh for every
sequence, so nothing can be memorised in the weights. Both state kinds get the same parameter
count and the same wall-clock budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.config import LiquidConfig
from core.model import LiquidLM


@dataclass
class RecallTask:
    vocab: int = 512
    pairs: int = 8
    queries: int = 8
    filler: int = 32
    # token layout: [0, 4) markers, keys from [4, 4 + n_keys), values after, filler last
    n_keys: int = 160
    n_values: int = 160

    def batch(self, b: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ids (b, t) and targets (b, t) with -100 where there is no answer to predict."""
        kb, vb = 4, 4 + self.n_keys
        fb = vb + self.n_values
        keys = torch.stack([torch.randperm(self.n_keys, generator=gen)[: self.pairs] for _ in range(b)]) + kb
        vals = torch.randint(0, self.n_values, (b, self.pairs), generator=gen) + vb
        block = torch.stack([keys, vals], dim=2).flatten(1)  # k1 v1 k2 v2 ...
        filler = torch.randint(fb, self.vocab, (b, self.filler), generator=gen)
        pick = torch.stack([torch.randperm(self.pairs, generator=gen)[: self.queries] for _ in range(b)])
        qk, qv = keys.gather(1, pick), vals.gather(1, pick)
        query = torch.stack([qk, qv], dim=2).flatten(1)
        ones = torch.ones(b, 1, dtype=torch.long)
        ids = torch.cat([ones * 1, block, ones * 2, filler, ones * 3, query], dim=1)  # 1: <memory>, 2: <end>, 3: <user>
        targets = torch.full_like(ids, -100)
        q0 = ids.shape[1] - query.shape[1]
        # at each query key position the next token (its value) is the answer
        targets[:, q0 : ids.shape[1] - 1 : 2] = qv
        return ids, targets


def recall_accuracy(model: LiquidLM, task: RecallTask, n: int = 512, seed: int = 99) -> float:
    gen = torch.Generator().manual_seed(seed)
    ids, targets = task.batch(n, gen)
    model.eval()
    with torch.no_grad():
        logits, _ = model(ids)
    model.train()
    mask = targets != -100
    return (logits.argmax(-1)[mask] == targets[mask]).float().mean().item()


def compare_state_kinds(
    task: RecallTask, seconds: float, *, d_model: int = 128, n_layers: int = 2, seed: int = 0, lr: float = 3e-3,
    kinds: tuple[str, ...] = ("diagonal", "matrix"),
) -> list[dict]:
    """Train one small model per state kind on the task, each for `seconds` of its own compute.

    The models take steps in turn and each is charged only for its own steps, so a load that comes
    and goes on the machine falls on both alike.
    """
    runs = []
    for kind in kinds:
        torch.manual_seed(seed)
        cfg = LiquidConfig(
            vocab_size=task.vocab, d_model=d_model, n_layers=n_layers, n_heads=max(1, d_model // 64), state_kind=kind, chunk_size=32
        )
        model = LiquidLM(cfg)
        runs.append({
            "kind": kind, "model": model, "opt": torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0),
            "gen": torch.Generator().manual_seed(seed), "used": 0.0, "steps": 0, "curve": [],
        })
    while any(r["used"] < seconds for r in runs):
        for r in runs:
            if r["used"] >= seconds:
                continue
            t0 = time.perf_counter()
            ids, targets = task.batch(32, r["gen"])
            logits, _ = r["model"](ids)
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
            r["opt"].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(r["model"].parameters(), 1.0)
            r["opt"].step()
            r["used"] += time.perf_counter() - t0
            r["steps"] += 1
            if r["steps"] % 100 == 0:
                r["curve"].append(round(loss.item(), 3))
    return [
        {
            "state_kind": r["kind"],
            "parameters": r["model"].num_parameters(),
            "steps": r["steps"],
            "seconds": round(r["used"], 1),
            "accuracy": round(recall_accuracy(r["model"], task), 4),
            "chance": round(1 / task.n_values, 4),
            "loss_curve": r["curve"],
        }
        for r in runs
    ]
