"""Measure speed, memory and learning. Every target is a ratio measured side by side in one run.

Kinds:
  model     decode/prefill tokens/s of the liquid model vs an equal-size transformer, state bytes
  store     unlock time, write rate, recall latency, export/import time of the encrypted store
  learning  continual-learning strategies on a scripted persona (personal gain vs anchor drift)
  voice     word error rate and real-time factor of speech recognition
  recall    the state-kind ablation: diagonal vs matrix state on associative recall
  memory    long-term memory on generated personas: extraction, recall of current facts, answers
"""

from __future__ import annotations

import argparse
import importlib

KINDS = ("model", "store", "learning", "voice", "recall", "memory")

EXAMPLES = """\
examples:
  assistant bench model
  assistant bench model --json --quick
  assistant bench model --model ~/models/LFM2-350M
  assistant bench store --json
  assistant bench memory --json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, help="what to measure")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--quick", action="store_true", help="fewer and shorter samples (a smoke run, not for figures)")
    parser.add_argument("--seconds", type=float, default=None, help="recall: compute budget per state kind (default 180)")
    parser.add_argument("--model", metavar="PATH", default=None, help="model folder (default: the shipped model's config); for an LFM2 folder "
                        "(only its config.json is read) `model` times core/lfm2.py against transformers")


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"assistant.bench.{args.kind}")
    return int(module.run(args) or 0)
