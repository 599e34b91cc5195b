"""Fixtures for the store's tests: a fresh, unlocked store with cheap key derivation."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory.store import Store
from tests.memory.store_helpers import FAST, PASSPHRASE


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """Where the test's store lives."""
    return tmp_path / "data"


@pytest.fixture
def store(store_dir: Path):
    """A new, unlocked store (cheap Argon2id parameters); closed after the test."""
    s = Store.open(store_dir)
    s.create(PASSPHRASE, kdf=FAST)
    yield s
    if not s.closed:
        s.close()
