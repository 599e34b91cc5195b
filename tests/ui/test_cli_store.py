"""The store's command-line verbs: export, import, reset, passwd, and unlocking for scripts."""

from __future__ import annotations

import builtins
import json
import re
import sys
from pathlib import Path

import pytest

from assistant import paths
from assistant.store import WrongPassphrase, unlocked_store
from assistant.unlock import STORE, PassphraseError, PassphraseMismatch, PassphraseRequired, read_passphrase_file, resolve
from memory.crypto import FAST_KDF_FOR_TESTS
from ui.cli import main

STORE_PW = "store passphrase for tests"
EXPORT_PW = "export passphrase for tests"
MY_COMMANDS = ("export", "import", "reset", "passwd", "_unlock")


def write_secret(tmp_path: Path, name: str, secret: str) -> Path:
    path = tmp_path / name
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def secrets(tmp_path):
    return {
        "store": write_secret(tmp_path, "store.pw", STORE_PW),
        "export": write_secret(tmp_path, "export.pw", EXPORT_PW),
    }


@pytest.fixture
def filled_home(secrets):
    """The data directory holds a store (cheap KDF) with a conversation and a memory."""
    with unlocked_store(secrets["store"], kdf=FAST_KDF_FOR_TESTS) as store:
        conv = store.add_conversation("Lisbon trip")
        store.add_turn(conv.id, "I fly to Lisbon on May 3rd", "Have a good flight!")
        store.add_memory("The user's sister is called Ana")
    return paths.data_dir()


def contents(passphrase_file) -> dict:
    with unlocked_store(passphrase_file, create=False) as store:
        return {
            "conversations": [c.title for c in store.list_conversations()],
            "messages": [m.text for c in store.list_conversations() for m in store.list_messages(c.id)],
            "memories": [m.text for m in store.list_memories()],
        }


def test_each_command_has_help(capsys):
    for name in ("export", "import", "reset", "passwd"):
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        assert "examples:" in capsys.readouterr().out


def test_export_with_a_passphrase_from_the_environment_creates_the_store(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ASSISTANT_PASSPHRASE", STORE_PW)
    monkeypatch.setenv("ASSISTANT_EXPORT_PASSPHRASE", EXPORT_PW)
    out = tmp_path / "empty.enc"
    assert main(["export", str(out)]) == 0
    assert out.read_bytes().startswith(b"ASSISTANT-EXPORT\n")
    assert (paths.data_dir() / "vault.json").exists()
    assert "nothing yet" in capsys.readouterr().out


def test_export_then_import_on_another_machine(filled_home, secrets, tmp_path, monkeypatch, capsys):
    backup = tmp_path / "backup.enc"
    args = ["--passphrase-file", str(secrets["store"]), "--export-passphrase-file", str(secrets["export"])]
    assert main(["export", str(backup), *args]) == 0
    assert "1 conversations" in capsys.readouterr().out
    before = contents(secrets["store"])

    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "new-laptop"))
    assert main(["import", str(backup), *args]) == 0
    assert "restored" in capsys.readouterr().out
    assert contents(secrets["store"]) == before


def test_import_merge_adds_beside_what_is_there(filled_home, secrets, tmp_path, capsys):
    backup = tmp_path / "backup.enc"
    args = ["--passphrase-file", str(secrets["store"]), "--export-passphrase-file", str(secrets["export"])]
    assert main(["export", str(backup), *args]) == 0
    assert main(["import", str(backup), "--merge", *args]) == 0
    assert "merged" in capsys.readouterr().out
    assert contents(secrets["store"])["conversations"] == ["Lisbon trip", "Lisbon trip"]


def test_wrong_passphrase_fails_clearly(filled_home, tmp_path, capsys):
    wrong = write_secret(tmp_path, "wrong.pw", "not it")
    assert main(["export", str(tmp_path / "x.enc"), "--passphrase-file", str(wrong)]) == 1
    assert "wrong passphrase" in capsys.readouterr().err
    assert not (tmp_path / "x.enc").exists()


