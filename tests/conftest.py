"""Shared fixtures. Every test gets its own data directory: no test touches the real one."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP: see ui/cli.py

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "assistant-home"
    monkeypatch.setenv("ASSISTANT_HOME", str(home))
    monkeypatch.setenv("ASSISTANT_CACHE", str(tmp_path / "assistant-cache"))
    monkeypatch.delenv("ASSISTANT_PASSPHRASE", raising=False)
    monkeypatch.delenv("ASSISTANT_EXPORT_PASSPHRASE", raising=False)
    monkeypatch.delenv("ASSISTANT_MODEL", raising=False)  # a user's model choice must not reach the tests
    yield home
