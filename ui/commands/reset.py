"""Destroy the keys and delete everything the assistant knows.

The key file is overwritten and removed (crypto-shredding), every row is deleted, the database
is vacuumed, its write-ahead log truncated and its files removed. This cannot be undone:
`assistant export` first if you may want anything back. No passphrase is needed."""

from __future__ import annotations

import argparse
import sys

from ui.commands._confirm import typed_confirmation

CONFIRM_WORD = "reset"

EXAMPLES = """\
examples:
  assistant reset          asks you to type "reset"
  assistant reset --yes    for scripts"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (for scripts)")


def run(args: argparse.Namespace) -> int:
    from assistant import paths
    from assistant.store import reset_data, store_exists

    directory = paths.data_dir()
    if not store_exists(directory):
        print(f"nothing to reset: there is no store in {directory}")
        return 0
    if not args.yes:
        status = typed_confirmation(
            "assistant reset: refusing without confirmation; run it in a terminal or pass --yes",
            f'This destroys everything the assistant knows, for good. Type "{CONFIRM_WORD}" to continue: ',
            CONFIRM_WORD,
            "not reset: nothing was changed",
        )
        if status is not None:
            return status
    for warning in reset_data(directory):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"reset: the keys were destroyed and the store in {directory} was deleted")
    return 0