def test_wrong_export_passphrase_fails_clearly_and_changes_nothing(filled_home, secrets, tmp_path, capsys):
    backup = tmp_path / "backup.enc"
    args = ["--passphrase-file", str(secrets["store"])]
    assert main(["export", str(backup), *args, "--export-passphrase-file", str(secrets["export"])]) == 0
    before = contents(secrets["store"])
    wrong = write_secret(tmp_path, "wrong.pw", "not it")
    assert main(["import", str(backup), *args, "--export-passphrase-file", str(wrong)]) == 1
    assert "export passphrase is wrong" in capsys.readouterr().err
    assert contents(secrets["store"]) == before


def test_garbled_export_fails_clearly(filled_home, secrets, tmp_path, capsys):
    bad = tmp_path / "bad.enc"
    bad.write_bytes(b"definitely not an export")
    args = ["--passphrase-file", str(secrets["store"]), "--export-passphrase-file", str(secrets["export"])]
    assert main(["import", str(bad), *args]) == 1
    assert "not an assistant export" in capsys.readouterr().err


def test_without_a_passphrase_or_terminal_the_message_says_how(filled_home, tmp_path, capsys):
    assert main(["export", str(tmp_path / "x.enc")]) == 1
    err = capsys.readouterr().err
    assert "--passphrase-file" in err and "ASSISTANT_PASSPHRASE" in err


def test_export_does_not_overwrite_without_force(filled_home, secrets, tmp_path, capsys):
    target = tmp_path / "exists.enc"
    target.write_bytes(b"keep me")
    args = ["--passphrase-file", str(secrets["store"]), "--export-passphrase-file", str(secrets["export"])]
    assert main(["export", str(target), *args]) == 1
    assert "exists already" in capsys.readouterr().err and target.read_bytes() == b"keep me"
    assert main(["export", str(target), *args, "--force"]) == 0


def test_plaintext_export_warns_and_is_readable(filled_home, secrets, tmp_path, capsys):
    out = tmp_path / "readable"
    assert main(["export", str(out), "--plaintext", "--passphrase-file", str(secrets["store"])]) == 0
    assert "UNENCRYPTED" in capsys.readouterr().err
    assert "Lisbon on May 3rd" in (out / "export.json").read_text()


def test_second_instance_is_refused(filled_home, secrets, tmp_path, capsys):
    with unlocked_store(secrets["store"]):
        assert main(["export", str(tmp_path / "x.enc"), "--passphrase-file", str(secrets["store"])]) == 1
    assert "already running" in capsys.readouterr().err


def test_reset_with_yes_destroys_everything(filled_home, capsys):
    assert main(["reset", "--yes"]) == 0
    assert "destroyed" in capsys.readouterr().out
    assert list(filled_home.iterdir()) == []


def test_reset_without_confirmation_in_a_script_is_refused(filled_home, capsys):
    assert main(["reset"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert (filled_home / "vault.json").exists()


@pytest.mark.parametrize(("answer", "code", "left"), [("reset", 0, False), ("no", 1, True)])
def test_reset_asks_for_the_confirmation_word(filled_home, monkeypatch, answer, code, left):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(builtins, "input", lambda prompt: answer)
    assert main(["reset"]) == code
    assert (filled_home / "vault.json").exists() == left


def test_reset_of_nothing_says_so(capsys):
    assert main(["reset", "--yes"]) == 0
    assert "nothing to reset" in capsys.readouterr().out


def test_passwd_changes_the_passphrase(filled_home, secrets, tmp_path, capsys):
    new = write_secret(tmp_path, "new.pw", "brand new passphrase")
    before = contents(secrets["store"])
    assert main(["passwd", "--passphrase-file", str(secrets["store"]), "--new-passphrase-file", str(new)]) == 0
    assert "changed" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "x.enc"), "--passphrase-file", str(secrets["store"])]) == 1
    assert contents(new) == before


def test_passwd_with_a_wrong_current_passphrase_changes_nothing(filled_home, secrets, tmp_path, capsys):
    wrong = write_secret(tmp_path, "wrong.pw", "nope")
    new = write_secret(tmp_path, "new.pw", "brand new")
    vault = (filled_home / "vault.json").read_bytes()
    assert main(["passwd", "--passphrase-file", str(wrong), "--new-passphrase-file", str(new)]) == 1
    assert (filled_home / "vault.json").read_bytes() == vault


