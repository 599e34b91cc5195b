"""`assistant doctor`: what it checks, what it says is wrong, and how to fix it."""

from __future__ import annotations

import json

import pytest

from assistant import doctor
from assistant.doctor import Check
from ui import keymap
from ui.cli import main


@pytest.fixture(autouse=True)
def _no_voice_hardware(monkeypatch):
    """The microphone and speech model are checked in their own test below, not on this machine's hardware."""
    monkeypatch.setattr(doctor, "check_voice", lambda: [Check("voice", "skip", "not checked in this test")])


def run_doctor(capsys, *args: str) -> tuple[int, str]:
    code = main(["doctor", *args])
    return code, capsys.readouterr().out


def test_a_missing_model_fails_with_how_to_fix_it(capsys, tmp_path):
    code, out = run_doctor(capsys, "--model", str(tmp_path / "nowhere"))
    assert code == 1
    assert "FAIL  model" in out
    assert "fix: train the default model" in out
    assert "1 problem to fix" in out


def test_a_good_model_and_a_fresh_machine_pass(capsys):
    from tests.assistant.session_support import tiny_model_dir

    code, out = run_doctor(capsys, "--model", str(tiny_model_dir()))
    assert code == 0, out
    assert "parameters" in out and "diagonal state" in out
    assert "does not exist yet; the first run creates it" in out
    assert "no vault yet" in out
    assert "all good" in out


def test_a_data_directory_others_can_read_is_a_warning_with_chmod(tmp_path, _isolated_home):
    _isolated_home.mkdir(mode=0o755)
    _isolated_home.chmod(0o755)
    (_isolated_home / "store.db").write_bytes(b"")
    (_isolated_home / "store.db").chmod(0o644)
    checks = doctor.check_data_dir(_isolated_home)
    assert [(c.status, c.fix) for c in checks] == [
        ("warn", f"chmod 700 {_isolated_home}"),
        ("warn", f"chmod 600 {_isolated_home}/*"),
    ]


def test_a_database_without_its_key_file_fails(_isolated_home):
    _isolated_home.mkdir(mode=0o700)
    (_isolated_home / "store.db").write_bytes(b"")
    [check] = doctor.check_vault(_isolated_home)
    assert check.status == "fail" and "key file is gone" in check.detail


def test_a_vault_in_use_by_another_instance_is_reported(_isolated_home):
    from memory.crypto import FAST_KDF_FOR_TESTS
    from memory.lock import InstanceLock
    from memory.vault import Vault

    _isolated_home.mkdir(mode=0o700)
    Vault(_isolated_home).create("a passphrase", kdf=FAST_KDF_FOR_TESTS)
    lock = InstanceLock(_isolated_home)
    lock.acquire()
    try:
        checks = {c.name: c for c in doctor.check_vault(_isolated_home)}
        vault, instance = checks["vault"], checks["instance"]
    finally:
        lock.release()
    assert vault.status == "ok" and "Argon2id" in vault.detail
    assert instance.status == "warn" and "another assistant is running" in instance.detail


def test_a_broken_keys_file_is_a_warning(_isolated_home):
    _isolated_home.mkdir(mode=0o700)
    (_isolated_home / "keys.json").write_text("{")
    [check] = keymap.check_keys(_isolated_home)
    assert check.status == "warn" and "not valid JSON" in check.detail


def test_a_missing_microphone_is_a_warning_not_a_failure(monkeypatch):
    import assistant.voice

    monkeypatch.undo()  # the real check_voice, with a fake report
    monkeypatch.setattr(
        assistant.voice, "doctor_report", lambda: [("microphone", False, "no input device found"), ("speech model", True, "ok")], raising=False
    )
    mic, model = doctor.check_voice()
    assert (mic.status, model.status) == ("warn", "ok")
    assert "arecord -l" in mic.fix


def test_json_output(capsys, tmp_path):
    code, out = run_doctor(capsys, "--model", str(tmp_path / "nowhere"), "--json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False
    assert doc["checks"][0]["name"] == "model" and doc["checks"][0]["status"] == "fail"


def test_doctor_writes_nothing(capsys, tmp_path, _isolated_home):
    run_doctor(capsys, "--model", str(tmp_path / "nowhere"))
    assert not _isolated_home.exists()
