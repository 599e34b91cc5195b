"""Restore an export made by `assistant export`.

The file's format version and authenticity are checked before anything changes (the export's
passphrase is asked first, then the store's); on any failure the store is left exactly as it
was. By default the export replaces everything in the store; with --merge its records are added
beside the existing ones (settings already set are kept). Where no store exists yet, one is
created with the passphrase given, once the export has been verified."""

from __future__ import annotations

import argparse

from ui.commands._unlock import UNLOCK_NOTE, add_export_passphrase_argument, add_passphrase_argument

EXAMPLES = f"""\
examples:
  assistant import ~/assistant-backup.enc
  assistant import ~/old-laptop.enc --merge

{UNLOCK_NOTE}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="the export file to read")
    parser.add_argument("--merge", action="store_true", help="add to the store instead of replacing it")
    add_passphrase_argument(parser)
    add_export_passphrase_argument(parser)


def run(args: argparse.Namespace) -> int:
    from assistant.store import import_file
    from assistant.unlock import export_passphrase

    passphrase = export_passphrase(args.export_passphrase_file)
    counts = import_file(args.path, passphrase, merge=args.merge, passphrase_file=args.passphrase_file)
    done = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n) or "nothing (the export was empty)"
    print(f"{'merged' if args.merge else 'restored'} from {args.path}: {done}")
    return 0