def test_ui_commands_never_import_memory():
    """Layering: ui -> assistant -> {core, memory}."""
    root = Path(__file__).resolve().parents[2] / "ui" / "commands"
    for name in MY_COMMANDS:
        source = (root / f"{name}.py").read_text()
        assert not re.search(r"^\s*(from|import)\s+memory\b", source, re.M), name


# --- where passphrases come from ---------------------------------------------------------------


def test_passphrase_file_is_its_first_line(tmp_path):
    assert read_passphrase_file(write_secret(tmp_path, "a", "with spaces  ")) == "with spaces  "
    (tmp_path / "crlf").write_bytes(b"secret\r\nsecond line\n")
    (tmp_path / "crlf").chmod(0o600)
    assert read_passphrase_file(tmp_path / "crlf") == "secret"
    (tmp_path / "empty").write_text("")
    (tmp_path / "empty").chmod(0o600)
    with pytest.raises(PassphraseError, match="empty"):
        read_passphrase_file(tmp_path / "empty")
    with pytest.raises(PassphraseError, match="cannot read"):
        read_passphrase_file(tmp_path / "missing")


def test_file_wins_over_environment_which_wins_over_the_prompt(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_PASSPHRASE", "from env")
    assert resolve(STORE, write_secret(tmp_path, "f", "from file")) == "from file"
    assert resolve(STORE, prompt=lambda _: "typed", interactive=True) == "from env"
    monkeypatch.delenv("ASSISTANT_PASSPHRASE")
    assert resolve(STORE, prompt=lambda _: "typed", interactive=True) == "typed"
    with pytest.raises(PassphraseRequired):
        resolve(STORE, interactive=False)


def test_a_new_passphrase_is_asked_twice(monkeypatch):
    answers = iter(["first", "different"])
    with pytest.raises(PassphraseMismatch):
        resolve(STORE, confirm=True, prompt=lambda _: next(answers), interactive=True)
    answers = iter(["same", "same"])
    assert resolve(STORE, confirm=True, prompt=lambda _: next(answers), interactive=True) == "same"


# --- the benchmark's output shape ----------------------------------------------------------------


def test_bench_store_json_has_the_issues_shape(monkeypatch, capsys):
    from assistant.bench import store as bench

    monkeypatch.setattr(bench, "measure_unlock", lambda root, repeats: 0.2)
    monkeypatch.setattr(bench, "measure_writes", lambda root, turns, corpus: 1000.0)
    monkeypatch.setattr(
        bench, "measure_recall", lambda sizes, queries, corpus, dim=None: {str(s): 1.0 if dim is None else 3.0 for s in sizes}
    )
    monkeypatch.setattr(bench, "measure_query_embedding", lambda queries, corpus: 12.0)
    monkeypatch.setattr(bench, "measure_export_import", lambda root, messages, corpus, repeats: (0.5, 0.6))
    assert main(["bench", "store", "--json", "--quick"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {
        "unlock_s": 0.2,
        "write_msgs_per_s": 1000.0,
        "recall_ms": {"10000": 1.0, "100000": 1.0},
        "recall_fused_ms": {"10000": 3.0, "100000": 3.0},
        "embed_query_ms": 12.0,
        "recall_fused_total_ms_100000": 15.0,
        "export_s_10000": 0.5,
        "import_s_10000": 0.6,
    }
    assert main(["bench", "store", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "recall, 100K messages" in out and "recall fused total, 100K" in out


def test_a_new_store_asks_for_its_passphrase_twice_at_a_terminal():
    asked = []

    def prompt(text):
        asked.append(text)
        return "typed twice"

    with unlocked_store(prompt=prompt, interactive=True, kdf=FAST_KDF_FOR_TESTS) as store:
        assert store.is_unlocked
    assert asked == ["Passphrase: ", "Repeat the passphrase: "]
    with unlocked_store(prompt=lambda _: "typed twice", interactive=True) as store:  # opening asks once
        assert store.is_unlocked


# --- nothing is created where nothing should be -------------------------------------------------


def _files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")) if directory.exists() else []


@pytest.mark.parametrize("damage", ["garbled", "wrong export passphrase", "missing"])
def test_a_failed_import_into_a_fresh_data_directory_creates_no_store(secrets, tmp_path, capsys, damage):
    """Regression: `assistant import` opened and created the store (unlocked_store(create=True))
    before reading the export, so a failed import on a new machine left a new, empty store behind."""
    backup = tmp_path / "backup.enc"
    if damage == "garbled":
        backup.write_bytes(b"definitely not an export")
    elif damage == "wrong export passphrase":
        other = tmp_path / "other-machine"
        with unlocked_store(secrets["store"], directory=other, kdf=FAST_KDF_FOR_TESTS) as store:
            store.add_memory("something")
            from assistant.store import export_to

            export_to(store, backup, "a different export passphrase", kdf=FAST_KDF_FOR_TESTS)
    args = ["--passphrase-file", str(secrets["store"]), "--export-passphrase-file", str(secrets["export"])]
    assert main(["import", str(backup), *args]) == 1
    assert capsys.readouterr().err
    assert _files_under(paths.data_dir()) == []


def test_import_into_a_fresh_data_directory_still_creates_the_store(secrets, tmp_path):
    other = tmp_path / "other-machine"
    backup = tmp_path / "backup.enc"
    with unlocked_store(secrets["store"], directory=other, kdf=FAST_KDF_FOR_TESTS) as store:
        store.add_memory("the sister is called Ana")
        from assistant.store import export_to

        export_to(store, backup, EXPORT_PW, kdf=FAST_KDF_FOR_TESTS)
    args = ["--passphrase-file", str(secrets["store"]), "--export-passphrase-file", str(secrets["export"])]
    assert main(["import", str(backup), *args]) == 0
    assert contents(secrets["store"])["memories"] == ["the sister is called Ana"]


def test_passwd_on_an_empty_data_directory_creates_nothing(secrets, tmp_path, capsys):
    """Regression: `assistant passwd` opened the store (creating store.db and store.lock) before
    finding there was no key file, leaving a database behind in an empty data directory."""
    home = paths.data_dir(create=True)
    new = write_secret(tmp_path, "new.pw", "brand new")
    assert main(["passwd", "--passphrase-file", str(secrets["store"]), "--new-passphrase-file", str(new)]) == 1
    assert "no store" in capsys.readouterr().err
    assert _files_under(home) == []


def test_passwd_help_says_earlier_copies_keep_the_old_passphrase(filled_home, secrets, tmp_path, capsys):
    """What the help promises, shown: a copy of the store taken before `passwd` still opens with
    the old passphrase, and not with the new one (issue 18: a test of help text alone)."""
    with pytest.raises(SystemExit):
        main(["passwd", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "earlier copies" in out and "backups" in out and "old passphrase" in out

    copy = tmp_path / "copy-before-passwd"
    copy.mkdir(mode=0o700)
    for name in ("vault.json", "store.db"):
        (copy / name).write_bytes((filled_home / name).read_bytes())
    new = write_secret(tmp_path, "new.pw", "brand new passphrase")
    assert main(["passwd", "--passphrase-file", str(secrets["store"]), "--new-passphrase-file", str(new)]) == 0
    with unlocked_store(secrets["store"], create=False, directory=copy) as store:
        assert [m.text for m in store.list_memories()] == ["The user's sister is called Ana"]
    with pytest.raises(WrongPassphrase):
        with unlocked_store(new, create=False, directory=copy):
            pass


def test_plaintext_export_refuses_an_existing_directory(filled_home, secrets, tmp_path, capsys):
    mine = tmp_path / "Documents"
    mine.mkdir(mode=0o755)
    mine.chmod(0o755)
    assert main(["export", str(mine), "--plaintext", "--force", "--passphrase-file", str(secrets["store"])]) == 1
    assert "open to other users" in capsys.readouterr().err
    assert (mine.stat().st_mode & 0o777) == 0o755 and list(mine.iterdir()) == []
