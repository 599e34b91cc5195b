"""Write everything the assistant knows to one encrypted file, under its own export passphrase.

The file holds conversations, memories, recurrent states, adapter versions, the replay buffer,
settings and the learning log: all that is needed to restore the assistant on another machine
(`assistant import`). It is authenticated, so any change to it is detected on import.
With --plaintext, PATH is a new directory of readable JSON and Markdown instead: anyone who can
read it can read your conversations. That directory must not exist yet; it is created private
(0700, files 0600). An existing directory is never written into or re-permissioned, except that
--force replaces an earlier plaintext export there (its old files are removed first, so nothing
deleted since lingers) provided it is private and holds nothing else."""

from __future__ import annotations

import argparse
import sys

from ui.commands._unlock import UNLOCK_NOTE, add_export_passphrase_argument, add_passphrase_argument

EXAMPLES = f"""\
examples:
  assistant export ~/assistant-backup.enc
  assistant export ~/assistant-readable --plaintext
  ASSISTANT_EXPORT_PASSPHRASE=... assistant export backup.enc --passphrase-file ~/.pw

{UNLOCK_NOTE}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="the export file to write (a directory with --plaintext)")
    parser.add_argument(
        "--plaintext", action="store_true", help="write readable JSON and Markdown, unencrypted (asks for no export passphrase)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite PATH if it exists (with --plaintext: replace an earlier plaintext export there)",
    )
    add_passphrase_argument(parser)
    add_export_passphrase_argument(parser)


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n)


def run(args: argparse.Namespace) -> int:
    from assistant.store import export_plaintext, export_to, unlocked_store
    from assistant.unlock import export_passphrase

    skipped: list = []
    with unlocked_store(args.passphrase_file) as store:
        if args.plaintext:
            print(
                "warning: writing an UNENCRYPTED export; anyone who can read it can read your conversations.",
                file=sys.stderr,
            )
            files = export_plaintext(store, args.path, overwrite=args.force, skipped=skipped)
            print(f"wrote {len(files)} plaintext files to {args.path}")
            _left_out(skipped)
            return 0
        passphrase = export_passphrase(args.export_passphrase_file, confirm=True)
        counts = export_to(store, args.path, passphrase, overwrite=args.force, skipped=skipped)
    print(f"exported to {args.path}: {_summary(counts) or 'nothing yet (the store is empty)'}")
    _left_out(skipped)
    return 0


def _left_out(skipped: list) -> None:
    """Say which damaged records the export could not take (everything else is in it)."""
    if skipped:
        print(f"left out {len(skipped)} damaged record{'s' if len(skipped) != 1 else ''} "
              "(see `assistant verify`):", file=sys.stderr)
        for exc in skipped:
            print(f"  {exc}", file=sys.stderr)
