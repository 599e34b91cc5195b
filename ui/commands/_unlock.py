"""Options shared by the commands that unlock the store or read and write an export."""

from __future__ import annotations

import argparse

UNLOCK_NOTE = """\
unlocking in scripts:
  The passphrase is asked at the terminal. Scripts may give it with --passphrase-file FILE
  (first line) or ASSISTANT_PASSPHRASE; where no store exists yet, that passphrase creates one.
  Both carry a risk: a variable can be read by other processes of the same user and a file
  lies on the disk in plaintext. Keep such a file 0600 and prefer the prompt where you can."""


def add_passphrase_argument(parser: argparse.ArgumentParser) -> None:
    """`--passphrase-file FILE`: the store's passphrase for scripts (or ASSISTANT_PASSPHRASE)."""
    parser.add_argument(
        "--passphrase-file",
        metavar="FILE",
        default=None,
        help="read the store's passphrase from FILE instead of asking (or set ASSISTANT_PASSPHRASE)",
    )


def add_export_passphrase_argument(parser: argparse.ArgumentParser) -> None:
    """`--export-passphrase-file FILE`: the export's own passphrase (or ASSISTANT_EXPORT_PASSPHRASE)."""
    parser.add_argument(
        "--export-passphrase-file",
        metavar="FILE",
        default=None,
        help="read the export's passphrase from FILE instead of asking (or set ASSISTANT_EXPORT_PASSPHRASE)",
    )


def report_damaged(damaged: list[str]) -> None:
    """Say on stderr which damaged records a command left out (the rest was read as usual)."""
    import sys

    if damaged:
        print(f"note: {len(damaged)} damaged record{'s' if len(damaged) != 1 else ''} left out "
              "(`assistant verify` lists them; `assistant verify --repair` drops them):", file=sys.stderr)
        for line in damaged:
            print(f"  {line}", file=sys.stderr)
