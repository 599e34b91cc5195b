"""`assistant verify [--repair]` and `doctor`'s store check (issue 16)."""

from __future__ import annotations

import sqlite3

from assistant import paths
from assistant.doctor import check_vault
from tests.ui.test_cli_store import filled_home, secrets  # noqa: F401  (fixtures)
from ui.cli import main


def external(sql: str, params=()) -> None:
    conn = sqlite3.connect(paths.data_dir() / "store.db")
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def flip_first(table: str) -> int:
    """Flip a bit in the payload of the row with the lowest id (ids are random: any row); its id."""
    conn = sqlite3.connect(paths.data_dir() / "store.db")
    try:
        with conn:
            ident, blob = conn.execute(f"SELECT id, payload FROM {table} ORDER BY id LIMIT 1").fetchone()
            data = bytearray(blob)
            data[-3] ^= 1
            conn.execute(f"UPDATE {table} SET payload = ? WHERE id = ?", [bytes(data), ident])
    finally:
        conn.close()
    return ident


def pw(secrets):  # noqa: F811
    return ["--passphrase-file", str(secrets["store"])]


def test_verify_of_a_sound_store_says_so(filled_home, secrets, capsys):  # noqa: F811
    assert main(["verify", *pw(secrets)]) == 0
    assert "sound" in capsys.readouterr().out


def test_verify_lists_a_damaged_record_and_repair_drops_it(filled_home, secrets, capsys):  # noqa: F811
    ident = flip_first("messages")
    assert main(["verify", *pw(secrets)]) == 1
    out = capsys.readouterr().out
    assert f"damaged: record {ident} in table 'messages'" in out
    assert main(["verify", "--repair", *pw(secrets)]) == 2  # no terminal, no --yes: refused
    assert main(["verify", "--repair", "--yes", *pw(secrets)]) == 0
    assert "1 damaged record dropped" in capsys.readouterr().out
    assert main(["verify", *pw(secrets)]) == 0


def test_a_store_with_a_deleted_row_is_refused_until_repaired(filled_home, secrets, capsys):  # noqa: F811
    external("DELETE FROM memories")
    assert main(["history", *pw(secrets)]) == 1
    assert "rows of memories are missing" in capsys.readouterr().err
    assert main(["verify", *pw(secrets)]) == 1
    assert "1 of 1 rows of memories are missing" in capsys.readouterr().out
    assert main(["verify", "--repair", "--yes", *pw(secrets)]) == 0
    assert main(["history", *pw(secrets)]) == 0


def test_export_takes_everything_readable_and_names_what_it_left_out(filled_home, secrets, tmp_path, capsys):  # noqa: F811
    """Regression (issue 16): one damaged record made `export` refuse outright."""
    flip_first("messages")
    out = tmp_path / "backup.enc"
    code = main(["export", str(out), *pw(secrets), "--export-passphrase-file", str(secrets["export"])])
    captured = capsys.readouterr()
    assert code == 0 and out.exists()
    assert "1 conversations, 1 messages" in captured.out and "1 memories" in captured.out
    assert "left out 1 damaged record" in captured.err and "'messages'" in captured.err


def test_history_skips_a_damaged_message_and_says_so(filled_home, secrets, capsys):  # noqa: F811
    flip_first("messages")
    assert main(["history", "Lisbon trip", *pw(secrets)]) == 0
    captured = capsys.readouterr()
    shown = ["Have a good flight!" in captured.out, "I fly to Lisbon" in captured.out]
    assert shown.count(True) == 1  # the damaged one of the two is left out, the other shown
    assert "1 damaged record left out" in captured.err


def test_doctor_fails_the_store_check_when_the_database_is_gone(filled_home):  # noqa: F811
    (filled_home / "store.db").unlink()
    store = [c for c in check_vault(filled_home) if c.name == "store"]
    assert store and store[0].status == "fail" and "is missing" in store[0].detail


def test_doctor_passes_a_sound_store(filled_home):  # noqa: F811
    store = [c for c in check_vault(filled_home) if c.name == "store"]
    assert store and store[0].status == "ok"
