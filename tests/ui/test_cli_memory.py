"""`assistant memory list|add|edit|forget|search` on a real store: text from standard input,
--json for scripts, forget confirmed unless --yes."""

from __future__ import annotations

import io
import json
import sys

import pytest

from tests.ui.test_cli_store import contents, filled_home, secrets, write_secret  # noqa: F401  (fixtures)
from ui.cli import build_parser, main


def run(argv: list[str], secrets, monkeypatch, stdin: str = "") -> int:  # noqa: F811
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["memory", *argv, "--passphrase-file", str(secrets["store"])])


def listed(secrets, monkeypatch, capsys) -> list[dict]:  # noqa: F811
    capsys.readouterr()
    assert run(["list", "--json"], secrets, monkeypatch) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("action", ["list", "add", "edit", "forget", "search"])
def test_each_action_has_help(action, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["memory", action, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: assistant memory {action}" in out and "--json" in out


def test_list_json_gives_each_memory_with_its_status_and_source(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    [memory] = listed(secrets, monkeypatch, capsys)
    assert memory["text"] == "The user's sister is called Ana"
    assert memory["status"] == "current" and memory["times_used"] == 0 and memory["conversation_id"] is None


def test_list_as_text(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    assert run(["list"], secrets, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "The user's sister is called Ana" in out and "current" in out and "typed in" in out


def test_add_reads_the_text_from_standard_input(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    assert run(["add", "--json"], secrets, monkeypatch, stdin="My train leaves at 7:40.\n") == 0
    added = json.loads(capsys.readouterr().out)
    assert added["text"] == "My train leaves at 7:40." and added["status"] == "current"
    assert "My train leaves at 7:40." in contents(secrets["store"])["memories"]


def test_add_with_a_dash_reads_standard_input(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    assert run(["add", "-"], secrets, monkeypatch, stdin="I like rye bread.") == 0
    assert "I like rye bread." in contents(secrets["store"])["memories"]


def test_add_without_text_is_refused(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    assert run(["add"], secrets, monkeypatch, stdin="  \n") == 2
    assert "no text" in capsys.readouterr().err


def test_edit_changes_the_text_from_standard_input(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    [memory] = listed(secrets, monkeypatch, capsys)
    assert run(["edit", str(memory["id"]), "--json"], secrets, monkeypatch, stdin="My sister is called Ana Maria.") == 0
    assert json.loads(capsys.readouterr().out)["text"] == "My sister is called Ana Maria."
    assert contents(secrets["store"])["memories"] == ["My sister is called Ana Maria."]


def test_edit_of_an_unknown_memory_fails(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    assert run(["edit", "424242"], secrets, monkeypatch, stdin="x y z") == 1
    assert "424242" in capsys.readouterr().err


def test_forget_without_a_terminal_needs_yes(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    [memory] = listed(secrets, monkeypatch, capsys)
    assert run(["forget", str(memory["id"])], secrets, monkeypatch) == 2
    assert "--yes" in capsys.readouterr().err
    assert contents(secrets["store"])["memories"] == ["The user's sister is called Ana"]


def test_forget_with_yes_forgets(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    [memory] = listed(secrets, monkeypatch, capsys)
    assert run(["forget", str(memory["id"]), "--yes", "--json"], secrets, monkeypatch) == 0
    assert json.loads(capsys.readouterr().out) == {"forgotten": [memory["id"]]}
    assert contents(secrets["store"])["memories"] == []


def test_forget_asks_at_a_terminal_and_keeps_it_unless_confirmed(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    [memory] = listed(secrets, monkeypatch, capsys)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("builtins.input", lambda prompt="": "no")
    monkeypatch.setattr(sys, "stdin", Terminal(""))
    assert main(["memory", "forget", str(memory["id"]), "--passphrase-file", str(secrets["store"])]) == 1
    assert contents(secrets["store"])["memories"] == ["The user's sister is called Ana"]
    monkeypatch.setattr("builtins.input", lambda prompt="": "forget")
    assert main(["memory", "forget", str(memory["id"]), "--passphrase-file", str(secrets["store"])]) == 0
    assert contents(secrets["store"])["memories"] == []


def test_forget_of_an_unknown_memory_changes_nothing(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    assert run(["forget", "424242", "--yes"], secrets, monkeypatch) == 1
    assert contents(secrets["store"])["memories"] == ["The user's sister is called Ana"]


def test_search_reads_the_query_from_standard_input(filled_home, secrets, monkeypatch, capsys):  # noqa: F811
    run(["add"], secrets, monkeypatch, stdin="I fly to Lisbon often.")
    capsys.readouterr()
    assert run(["search", "--json"], secrets, monkeypatch, stdin="sister") == 0
    found = json.loads(capsys.readouterr().out)
    assert [m["text"] for m in found] == ["The user's sister is called Ana"] and found[0]["score"] > 0
