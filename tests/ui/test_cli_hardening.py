"""Smaller hardening of issue 16: a wrong passphrase writes nothing, passphrase files open to
other users are refused, stored Argon2 costs are bounded before use."""

from __future__ import annotations

import json
import os

import pytest

from assistant.unlock import PassphraseError, read_passphrase_file
from memory.crypto import KdfParams
from memory.errors import ExportFormatError, VaultCorrupt
from memory.vault import Vault
from tests.ui.test_cli_store import filled_home, secrets, write_secret  # noqa: F401  (fixtures)
from ui.cli import main


def files_of(directory) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(directory.iterdir()) if p.is_file()}


def test_a_wrong_passphrase_writes_nothing(filled_home, tmp_path, capsys):  # noqa: F811
    """Regression (issue 16): a wrong passphrase rewrote store.lock (and opened the database)."""
    before = files_of(filled_home)
    wrong = write_secret(tmp_path, "wrong.pw", "not it")
    for argv in (["history"], ["export", str(tmp_path / "x.enc")], ["verify"], ["passwd"], ["passwd", "--rekey"]):
        assert main([*argv, "--passphrase-file", str(wrong)]) == 1
        assert "wrong passphrase" in capsys.readouterr().err
    assert files_of(filled_home) == before


def test_a_passphrase_file_open_to_others_is_refused(tmp_path):
    """Regression (issue 16): `--passphrase-file` never checked the file's permissions."""
    path = tmp_path / "pw"
    path.write_text("secret\n")
    for mode in (0o644, 0o640, 0o604, 0o660):
        path.chmod(mode)
        with pytest.raises(PassphraseError, match=f"open to other users \\(mode {mode:04o}\\).*chmod 600"):
            read_passphrase_file(path)
    path.chmod(0o600)
    assert read_passphrase_file(path) == "secret"
    path.chmod(0o400)
    assert read_passphrase_file(path) == "secret"


def test_the_command_line_refuses_a_readable_passphrase_file(filled_home, secrets, capsys):  # noqa: F811
    os.chmod(secrets["store"], 0o644)
    assert main(["history", "--passphrase-file", str(secrets["store"])]) == 1
    assert "chmod 600" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kdf", [{"time_cost": 64}, {"memory_kib": 4 * 1024 * 1024}, {"lanes": 64}, {"time_cost": 11}],
)
def test_stored_argon2_costs_are_bounded_before_use(filled_home, kdf):  # noqa: F811
    """Regression (issue 16): a key file could demand t=64 and 4 GiB before anything was checked."""
    vault = Vault(filled_home)
    doc = vault._read()
    doc["slots"]["passphrase"]["kdf"].update(kdf)
    vault.path.write_text(json.dumps(doc))
    with pytest.raises(VaultCorrupt, match="must be in"):
        vault.unlock("any passphrase")  # refused at once: no Argon2 run at that cost


def test_the_bounds_keep_the_design_parameters():
    KdfParams(time_cost=3, memory_kib=64 * 1024, lanes=4)
    KdfParams(time_cost=10, memory_kib=1024 * 1024, lanes=16)
    with pytest.raises(ValueError):
        KdfParams(time_cost=1, memory_kib=2 * 1024 * 1024, lanes=4)


def test_an_export_header_asking_for_costs_beyond_the_bounds_is_refused(tmp_path):
    """t=12 passed the export's old limit (16); the bound is now the key file's (10)."""
    from memory.archive import MAGIC, read_export, write_export
    from memory.crypto import FAST_KDF_FOR_TESTS
    from memory.records import Snapshot

    path = tmp_path / "x.enc"
    write_export(Snapshot(), path, "pw", kdf=FAST_KDF_FOR_TESTS)
    first, rest = path.read_bytes()[len(MAGIC) :].split(b"\n", 1)
    header = json.loads(first)
    header["kdf"]["time_cost"] = 12
    path.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + rest)
    with pytest.raises(ExportFormatError, match="time_cost must be in 1..10"):
        read_export(path, "pw")


def _export_with(tmp_path, secrets, **fields):  # noqa: F811
    from memory.archive import write_export
    from memory.crypto import FAST_KDF_FOR_TESTS
    from memory.records import Conversation, Snapshot

    snap = Snapshot(conversations=[Conversation(1, "imported", 1.0, 1.0)], **fields)
    path = tmp_path / "junk.enc"
    write_export(snap, path, secrets["export"].read_text().strip(), kdf=FAST_KDF_FOR_TESTS)
    return path


@pytest.mark.parametrize(
    "fields, message",
    [
        ("state", "is not a saved state"),
        ("adapter", "is not an adapter"),
        ("setting", "must be a float"),
        ("strategy", "settings are invalid"),
    ],
)
def test_import_refuses_content_that_would_not_load(filled_home, secrets, tmp_path, capsys, fields, message):  # noqa: F811
    """Regression (issue 16): an export that authenticated but carried a junk state, adapter or a
    wrongly typed setting was imported (and one then broke `ask`)."""
    from memory.records import AdapterVersion, RecurrentState, Sources

    kwargs = {
        "state": {"states": [RecurrentState(1, b"definitely not a state", "tag", 1.0)]},
        "adapter": {"adapter_versions": [AdapterVersion(1, {}, 1.0, None, Sources(), b"\x08" + b"\x00" * 7 + b"{}")]},
        "setting": {"settings": {"sampling.temperature": "hot"}},
        "strategy": {"settings": {"learning.strategy": "no such strategy"}},
    }[fields]
    path = _export_with(tmp_path, secrets, **kwargs)
    args = ["--passphrase-file", str(secrets["store"]), "--export-passphrase-file", str(secrets["export"])]
    before = files_of(filled_home)["store.db"]
    assert main(["import", str(path), *args]) == 1
    assert message in capsys.readouterr().err
    assert files_of(filled_home)["store.db"][1] == before[1]


def test_passwd_rekey_gives_the_store_a_new_key(filled_home, secrets, tmp_path, capsys):  # noqa: F811
    """Regression (issue 16): `passwd` only re-wrapped the same data key, so an old copy of
    store.db still decrypted (deleted messages included) with today's key file."""
    import shutil

    shutil.copy(filled_home / "store.db", tmp_path / "old.db")
    args = ["--passphrase-file", str(secrets["store"])]
    assert main(["passwd", "--rekey", *args]) == 0
    assert "rekeyed" in capsys.readouterr().out
    assert main(["history", *args]) == 0 and "Lisbon trip" in capsys.readouterr().out
    shutil.copy(tmp_path / "old.db", filled_home / "store.db")
    assert main(["history", *args]) == 1
    assert "does not belong to its database" in capsys.readouterr().err
