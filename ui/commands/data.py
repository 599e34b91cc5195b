"""Build the training corpus for the default model, reproducibly from a seed.

Reads the installed sources (chitchat-dataset, chatterbot-corpus, WordNet, Jane Austen, fortunes,
the Python docs), cleans, deduplicates and renders them with the chat template, adds generated
memory dialogues, and writes train.jsonl, val.jsonl, anchor.txt, memory_eval.jsonl and
manifest.json. A source that is not installed is skipped and named in the manifest.

The corpus goes to the cache directory (`$ASSISTANT_CACHE/corpus`, else the platform's cache
dir), or to --out.
"""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  assistant data build
  assistant data build --out /tmp/corpus --seed 1
  assistant data build --quick --out /tmp/tiny-corpus"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("build",), help="what to do (build: write the corpus)")
    parser.add_argument("--out", metavar="DIR", default=None, help="output folder (default: <cache dir>/corpus)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the generated dialogues (default 0)")
    parser.add_argument("--quick", action="store_true", help="a tiny corpus in seconds (a smoke run, not for training)")


def run(args: argparse.Namespace) -> int:
    from assistant.training import build_corpus

    out, manifest = build_corpus(args.out, seed=args.seed, quick=args.quick)
    print(f"corpus written to {out}")
    print(f"{'source':<12} {'licence':<28} {'train docs':>10} {'train chars':>12} {'val chars':>10} {'anchor chars':>12}")
    for name, entry in manifest["sources"].items():
        print(
            f"{name:<12} {entry['licence'][:28]:<28} {entry['train']['documents']:>10,} "
            f"{entry['train']['chars']:>12,} {entry['val']['chars']:>10,} {entry['anchor']['chars']:>12,}"
        )
    splits = manifest["splits"]
    print(
        f"total: train {splits['train']['chars']:,} chars in {splits['train']['documents']:,} documents; "
        f"val {splits['val']['chars']:,}; anchor {splits['anchor']['chars']:,}; "
        f"memory eval {manifest['memory_eval']['cases']} cases"
    )
    for name, reason in manifest["skipped"].items():
        print(f"skipped {name}: {reason}")
    return 0
