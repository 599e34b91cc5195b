"""Training orchestration for the command line: corpus -> tokenizer -> token files -> model -> run.

The maths lives in `core.training.pretrain`; this module finds the files and keeps the run folder's record.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from assistant.card import read_card, save_card
from assistant.paths import cache_dir


def build_corpus(out: str | None, *, seed: int = 0, quick: bool = False) -> tuple[Path, dict]:
    """Build the corpus into `out` (default: the cache); returns (folder, manifest)."""
    from core.training.data import build_corpus as build

    folder = Path(out).expanduser() if out else cache_dir() / "corpus"
    return folder, build(folder, seed=seed, quick=quick)


def corpus_dir(arg: str | None) -> Path:
    path = Path(arg) if arg else cache_dir() / "corpus"
    if not (path / "train.jsonl").is_file():
        from assistant.errors import AssistantError

        raise AssistantError(f"no corpus at {path} (train.jsonl missing): run `assistant data build` first")
    return path


def prepare_run(run: Path, corpus: Path, cfg_args: dict, log=print, init_from: Path | None = None):
    """Make (or reopen) a run folder: config, tokenizer, tokenised corpus. Returns (cfg, tokenizer, train, val, data_info).

    A run started from a model folder (`init_from`) takes that folder's config and tokenizer, so
    the weights and the token ids agree; the shape arguments are then ignored.
    """
    import shutil

    import numpy as np

    from core.config import LiquidConfig
    from core.tokenizer import Tokenizer, train_tokenizer
    from core.training.pretrain import read_jsonl_texts, tokenize_to_file

    run.mkdir(parents=True, exist_ok=True)
    if init_from is not None:
        for name in ("config.json", "tokenizer.model"):
            if not (run / name).is_file():
                if not (init_from / name).is_file():
                    raise FileNotFoundError(f"{init_from / name} not found: --init-from needs a model folder")
                shutil.copyfile(init_from / name, run / name)
                log(f"{name} taken from {init_from}")
    if (run / "config.json").is_file():
        cfg = LiquidConfig.load(run / "config.json")
    else:
        cfg = LiquidConfig(**cfg_args)
        cfg.save(run / "config.json")
    if (run / "tokenizer.model").is_file():
        tok = Tokenizer.load(run / "tokenizer.model")
    else:
        log(f"training a {cfg.vocab_size}-piece tokenizer on {corpus / 'train.jsonl'} ...")
        tok = train_tokenizer(read_jsonl_texts(corpus / "train.jsonl"), cfg.vocab_size)
        tok.save(run / "tokenizer.model")
    info_path = run / "data.json"
    if not info_path.is_file():
        from tqdm import tqdm

        info = {"corpus": str(corpus)}
        for split in ("train", "val"):
            texts = tqdm(read_jsonl_texts(corpus / f"{split}.jsonl"), desc=f"tokenising {split}", unit=" docs")
            n_tok, n_bytes = tokenize_to_file(texts, tok.encode, run / f"{split}.bin", tok.end_id)
            info[split] = {"tokens": n_tok, "bytes": n_bytes}
        manifest = corpus / "manifest.json"
        if manifest.is_file():
            info["manifest"] = json.loads(manifest.read_text())
        info_path.write_text(json.dumps(info, indent=2))
    info = json.loads(info_path.read_text())
    train = np.memmap(run / "train.bin", dtype=np.uint16, mode="r")
    val = np.memmap(run / "val.bin", dtype=np.uint16, mode="r")
    return cfg, tok, train, val, info


# `assistant train run` options that make up the schedule, by TrainSettings field
SCHEDULE_OPTIONS = {"total_tokens": "tokens", "batch_size": "batch", "seq_len": "seq_len", "lr": "lr",
                    "warmup_steps": "warmup", "seed": "seed", "bf16": "bf16", "compile": "compile",
                    "rewarm_steps": "rewarm_steps"}


def schedule_settings(run: Path, args):
    """The run's schedule: each option given on the command line, else the value stored in the
    run's settings.json (so `assistant train run --run DIR` continues the same schedule), else
    the default. `max_seconds` applies to this leg only and is never taken from the store."""
    from core.training.pretrain import TrainSettings

    stored = {}
    if (run / "settings.json").is_file():
        stored = json.loads((run / "settings.json").read_text())
    values = {}
    for field, option in SCHEDULE_OPTIONS.items():
        given = getattr(args, option, None)
        if given is not None:
            values[field] = given
        elif field in stored:
            values[field] = stored[field]
    # a re-warm-up only follows weights loaded without their optimiser state
    values.setdefault("rewarm_steps", 100 if args.init_from else 0)
    return TrainSettings(**values, max_seconds=args.max_seconds)


def run_training(args) -> int:
    import torch

    from core.checkpoint import load_weights
    from core.model import LiquidLM
    from core.training.pretrain import TrainerState, train

    if args.threads:
        torch.set_num_threads(args.threads)
    run = Path(args.run)
    settings = schedule_settings(run, args)
    cfg_args = dict(
        vocab_size=args.vocab, d_model=args.d_model, n_layers=args.layers, n_heads=args.heads,
        state_kind=args.state_kind, max_seq_len=settings.seq_len,
    )
    init_from = Path(args.init_from) if args.init_from else None
    cfg, tok, train_data, val_data, info = prepare_run(run, corpus_dir(args.corpus), cfg_args,
                                                       log=lambda m: print(m, file=sys.stderr), init_from=init_from)
    # stored before training, so a killed leg's successor continues the same schedule
    (run / "settings.json").write_text(json.dumps(asdict(settings), indent=2))
    model = LiquidLM(cfg)
    print(f"model: {cfg.state_kind} state, {model.num_parameters():,} parameters; corpus {info['train']['tokens']:,} train tokens",
          file=sys.stderr)
    initial = None
    if args.init_from and not (run / "ckpt" / "trainer.json").is_file():
        src = Path(args.init_from)
        load_weights(model, src / "model.safetensors")
        card = json.loads((src / "card.json").read_text()) if (src / "card.json").is_file() else {}
        done = card.get("training", {})
        step = int(done.get("steps", 0))
        initial = TrainerState(step=step, tokens_seen=int(done.get("tokens_seen", 0)),
                               wall_seconds=float(done.get("wall_seconds", 0.0)), rewarm_from=step,
                               history=list(done.get("history", [])), legs=list(done.get("legs", [])))
        print(f"starting from {src} at step {step} with a {settings.rewarm_steps}-step re-warm-up", file=sys.stderr)
        # what the source went through before this run (e.g. a grown block) goes on into the card
        (run / "lineage.json").write_text(json.dumps({
            "init_from": str(src), "architecture_changes": card.get("architecture_changes", []),
        }, indent=2) + "\n")
    st = train(model, train_data, val_data, run, settings, initial=initial, max_steps=args.max_steps,
               progress=not args.no_progress, log=lambda m: print(m, file=sys.stderr))
    print(f"stopped at step {st.step}: {st.tokens_seen:,} tokens seen, checkpoint in {run / 'ckpt'}", file=sys.stderr)
    return 0


def export_run(args) -> int:
    import torch
    from safetensors.torch import load_file

    from core.checkpoint import save_model
    from core.config import LiquidConfig
    from core.model import LiquidLM
    from core.tokenizer import Tokenizer

    run, out = Path(args.run), Path(args.out)
    cfg = LiquidConfig.load(run / "config.json")
    model = LiquidLM(cfg)
    model.load_state_dict(load_file(str(run / "ckpt" / "model.safetensors")), strict=False)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    save_model(out, model, Tokenizer.load(run / "tokenizer.model"), dtype=dtype)
    info = json.loads((run / "data.json").read_text()) if (run / "data.json").is_file() else {}
    anchor = Path(info.get("corpus", "")) / "anchor.txt"
    if anchor.is_file():  # the learning safeguards need the held-out anchor set beside the weights
        import shutil

        shutil.copyfile(anchor, out / "anchor.txt")
    trainer = json.loads((run / "ckpt" / "trainer.json").read_text())["trainer"]
    card_path = out / "card.json"
    card = read_card(card_path)
    lineage = run / "lineage.json"
    if lineage.is_file():
        card["architecture_changes"] = json.loads(lineage.read_text())["architecture_changes"]
    # notes written into the card about earlier legs (what changed, what was measured) are kept
    notes = {leg["start_step"]: leg["note"] for leg in card.get("training", {}).get("legs", []) if leg.get("note")}
    legs = [{**leg, "note": notes[leg["start_step"]]} if leg["start_step"] in notes and not leg.get("note") else leg
            for leg in trainer["legs"]]
    card["training"] = {
        "steps": trainer["step"], "tokens_seen": trainer["tokens_seen"], "wall_seconds": round(trainer["wall_seconds"]),
        "history": trainer["history"], "legs": legs,
        "settings": json.loads((run / "ckpt" / "trainer.json").read_text())["settings"],
    }
    save_card(card_path, card)
    print(f"exported step {trainer['step']} ({trainer['tokens_seen']:,} tokens) to {out}", file=sys.stderr)
    return 0


def add_drills(args) -> int:
    """Set a run's training tokens to its corpus tokens plus `--tokens` of recall drills.

    The drills (`core.training.data.drill_docs`, the corpus build's recipe) give the copy skill a dense
    signal; this adds them to a run whose corpus was built without them, or replaces the ones it
    has. Batches are windows drawn from the whole file, so the drills' share of what is trained
    on is their share of the tokens. Recorded in the run's data.json (and so in the card).
    """
    import numpy as np

    from core.tokenizer import Tokenizer
    from core.training.data import corpus_words, drill_docs, read_jsonl
    from core.training.pretrain import tokenize_to_file

    run = Path(args.run)
    info = json.loads((run / "data.json").read_text())
    ext = info.setdefault("extensions", [])
    base_tokens = ext[0]["train_tokens_before"] if ext else info["train"]["tokens"]
    base_bytes = ext[0]["train_bytes_before"] if ext else info["train"]["bytes"]
    tok = Tokenizer.load(run / "tokenizer.model")
    drills = run / "drills.bin"
    chars = args.tokens * 3.8  # about 3.8 characters a token for this text
    corpus_train = Path(info.get("corpus", "")) / "train.jsonl"
    words = None
    if corpus_train.is_file():  # wide drills draw their values from the corpus's own words
        words = corpus_words(row["text"] for row in read_jsonl(corpus_train) if row.get("source") != "generated")
    docs = drill_docs(args.seed, chars, words=words, echo=args.echo)
    n_tok, n_bytes = tokenize_to_file((d.text for d in docs), tok.encode, drills, tok.end_id)
    base = np.memmap(run / "train.bin", dtype=np.uint16, mode="r")[:base_tokens]
    tmp = run / "train.bin.tmp"
    with open(tmp, "wb") as f:
        f.write(base.tobytes())
        f.write(drills.read_bytes())
    del base
    tmp.replace(run / "train.bin")  # a new file: a hard-linked original elsewhere is left alone
    drills.unlink()
    step = 0
    if (run / "ckpt" / "trainer.json").is_file():
        step = json.loads((run / "ckpt" / "trainer.json").read_text())["trainer"]["step"]
    recipe = f"core.training.data.drill_docs(seed={args.seed}" + (", words=corpus_words(corpus train.jsonl)" if words else "")
    recipe += ", echo=True)" if args.echo else ")"
    ext.append({"recipe": recipe, "from_step": step, "tokens": n_tok, "bytes": n_bytes,
                "train_tokens_before": base_tokens, "train_bytes_before": base_bytes})
    info["train"] = {"tokens": base_tokens + n_tok, "bytes": base_bytes + n_bytes}
    (run / "data.json").write_text(json.dumps(info, indent=2))
    print(f"{run}: {base_tokens:,} corpus tokens + {n_tok:,} drill tokens ({n_tok / (base_tokens + n_tok):.0%}) "
          f"from step {step}", file=sys.stderr)
    return 0


def grow_model(args) -> int:
    """Write a copy of a model folder with one more block: window attention at index `--at`.

    The new block starts as the identity (zeroed output projections), so the grown model
    replies exactly as the old one until training teaches the block what to add. Continue with
    `assistant train run --init-from OUT`; the card keeps the training history and logs the change.
    """
    import shutil

    import torch

    from core.checkpoint import load_model, save_model
    from core.model import LiquidLM, insert_attention_block

    src, out = Path(args.model), Path(args.out)
    model, tok = load_model(src)
    if not isinstance(model, LiquidLM):
        raise SystemExit(f"{src} is not a liquid model folder")
    model = model.float()
    if args.window:
        model.cfg.attn_window = args.window
    grown = insert_attention_block(model, args.at)
    save_model(out, grown, tok, dtype=torch.float32)
    card = read_card(src / "card.json")
    card.setdefault("architecture_changes", []).append({
        "at_tokens": card.get("training", {}).get("tokens_seen", 0),
        "change": f"inserted a window-attention block at index {args.at} (window {grown.cfg.attn_window}), "
                  "zero-initialised output projections",
        "parameters_before": model.num_parameters(), "parameters_after": grown.num_parameters(),
    })
    save_card(out / "card.json", card)
    if (src / "anchor.txt").is_file():
        shutil.copyfile(src / "anchor.txt", out / "anchor.txt")
    print(f"{src} -> {out}: {grown.cfg.n_layers} blocks, attention at {grown.cfg.attn_layers}, "
          f"{model.num_parameters():,} -> {grown.num_parameters():,} parameters", file=sys.stderr)
    return 0


def write_card(args) -> int:
    """Evaluate an exported model folder and write its card.json (and copy the anchor set)."""
    import platform
    import shutil

    import numpy as np
    import torch

    from assistant.bench.cpu import cpu_features
    from core.checkpoint import load_model
    from core.model import zero_state
    from core.state import state_nbytes
    from core.training.evaluate import bits_per_byte, memory_eval, sample_replies
    from core.training.pretrain import eval_windows, evaluate

    run, out = Path(args.run), Path(args.out)
    corpus = corpus_dir(args.corpus)
    model, tok = load_model(out)
    info = json.loads((run / "data.json").read_text())
    card_path = out / "card.json"
    card = read_card(card_path)
    val = np.memmap(run / "val.bin", dtype=np.uint16, mode="r")
    n_windows = 32 if args.quick else 400
    print(f"validation loss on {n_windows} windows ...", file=sys.stderr)
    nats = evaluate(model, eval_windows(val, model.cfg.max_seq_len, n_windows), bf16=False)
    cases = [json.loads(line) for line in (corpus / "memory_eval.jsonl").read_text().splitlines() if line.strip()]
    if args.quick:
        cases = cases[:10] + [c for c in cases if not c.get("answer")][:3]
    print(f"memory use on {len(cases)} held-out cases ...", file=sys.stderr)
    with torch.inference_mode():
        mem = memory_eval(model, tok, cases)
        samples = sample_replies(model, tok)
    sources = info.get("manifest", {}).get("sources", {})
    card.update({
        "model": {"kind": "liquid", "state_kind": model.cfg.state_kind, "parameters": model.num_parameters(),
                  "blocks": model.cfg.n_layers, "attention_blocks": model.cfg.attn_layers,
                  "attention_window": model.cfg.attn_window if model.cfg.attn_layers else None,
                  "state_bytes": state_nbytes(zero_state(model.cfg)),
                  "config_hash": model.cfg.hash(), "weights_dtype": "bf16"},
        "data": {
            "corpus_build": {k: info.get("manifest", {}).get(k) for k in ("build_version", "seed", "generated_kinds")},
            "sources": {name: {"licence": s.get("licence"), "provider": s.get("provider"), "train_chars": s.get("train", {}).get("chars"),
                               "share_of_train_val_chars": s.get("share_of_train_val_chars")} for name, s in sources.items()},
            "train_tokens": info["train"]["tokens"], "train_bytes": info["train"]["bytes"],
            "val_tokens": info["val"]["tokens"], "val_bytes": info["val"]["bytes"],
            "anchor": "anchor.txt: held-out general text, never trained on",
            "extensions": info.get("extensions", []),  # drills added to the run's training tokens
        },
        "validation": {"nats_per_token": round(nats, 4),
                       "bits_per_byte": round(bits_per_byte(nats, info["val"]["tokens"], info["val"]["bytes"]), 4),
                       "windows": n_windows},
        "memory_use": mem,
        "samples": samples,
        "machine": {**cpu_features(), "python": platform.python_version()},
    })
    save_card(card_path, card)
    shutil.copyfile(corpus / "anchor.txt", out / "anchor.txt")
    print(json.dumps({"validation": card["validation"], "memory_use": {k: v for k, v in mem.items() if k != "failures"}}), file=sys.stderr)
    return 0


def compare_baseline(args) -> int:
    """Equal-budget comparison: liquid vs the equal-size transformer, same data, same tokenizer,
    same batches, a short learning-rate sweep for each; prints and records validation bits/byte."""
    import time

    import numpy as np
    import torch

    from core.config import LiquidConfig
    from core.model import LiquidLM
    from core.precision import use_bf16
    from core.training.baseline import TransformerLM
    from core.training.pretrain import TrainSettings, batch_at, eval_windows, evaluate, lm_loss, lr_at, make_optimizer

    run = Path(args.run)
    cfg = LiquidConfig.load(run / "config.json")
    info = json.loads((run / "data.json").read_text())
    train_data = np.memmap(run / "train.bin", dtype=np.uint16, mode="r")
    val_data = np.memmap(run / "val.bin", dtype=np.uint16, mode="r")
    lrs = [float(x) for x in args.lrs.split(",")]
    s = TrainSettings(seq_len=args.seq_len, batch_size=args.batch, total_tokens=args.tokens, warmup_steps=max(1, args.steps // 10), seed=7)
    steps = args.steps
    s.total_tokens = steps * s.seq_len * s.batch_size
    bf16 = use_bf16("auto")
    windows = eval_windows(val_data, s.seq_len, args.eval_windows)
    runs = []
    for kind in ("liquid", "transformer"):
        for lr in lrs:
            torch.manual_seed(0)
            model = LiquidLM(cfg) if kind == "liquid" else TransformerLM(cfg)
            opt, _ = make_optimizer(model, s)
            runs.append({"kind": kind, "lr": lr, "model": model, "opt": opt, "seconds": 0.0})
    from tqdm import tqdm

    for step in tqdm(range(steps), desc="compare", unit="step"):
        batch = batch_at(train_data, step, s)
        for r in runs:  # every run sees the same batches; each is charged its own time
            t0 = time.perf_counter()
            for g in r["opt"].param_groups:
                g["lr"] = lr_at(step, s) * r["lr"] / s.lr
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = lm_loss(r["model"], batch)
            r["opt"].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(r["model"].parameters(), 1.0)
            r["opt"].step()
            r["seconds"] += time.perf_counter() - t0
    bpb = lambda nats: nats * info["val"]["tokens"] / info["val"]["bytes"] / 0.6931471805599453  # noqa: E731
    results = []
    for r in runs:
        nats = evaluate(r["model"], windows, bf16)
        results.append({"model": r["kind"], "lr": r["lr"], "val_nats_per_token": round(nats, 4), "val_bits_per_byte": round(bpb(nats), 4),
                        "train_seconds": round(r["seconds"], 1), "parameters": r["model"].num_parameters()})
        print(f"{r['kind']:<12} lr {r['lr']:<8g} val {nats:.4f} nats/token, {bpb(nats):.4f} bits/byte, {r['seconds']:.0f} s", file=sys.stderr)
    best = {k: min((x for x in results if x["model"] == k), key=lambda x: x["val_bits_per_byte"]) for k in ("liquid", "transformer")}
    record = {"tokens_each": steps * s.seq_len * s.batch_size, "seq_len": s.seq_len, "batch": s.batch_size, "bf16": bf16,
              "runs": results, "best": best}
    if args.out:
        card_path = Path(args.out) / "card.json"
        card = read_card(card_path)
        card["baseline_comparison"] = record  # a new measurement: a note about the old one goes with it
        save_card(card_path, card)
    print(json.dumps({"best": best}))
    return 0
