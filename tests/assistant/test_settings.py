"""Settings are safe to read from several threads while the store is busy."""

from __future__ import annotations

import threading

import pytest

from assistant.settings import Settings
from memory.crypto import FAST_KDF_FOR_TESTS
from memory.store import Store


@pytest.mark.timeout(30)  # the bug hangs: fail fast instead
def test_reading_settings_inside_a_transaction_does_not_deadlock(tmp_path):
    """Regression: Settings held its own lock while waiting for the store's, so a thread inside a
    store transaction (add_memory -> enqueue -> settings) and the learning worker (settings ->
    store) waited for each other forever."""
    store = Store.open(tmp_path)
    store.create("a passphrase for tests", kdf=FAST_KDF_FOR_TESTS)
    settings = Settings(store)
    worker_done = threading.Event()

    def worker():
        settings.get("learning.strategy")  # not cached: reads the store
        worker_done.set()

    try:
        with store.transaction():
            t = threading.Thread(target=worker, daemon=True)
            t.start()
            t.join(0.3)  # the worker now waits for the store, which this thread holds
            settings.get("sampling.temperature")  # needs the settings lock: must not block
        t.join(5)
        assert worker_done.is_set()
    finally:
        store.close()
