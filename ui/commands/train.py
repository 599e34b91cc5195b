"""Train (or continue training) a liquid language model, and export it as a model folder.

Actions:
  run      train in a run folder; resumes from its last checkpoint if there is one
  export   write a run's weights as a model folder (half precision, config, tokenizer)
  compare  equal-budget comparison with the transformer baseline, a short LR sweep for each
  card     evaluate a model folder (validation bits/byte, memory use, sample replies) into card.json
  grow     add a window-attention block to a model folder (starts as the identity), to train on
  drills   give a run's training tokens a share of recall drills (a dense copy signal)

A run folder holds the config, the tokenizer, the tokenised corpus, the schedule (settings.json)
and the last checkpoint. Continuing on another day is `assistant train run --run DIR`: the
schedule options left out keep the run's stored values. After a lost optimiser state, --init-from a
model folder with --rewarm-steps gives a short learning-rate re-warm-up.
"""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  assistant data build                                   # the corpus, into the cache
  assistant train run --run runs/default --tokens 40000000
  assistant train run --run runs/default --max-seconds 3600     # an hour, then checkpoint
  torchrun --nproc-per-node 4 -m ui.cli train run --run runs/big --d-model 768
  assistant train export --run runs/default --out models/default
  assistant train grow --model models/default --at 3 --out grown && \\
    assistant train run --run runs/grown --init-from grown --rewarm-steps 100"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser("run", help="train (resumes from the run's checkpoint)")
    r.add_argument("--run", required=True, metavar="DIR", help="run folder (created if missing)")
    r.add_argument("--corpus", metavar="DIR", default=None, help="corpus folder from `assistant data build` (default: the cache)")
    r.add_argument("--state-kind", choices=("diagonal", "matrix"), default="matrix")
    r.add_argument("--d-model", type=int, default=384)
    r.add_argument("--layers", type=int, default=6)
    r.add_argument("--heads", type=int, default=6)
    r.add_argument("--vocab", type=int, default=8192)
    r.add_argument("--tokens", type=int, default=None, help="tokens of the whole schedule (default 40M)")
    r.add_argument("--batch", type=int, default=None, help="sequences per step per process (default 16)")
    r.add_argument("--seq-len", type=int, default=None, help="tokens per sequence (default 512)")
    r.add_argument("--lr", type=float, default=None, help="peak learning rate (default 3e-3)")
    r.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 200)")
    r.add_argument("--max-steps", type=int, default=None, help="stop after this many more steps")
    r.add_argument("--max-seconds", type=float, default=0.0, help="stop after this long (a checkpoint is written)")
    r.add_argument("--init-from", metavar="MODEL_DIR", default=None, help="start from a model folder's weights (no optimiser state)")
    r.add_argument("--rewarm-steps", type=int, default=None, help="re-warm-up steps when starting --init-from (default 100)")
    r.add_argument("--bf16", choices=("auto", "on", "off"), default=None, help="bf16 autocast (auto, the default: only where the CPU has AMX or AVX512-BF16)")
    r.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile the model (default off)")
    r.add_argument("--seed", type=int, default=None, help="data order and initialisation (default 1234)")
    r.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")
    e = sub.add_parser("export", help="write a run's weights as a model folder")
    e.add_argument("--run", required=True, metavar="DIR")
    e.add_argument("--out", required=True, metavar="DIR")
    e.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), default="bf16")
    c = sub.add_parser("card", help="evaluate a model folder and write its card.json (copies the anchor set)")
    c.add_argument("--run", required=True, metavar="DIR", help="the run the model came from (for its validation data)")
    c.add_argument("--out", required=True, metavar="DIR", help="the model folder")
    c.add_argument("--corpus", metavar="DIR", default=None)
    c.add_argument("--quick", action="store_true", help="a few cases only (a smoke run)")
    g = sub.add_parser("grow", help="add a window-attention block to a model folder (identity at first)")
    g.add_argument("--model", required=True, metavar="DIR", help="the model folder to grow")
    g.add_argument("--at", type=int, required=True, help="index of the new block (later blocks move up)")
    g.add_argument("--window", type=int, default=0, help="attention window in tokens (default: the config's, 512)")
    g.add_argument("--out", required=True, metavar="DIR", help="where to write the grown model folder (fp32)")
    d = sub.add_parser("drills", help="set a run's training tokens to its corpus plus recall drills")
    d.add_argument("--run", required=True, metavar="DIR", help="a prepared run folder")
    d.add_argument("--tokens", type=int, required=True, help="about how many drill tokens (replacing any added before)")
    d.add_argument("--seed", type=int, default=0, help="seed of the generated drills (default 0)")
    d.add_argument("--echo", action="store_true",
                   help="make a quarter of the drill segments echo requests (values repeated word for word)")
    b = sub.add_parser("compare", help="equal-budget comparison with the transformer baseline (LR sweep for each)")
    b.add_argument("--run", required=True, metavar="DIR", help="a prepared run (its config, tokenizer and token files)")
    b.add_argument("--steps", type=int, default=300, help="optimiser steps for every model (default 300)")
    b.add_argument("--batch", type=int, default=8)
    b.add_argument("--seq-len", type=int, default=256)
    b.add_argument("--lrs", default="1e-3,2e-3,4e-3", help="comma-separated peak learning rates")
    b.add_argument("--eval-windows", type=int, default=64)
    b.add_argument("--tokens", type=int, default=0, help=argparse.SUPPRESS)
    b.add_argument("--out", metavar="DIR", default=None, help="model folder whose card.json records the result")


def run(args: argparse.Namespace) -> int:
    from assistant import training

    action = {"run": training.run_training, "export": training.export_run, "card": training.write_card,
              "compare": training.compare_baseline, "grow": training.grow_model,
              "drills": training.add_drills}[args.action]
    return action(args)
