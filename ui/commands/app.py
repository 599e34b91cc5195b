"""`assistant` with no subcommand: open the terminal app.

The top-level options below belong to the app; put them before any subcommand's name."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The app's options on the top-level parser (their dests are prefixed so no subcommand clashes)."""
    group = parser.add_argument_group("the terminal app (no COMMAND)")
    group.add_argument(
        "--model",
        dest="app_model",
        metavar="PATH",
        type=Path,
        default=None,
        help="the model folder to chat with: this project's liquid model or a Liquid AI LFM2 checkpoint "
        "(default: $ASSISTANT_MODEL, else the shipped models/default)",
    )
    group.add_argument(
        "--passphrase-file",
        dest="app_passphrase_file",
        metavar="FILE",
        default=None,
        help="unlock with the first line of FILE instead of asking (or set ASSISTANT_PASSPHRASE); "
        "on a first run it creates the store",
    )
    group.add_argument(
        "--theme",
        dest="app_theme",
        choices=("dark", "light"),
        default=None,
        help="colour theme (default: the last one chosen in the app, else dark; F9 switches)",
    )


def run(args: argparse.Namespace) -> int:
    from assistant.unlock import PassphraseRequired, store_passphrase
    from assistant.opener import SessionOpener
    from ui.app import make_app

    if not sys.stdout.isatty() or not sys.stdin.isatty():
        print("assistant: the app needs a terminal; for scripts use `assistant ask TEXT`", file=sys.stderr)
        return 2
    opener = SessionOpener(model_dir=getattr(args, "app_model", None))
    try:
        passphrase: str | None = store_passphrase(getattr(args, "app_passphrase_file", None), interactive=False)
    except PassphraseRequired:
        passphrase = None  # asked on the unlock screen
    app = make_app(opener, passphrase=passphrase, theme=getattr(args, "app_theme", None))
    result = app.run()
    return app.return_code if app.return_code is not None else int(result or 0)
