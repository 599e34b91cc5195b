"""Pretraining: a resumable loop with warm-up and cosine decay, clipping, bf16 autocast where the CPU
has AMX or AVX512-BF16, periodic validation, checkpoints that resume exactly, and torchrun / DDP support.

A run lives in one folder:
    run/config.json, run/tokenizer.model      what is being trained
    run/train.bin, run/val.bin                the tokenised corpus (uint16), made once
    run/ckpt/{model,optim}.safetensors        the last checkpoint (weights + AdamW moments)
    run/ckpt/trainer.json                     step, tokens seen, schedule, RNG states, history
Data order is a pure function of (seed, step, rank), so resuming needs no sampler state.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from core.checkpoint import base_state_dict, save_model
from core.config import LiquidConfig
from core.precision import use_bf16


@dataclass
class TrainSettings:
    seq_len: int = 512
    batch_size: int = 16  # sequences per optimiser step (per process)
    total_tokens: int = 40_000_000  # the schedule's length; a run may stop earlier and continue later
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 200
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 1234
    eval_every: int = 200
    eval_windows: int = 64
    ckpt_every: int = 100
    bf16: str = "auto"  # "auto" (only where the CPU has AMX or AVX512-BF16), "on", "off"
    compile: bool = False
    rewarm_steps: int = 0  # a short warm-up after resuming from weights without optimiser state
    max_seconds: float = 0.0  # stop (with a checkpoint) after this long; 0 = no limit

    @property
    def total_steps(self) -> int:
        return max(1, self.total_tokens // (self.seq_len * self.batch_size * world_size()))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def lr_at(step: int, s: TrainSettings, rewarm_from: int | None = None) -> float:
    """Linear warm-up, cosine decay to min_lr_ratio * lr; an optional re-warm-up after a resume."""
    if step < s.warmup_steps:
        lr = s.lr * (step + 1) / s.warmup_steps
    else:
        progress = min(1.0, (step - s.warmup_steps) / max(1, s.total_steps - s.warmup_steps))
        lr = s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
    if rewarm_from is not None and s.rewarm_steps and step - rewarm_from < s.rewarm_steps:
        lr *= (step - rewarm_from + 1) / s.rewarm_steps
    return lr


# --- data ----------------------------------------------------------------------------------------


def tokenize_to_file(texts: Iterable[str], encode: Callable[[str], list[int]], path: Path, end_id: int) -> tuple[int, int]:
    """Write the token stream of `texts` (each closed by <|end|> unless it already is) as uint16.

    Returns (tokens, utf-8 bytes) so bits per byte can be reported.
    """
    n_tok = n_bytes = 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        buf: list[int] = []
        for text in texts:
            ids = encode(text)
            if not ids or ids[-1] != end_id:
                ids.append(end_id)
            buf.extend(ids)
            n_bytes += len(text.encode("utf-8"))
            if len(buf) > 1_000_000:
                np.asarray(buf, dtype=np.uint16).tofile(f)
                n_tok += len(buf)
                buf = []
        np.asarray(buf, dtype=np.uint16).tofile(f)
        n_tok += len(buf)
    tmp.replace(path)
    return n_tok, n_bytes


def read_jsonl_texts(path: Path) -> Iterable[str]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)["text"]


def batch_at(data: np.ndarray, step: int, s: TrainSettings, r: int = 0) -> torch.Tensor:
    """The (batch, seq_len + 1) windows of one step: a pure function of (seed, step, rank)."""
    rng = np.random.default_rng([s.seed, step, r])
    starts = rng.integers(0, len(data) - s.seq_len - 1, size=s.batch_size)
    return torch.from_numpy(np.stack([data[i : i + s.seq_len + 1] for i in starts]).astype(np.int64))


def eval_windows(data: np.ndarray, seq_len: int, n: int) -> torch.Tensor:
    """Fixed, evenly spaced validation windows."""
    span = len(data) - seq_len - 1
    starts = np.linspace(0, span, num=min(n, max(1, span // seq_len)), dtype=np.int64)
    return torch.from_numpy(np.stack([data[i : i + seq_len + 1] for i in starts]).astype(np.int64))


def lm_loss(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy (nats) of a (b, t+1) batch."""
    logits = model(batch[:, :-1])
    if isinstance(logits, tuple):
        logits = logits[0]
    return F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())


