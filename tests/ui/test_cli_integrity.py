"""The command line facing a damaged store (issue 16): refused with one clear line, never replaced."""

from __future__ import annotations

import shutil

from assistant import paths
from assistant.store import unlocked_store
from memory.crypto import FAST_KDF_FOR_TESTS
from tests.ui.test_cli_store import filled_home, secrets  # noqa: F401  (fixtures)
from ui.cli import main


def test_history_with_a_deleted_database_is_refused_not_empty(filled_home, secrets, capsys):  # noqa: F811
    """Regression (issue 16): `assistant history` printed "no conversations yet" and exited 0."""
    (filled_home / "store.db").unlink()
    code = main(["history", "--passphrase-file", str(secrets["store"])])
    err = capsys.readouterr()
    assert code == 1 and "no conversations yet" not in err.out
    assert "store.db" in err.err and "is missing" in err.err and "assistant reset" in err.err
    assert not (filled_home / "store.db").exists()


def test_export_of_an_emptied_database_is_refused(filled_home, secrets, tmp_path, capsys):  # noqa: F811
    """Regression (issue 16): `export` of a zero-byte store.db succeeded with an empty export."""
    (filled_home / "store.db").write_bytes(b"")
    out = tmp_path / "backup.enc"
    code = main(["export", str(out), "--passphrase-file", str(secrets["store"]),
                 "--export-passphrase-file", str(secrets["export"])])
    assert code == 1 and not out.exists()
    assert "empty" in capsys.readouterr().err


def test_history_of_a_rolled_back_database_is_refused(filled_home, secrets, tmp_path, capsys):  # noqa: F811
    shutil.copy(filled_home / "store.db", tmp_path / "old.db")
    with unlocked_store(secrets["store"], kdf=FAST_KDF_FOR_TESTS) as store:
        store.add_memory("said after the copy")
    shutil.copy(tmp_path / "old.db", paths.data_dir() / "store.db")
    code = main(["history", "--passphrase-file", str(secrets["store"])])
    assert code == 1 and "older than its key file" in capsys.readouterr().err


def test_reset_after_a_missing_database_starts_over_as_the_message_says(filled_home, secrets, tmp_path, capsys):  # noqa: F811
    (filled_home / "store.db").unlink()
    assert main(["history", "--passphrase-file", str(secrets["store"])]) == 1
    assert main(["reset", "--yes"]) == 0
    assert not (filled_home / "vault.json").exists()
    args = ["--passphrase-file", str(secrets["store"]), "--export-passphrase-file", str(secrets["export"])]
    assert main(["export", str(tmp_path / "fresh.enc"), *args]) == 0  # a new, empty store
    assert "nothing yet" in capsys.readouterr().out
