"""`assistant ask`, `assistant history` and `assistant learning`, run through the real command line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import paths
from ui.cli import main

from .session_support import CHEAP_KDF, PASSPHRASE, tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run `assistant ...` in-process with the tiny model; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("ASSISTANT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setattr("assistant.paths.default_model_dir", tiny_model_dir)
    monkeypatch.setattr("assistant.session.opening.DESIGN_KDF", CHEAP_KDF)  # a new vault in milliseconds

    def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_ask_streams_a_reply_and_learns_from_it_before_exiting(cli):
    code, out, err = cli("ask", "--max-tokens", "6", "--temperature", "0", "my", "cat", "is", "called", "Miso")
    assert code == 0 and out.strip()
    assert "learning from this exchange before exiting" in err and "learned: version 1" in err
    code, out, _ = cli("history", "--json")
    [conv] = json.loads(out)
    assert conv["title"] == "my cat is called Miso" and conv["messages"] == 2


def test_ask_continues_a_named_chat(cli):
    cli("ask", "--chat", "pets", "--no-learn", "--max-tokens", "4", "my dog is Biscuit")
    code, _, err = cli("ask", "--chat", "pets", "--no-learn", "--max-tokens", "4", "what is my dog called?")
    assert code == 0 and "learning" not in err
    code, out, _ = cli("history", "pets")
    assert code == 0 and out.count("you ·") == 2 and "what is my dog called?" in out
    code, out, _ = cli("learning")
    assert "using the base model" in out and "0 pending" in out


def test_ask_says_what_it_remembered_and_how_to_forget_it(cli):
    code, _, err = cli("ask", "--no-learn", "--max-tokens", "4", "--temperature", "0", "-", stdin="My sister Ilse is a vet.")
    assert code == 0
    [line] = [x for x in err.splitlines() if x.startswith("remembered: ")]
    ident = line.rsplit(" ", 1)[1].rstrip(")")
    assert "My sister Ilse is a vet." in line
    assert cli("memory", "forget", "--yes", ident)[0] == 0
    assert "Ilse" not in cli("memory", "list")[1]
    _, _, err = cli("ask", "--no-learn", "--max-tokens", "4", "--temperature", "0", "what a lovely day")
    assert "remembered" not in err  # small talk keeps nothing


def test_ask_temporary_leaves_no_conversation(cli):
    code, out, err = cli("ask", "--temporary", "--max-tokens", "4", "a secret question")
    assert code == 0 and out.strip() and "learning" not in err
    assert cli("history")[1].strip() == "no conversations yet"


def test_ask_memory_contrast_is_an_option_and_a_bad_weight_is_refused_clearly(cli):
    cli("ask", "--no-learn", "--max-tokens", "4", "my dog is called Biscuit")
    code, out, _ = cli("ask", "--no-learn", "--max-tokens", "4", "--memory-contrast", "0", "what is my dog called?")
    assert code == 0 and out.strip()
    code, out, err = cli("ask", "--no-learn", "--max-tokens", "4", "--memory-contrast", "-1", "what is my dog called?")
    assert code == 2 and "memory_contrast must be in [0, 4]" in err and "Traceback" not in err
    code, out, err = cli("ask", "--no-learn", "--temperature", "-1", "hello")
    assert code == 2 and "temperature must be >= 0" in err and not out
    assert [c["messages"] for c in json.loads(cli("history", "--json")[1])] == [2, 2]  # the refused one left nothing


def test_history_of_an_unknown_chat_says_so(cli):
    cli("ask", "--no-learn", "--max-tokens", "2", "hello")
    code, _, err = cli("history", "nothing like this")
    assert code == 1 and "no conversation called 'nothing like this'" in err


def test_learning_pause_resume_status_and_rollback(cli):
    cli("ask", "--max-tokens", "4", "first thing to learn")
    cli("ask", "--max-tokens", "4", "second thing to learn")
    assert cli("learning", "pause") == (0, "learning paused\n", "")
    code, out, _ = cli("learning", "status")
    assert "learning: paused · using version 2" in out and "*     2" in out
    cli("learning", "resume")
    code, out, _ = cli("learning", "rollback", "1")
    assert out == "rolled back to version 1\n"
    code, out, _ = cli("learning", "--json")
    status = json.loads(out)
    assert (status["state"], status["version"]) == ("rolled back", 1)
    assert [v["version"] for v in status["versions"]] == [1, 2]
    code, out, _ = cli("learning", "log")
    assert "rollback" in out and "rolled back to version 1" in out
    code, _, err = cli("learning", "rollback")
    assert code == 2 and "which version" in err


def test_commands_without_a_store_say_there_is_none(cli):
    code, _, err = cli("history")
    assert code == 1 and "there is no store" in err


def test_ask_with_the_shipped_model(tmp_path):
    """The real console script on the shipped model (skipped until the model is trained)."""
    shipped = paths.default_model_dir()
    if not (shipped / "model.safetensors").is_file():
        pytest.skip(f"the shipped model is not there yet ({shipped / 'model.safetensors'} is absent)")
    env = {
        **os.environ,
        "ASSISTANT_HOME": str(tmp_path / "home"),
        "ASSISTANT_PASSPHRASE": PASSPHRASE,
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "ask", "--max-tokens", "24", "Hello! What can you do?"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "learning from this exchange before exiting" in done.stderr