@torch.no_grad()
def evaluate(model: torch.nn.Module, windows: torch.Tensor, bf16: bool, batch: int = 8) -> float:
    model.eval()
    total = 0.0
    for i in range(0, len(windows), batch):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            total += lm_loss(model, windows[i : i + batch]).item() * len(windows[i : i + batch])
    model.train()
    return total / len(windows)


# --- checkpoints ---------------------------------------------------------------------------------


def _atomic_save(tensors: dict[str, torch.Tensor], path: Path, metadata: dict | None = None) -> None:
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    tmp.replace(path)


def optimizer_tensors(opt: torch.optim.Optimizer, names: dict[torch.nn.Parameter, str]) -> dict[str, torch.Tensor]:
    out = {}
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p)
            if st:
                for key in ("exp_avg", "exp_avg_sq", "step"):
                    out[f"{names[p]}::{key}"] = torch.as_tensor(st[key]).detach().clone().float()
    return out


def load_optimizer_tensors(opt: torch.optim.Optimizer, names: dict[torch.nn.Parameter, str], tensors: dict[str, torch.Tensor]) -> None:
    for group in opt.param_groups:
        for p in group["params"]:
            name = names[p]
            if f"{name}::exp_avg" in tensors:
                opt.state[p] = {
                    "step": tensors[f"{name}::step"].reshape(()),
                    "exp_avg": tensors[f"{name}::exp_avg"].to(p.dtype),
                    "exp_avg_sq": tensors[f"{name}::exp_avg_sq"].to(p.dtype),
                }


@dataclass
class TrainerState:
    step: int = 0
    tokens_seen: int = 0
    wall_seconds: float = 0.0
    rewarm_from: int | None = None
    history: list[dict] = field(default_factory=list)  # {"step", "tokens", "train_loss", "val_loss"}
    legs: list[dict] = field(default_factory=list)  # one entry per continuous run of the loop


def make_optimizer(model: torch.nn.Module, s: TrainSettings) -> tuple[torch.optim.Optimizer, dict]:
    decay, no_decay = [], []
    names = {}
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        names[p] = n
        (decay if p.dim() == 2 and "embed" not in n else no_decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=s.lr,
        betas=(0.9, 0.95),
        eps=1e-8,
    )
    return opt, names


def save_checkpoint(run: Path, model: torch.nn.Module, opt, names, st: TrainerState, s: TrainSettings) -> None:
    ck = run / "ckpt"
    ck.mkdir(parents=True, exist_ok=True)
    _atomic_save(base_state_dict(model), ck / "model.safetensors")
    _atomic_save(optimizer_tensors(opt, names), ck / "optim.safetensors")
    meta = {"trainer": asdict(st), "settings": asdict(s), "torch_rng": torch.get_rng_state().tolist()}
    tmp = ck / "trainer.json.tmp"
    tmp.write_text(json.dumps(meta))
    tmp.replace(ck / "trainer.json")


def load_checkpoint(run: Path, model: torch.nn.Module, opt, names) -> TrainerState:
    ck = run / "ckpt"
    meta = json.loads((ck / "trainer.json").read_text())
    model.load_state_dict(load_file(str(ck / "model.safetensors")), strict=False)
    load_optimizer_tensors(opt, names, load_file(str(ck / "optim.safetensors")))
    torch.set_rng_state(torch.tensor(meta["torch_rng"], dtype=torch.uint8))
    return TrainerState(**meta["trainer"])


# --- the loop ------------------------------------------------------------------------------------


