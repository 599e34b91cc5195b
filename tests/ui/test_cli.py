"""The command line: every subcommand is listed and has its own help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ui.cli import COMMANDS, build_parser, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name, _ in COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([name, "--help"])
    assert exc.value.code == 0
    assert "usage: assistant " + name in capsys.readouterr().out


def test_help_does_not_import_torch():
    """`assistant --help` must stay fast: no model library is imported to print it."""
    code = "import sys; from ui.cli import build_parser; build_parser().format_help(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
