"""Training orchestration for the command line: corpus -> tokenizer -> token files -> model -> run.

The maths lives in `core.train`; this module finds the files and keeps the run folder's record.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from assistant.paths import cache_dir


def corpus_dir(arg: str | None) -> Path:
    path = Path(arg) if arg else cache_dir() / "corpus"
    if not (path / "train.jsonl").is_file():
        from assistant.errors import AssistantError

        raise AssistantError(f"no corpus at {path} (train.jsonl missing): run `assistant data build` first")
    return path


def prepare_run(run: Path, corpus: Path, cfg_args: dict, log=print):
    """Make (or reopen) a run folder: config, tokenizer, tokenised corpus. Returns (cfg, tokenizer, train, val, data_info)."""
    import numpy as np

    from core.config import LiquidConfig
    from core.tokenizer import Tokenizer, train_tokenizer
    from core.train import read_jsonl_texts, tokenize_to_file

    run.mkdir(parents=True, exist_ok=True)
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


def run_training(args) -> int:
    import torch

    from core.checkpoint import load_weights
    from core.model import LiquidLM
    from core.train import TrainSettings, TrainerState, train

    if args.threads:
        torch.set_num_threads(args.threads)
    run = Path(args.run)
    cfg_args = dict(
        vocab_size=args.vocab, d_model=args.d_model, n_layers=args.layers, n_heads=args.heads,
        state_kind=args.state_kind, max_seq_len=args.seq_len,
    )
    cfg, tok, train_data, val_data, info = prepare_run(run, corpus_dir(args.corpus), cfg_args)
    settings = TrainSettings(
        seq_len=args.seq_len, batch_size=args.batch, total_tokens=args.tokens, lr=args.lr, warmup_steps=args.warmup,
        seed=args.seed, bf16=args.bf16, compile=args.compile, max_seconds=args.max_seconds,
        rewarm_steps=args.rewarm_steps if args.init_from else 0,
    )
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
    st = train(model, train_data, val_data, run, settings, initial=initial, max_steps=args.max_steps,
               progress=not args.no_progress, log=lambda m: print(m, file=sys.stderr))
    (run / "settings.json").write_text(json.dumps(asdict(settings), indent=2))
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
    trainer = json.loads((run / "ckpt" / "trainer.json").read_text())["trainer"]
    card_path = out / "card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    card["training"] = {
        "steps": trainer["step"], "tokens_seen": trainer["tokens_seen"], "wall_seconds": round(trainer["wall_seconds"]),
        "history": trainer["history"], "legs": trainer["legs"],
        "settings": json.loads((run / "ckpt" / "trainer.json").read_text())["settings"],
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"exported step {trainer['step']} ({trainer['tokens_seen']:,} tokens) to {out}", file=sys.stderr)
    return 0
