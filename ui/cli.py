"""The `assistant` command line.

Each subcommand lives in `ui/commands/<name>.py` with two functions, `add_arguments(parser)` and
`run(args) -> int`. Modules import heavy libraries (torch, textual) only inside `run`, so
`assistant --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

# (name, one-line help). Order is the order `--help` shows.
COMMANDS: list[tuple[str, str]] = [
    ("ask", "send one message and stream the reply to stdout"),
    ("history", "print a conversation"),
    ("memory", "list, add, edit, forget or search the memories the assistant keeps"),
    ("learning", "show, pause, resume or roll back what the assistant learned"),
    ("listen", "record one utterance (or read a WAV) and print the transcript"),
    ("export", "write everything the assistant knows to one encrypted file"),
    ("import", "restore an export (replace, or merge with --merge)"),
    ("reset", "destroy the keys and delete everything the assistant knows"),
    ("passwd", "change the passphrase (re-wraps the key only)"),
    ("data", "build the training corpus for the default model"),
    ("train", "train (or continue training) a liquid language model"),
    ("convert", "convert a Llama-family GGUF (SmolLM2) into a liquid hybrid model"),
    ("bench", "measure speed, memory and learning (prints ratios from one run)"),
    ("verify", "check the whole store, list damaged records, drop them with --repair"),
    ("doctor", "check the model, data directory, vault, store, microphone and speech model"),
]

DESCRIPTION = """\
A private assistant that lives in your terminal, runs offline on your CPU and learns from
your conversations. Everything it keeps is encrypted on disk; nothing goes to a network.

Run without a subcommand to open the app."""

EPILOG = """\
examples:
  assistant                          open the terminal app
  assistant ask                      type a message (Ctrl+D ends it); the reply streams back
  assistant export ~/assistant-backup.enc
  assistant bench model --json

Scripts may unlock with --passphrase-file FILE or ASSISTANT_PASSPHRASE (see `assistant ask --help`).
The data directory is chosen by the platform, or by ASSISTANT_HOME."""


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"ui.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _load("app").add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, help_text in COMMANDS:
        module = _load(name)
        cmd = sub.add_parser(
            name,
            help=help_text,
            description=module.__doc__ or help_text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=getattr(module, "EXAMPLES", None),
        )
        module.add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    # OpenMP threads that spin while waiting starve each other (and everything else) on a busy
    # 2-core laptop: measured here, decode fell from 75 to 3 tokens/s. Wait passively instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    module = _load("app") if args.command is None else args._module
    from assistant.errors import USER_ERRORS

    try:
        return int(module.run(args) or 0)
    except USER_ERRORS as exc:
        print(f"assistant: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
