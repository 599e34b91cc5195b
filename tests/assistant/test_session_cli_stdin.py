"""`assistant ask` reads the message from standard input, so nothing private goes through argv
(issue 16), and its help no longer recommends argv for anything private."""

from __future__ import annotations

import io
import json

import pytest

from ui.cli import build_parser
from ui.commands.ask import read_message

from .test_session_cli import cli  # noqa: F401  (fixture)


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_ask_reads_the_message_from_a_pipe_when_no_text_is_given(cli, monkeypatch):  # noqa: F811
    """Regression (issue 16): `ask` took its message only from argv (/proc/PID/cmdline, shell history)."""
    monkeypatch.setattr("sys.stdin", _Pipe("my secret plan is to learn the cello\n"))
    code, out, _ = cli("ask", "--no-learn", "--max-tokens", "4")
    assert code == 0 and out.strip()
    code, out, _ = cli("history", "--json")
    assert json.loads(out)[0]["title"].startswith("my secret plan is to learn")


def test_a_dash_reads_standard_input_too(monkeypatch):
    assert read_message(["-"], _Pipe("from the pipe\n")) == "from the pipe"
    assert read_message(["two", "words"], _Pipe("ignored")) == "two words"


def test_an_empty_message_is_refused(cli, monkeypatch):  # noqa: F811
    monkeypatch.setattr("sys.stdin", _Pipe(""))
    code, _, err = cli("ask", "--no-learn")
    assert code == 2 and "no message" in err


def test_the_help_recommends_standard_input_and_says_argv_is_visible(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ask", "--help"])
    help_text = capsys.readouterr().out
    assert 'ask --temporary "' not in help_text  # the old example left a trace in argv
    assert "visible in the process list" in help_text and "standard input" in help_text


def test_ask_with_a_damaged_setting_answers_and_says_so(cli, monkeypatch):  # noqa: F811
    """Regression (issue 16): one flipped byte in a settings envelope stopped `ask`."""
    import sqlite3

    from assistant import paths

    cli("ask", "--no-learn", "--max-tokens", "2", "hello there")
    conn = sqlite3.connect(paths.data_dir() / "store.db")
    with conn:
        for ident, payload in conn.execute("SELECT id, payload FROM settings").fetchall():
            damaged = bytearray(payload)
            damaged[-3] ^= 1
            conn.execute("UPDATE settings SET payload = ? WHERE id = ?", [bytes(damaged), ident])
    conn.close()
    code, out, err = cli("ask", "--no-learn", "--max-tokens", "2", "hello again")
    assert code == 0 and out.strip()
    assert "damaged record" in err and "'settings'" in err
