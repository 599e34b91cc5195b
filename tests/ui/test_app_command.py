"""`assistant` without a subcommand, and the rule that `ui` talks only to `assistant`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ui.cli import build_parser, main

UI = Path(__file__).resolve().parents[2] / "ui"


def test_help_lists_the_app_options(capsys):
    parser = build_parser()
    text = parser.format_help()
    for option in ("--model PATH", "--passphrase-file FILE", "--theme {dark,light}"):
        assert option in text


def test_the_app_options_reach_the_parsed_arguments():
    """The options the help lists are read, and a theme outside the two is refused (issue 18)."""
    args = build_parser().parse_args(["--model", "some/model", "--passphrase-file", "pw.txt", "--theme", "light"])
    assert (str(args.app_model), args.app_passphrase_file, args.app_theme) == ("some/model", "pw.txt", "light")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--theme", "purple"])


def test_app_options_do_not_clobber_a_subcommands_own():
    args = build_parser().parse_args(["--passphrase-file", "app.txt", "export", "out.enc", "--passphrase-file", "export.txt"])
    assert args.app_passphrase_file == "app.txt"
    assert args.passphrase_file == "export.txt"


def test_the_app_needs_a_terminal(capsys):
    assert main([]) == 2
    assert "needs a terminal" in capsys.readouterr().err


def test_make_app_defaults_to_the_real_session_and_the_data_directory(tmp_path):
    from assistant.opener import SessionOpener
    from ui.app import make_app

    app = make_app(home=tmp_path, model_dir=tmp_path / "model")
    assert isinstance(app.opener, SessionOpener)
    assert (app.opener.home, app.opener.model_dir) == (tmp_path, tmp_path / "model")
    assert app.keys_path == tmp_path / "keys.json"


def test_the_app_imports_only_assistant_below_it():
    """DESIGN.md section 1: dependencies point ui -> assistant -> {core, memory} (the app's files)."""
    files = [UI / "app.py", UI / "commands" / "app.py", UI / "commands" / "doctor.py"]
    files += [*(UI / "screens").rglob("*.py"), *(UI / "widgets").rglob("*.py")]
    offenders = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(UI.parent)}: {n}" for n in names if n.split(".")[0] in {"core", "memory"}]
    assert offenders == []


def test_importing_the_app_starts_nothing():
    """STYLE.md 9: no side effects at import (no thread, no session, no torch)."""
    import subprocess
    import sys

    code = "import threading, sys, ui.app, ui.commands.app, ui.commands.doctor; print(threading.active_count(), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=UI.parent, check=True).stdout
    assert out.split() == ["1", "False"]
