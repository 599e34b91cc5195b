"""Check that everything the assistant needs is in place, and say how to fix what is not.

Checked: the model folder (files present, config and weights fit, tokenizer loads), the data
directory (owner, permissions, free space), the vault (present, readable; whether another
assistant is running), the store (its database is there beside the key file and SQLite's check
of every page passes; the keyed check is `assistant verify`), your key-binding file, and the
microphone and speech model. Nothing is unlocked and nothing is written. The exit status is 1 if
anything failed."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

EXAMPLES = """\
examples:
  assistant doctor
  assistant doctor --model ~/models/my-liquid
  assistant doctor --json"""

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="PATH", type=Path, default=None, help="check this model folder instead of the shipped one")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def run(args: argparse.Namespace) -> int:
    from assistant.doctor import run_checks
    from ui.keymap import check_keys

    checks = run_checks(model_dir=args.model, interface_checks=[check_keys])
    failed = [c for c in checks if c.status == "fail"]
    if args.json:
        json.dump({"ok": not failed, "checks": [asdict(c) for c in checks]}, sys.stdout, indent=1)
        print()
        return 1 if failed else 0
    width = max((len(c.name) for c in checks), default=0)
    for check in checks:
        print(f"{MARKS.get(check.status, check.status):4}  {check.name:<{width}}  {check.detail}")
        if check.fix and check.status in {"warn", "fail"}:
            print(f"{'':4}  {'':<{width}}  fix: {check.fix}")
    warned = sum(c.status == "warn" for c in checks)
    if failed:
        print(f"\n{len(failed)} problem{'s' if len(failed) != 1 else ''} to fix" + (f", {warned} warning{'s' if warned != 1 else ''}" if warned else "") + ".")
        return 1
    print("\nall good" + (f" ({warned} warning{'s' if warned != 1 else ''})" if warned else "") + ".")
    return 0