def train(
    model: torch.nn.Module,
    train_data: np.ndarray,
    val_data: np.ndarray,
    run: Path,
    s: TrainSettings,
    *,
    resume: bool = True,
    initial: TrainerState | None = None,
    max_steps: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> TrainerState:
    """Train until the schedule ends, `max_steps` more steps were taken, or `max_seconds` passed."""
    torch.manual_seed(s.seed)
    distributed = world_size() > 1
    if distributed:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        if not dist.is_initialized():
            dist.init_process_group("gloo")
    opt, names = make_optimizer(model, s)
    st = initial or TrainerState()
    if resume and (run / "ckpt" / "trainer.json").is_file():
        st = load_checkpoint(run, model, opt, names)
        log(f"resumed at step {st.step} ({st.tokens_seen:,} tokens seen)")
    net = DistributedDataParallel(model) if distributed else model
    forward = torch.compile(net) if s.compile else net
    bf16 = use_bf16(s.bf16)
    val_windows = eval_windows(val_data, s.seq_len, s.eval_windows)
    end_step = s.total_steps if max_steps is None else min(s.total_steps, st.step + max_steps)
    leg = {"start_step": st.step, "start_tokens": st.tokens_seen, "bf16": bf16, "world_size": world_size(),
           "compile": s.compile, "train_tokens": int(len(train_data))}
    st.legs.append(leg)  # kept up to date at every checkpoint, so a killed leg is still on record
    bar = None
    if progress and rank() == 0:
        from tqdm import tqdm

        bar = tqdm(total=end_step, initial=st.step, unit="step", dynamic_ncols=True, desc="train")
    t0 = time.monotonic()
    base_wall = st.wall_seconds
    tokens_per_step = s.batch_size * s.seq_len * world_size()
    model.train()
    loss_ema = None
    while st.step < end_step:
        lr = lr_at(st.step, s, st.rewarm_from)
        for g in opt.param_groups:
            g["lr"] = lr
        batch = batch_at(train_data, st.step, s, rank())
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = lm_loss(forward, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()
        st.step += 1
        st.tokens_seen += tokens_per_step
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        elapsed = time.monotonic() - t0
        rate = (st.step - leg["start_step"]) * tokens_per_step / max(elapsed, 1e-9)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss_ema:.3f}", lr=f"{lr:.1e}", tok_s=f"{rate:,.0f}")
        last = st.step >= end_step or (s.max_seconds and elapsed >= s.max_seconds)
        if st.step % s.eval_every == 0 or last:
            val = evaluate(model, val_windows, bf16)
            st.history.append({"step": st.step, "tokens": st.tokens_seen, "train_loss": round(loss_ema, 4), "val_loss": round(val, 4)})
            if rank() == 0:
                log(f"step {st.step}: train {loss_ema:.3f} val {val:.3f} nats/token, {st.tokens_seen:,} tokens, "
                    f"lr {lr:.1e}, {rate:,.0f} tokens/s")
        if rank() == 0 and (st.step % s.ckpt_every == 0 or last):
            st.wall_seconds = base_wall + (time.monotonic() - t0)
            leg.update(end_step=st.step, end_tokens=st.tokens_seen, seconds=round(time.monotonic() - t0, 1))
            save_checkpoint(run, model, opt, names, st, s)
        if last:
            break
    if bar is not None:
        bar.close()
    st.wall_seconds = base_wall + (time.monotonic() - t0)
    leg.update(end_step=st.step, end_tokens=st.tokens_seen, seconds=round(time.monotonic() - t0, 1))
    if st.step == leg["start_step"]:
        st.legs.remove(leg)  # a leg that took no step (the schedule had ended) is not a leg
    if rank() == 0:
        save_checkpoint(run, model, opt, names, st, s)
    return st


def export_model(run: Path, out: Path, model: torch.nn.Module, tokenizer, dtype: torch.dtype = torch.bfloat16) -> None:
    """Write the shipped model folder: weights (half precision), config.json, tokenizer.model."""
    save_model(out, model, tokenizer, dtype=dtype)

