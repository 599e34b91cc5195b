"""Crash safety: a writer killed with SIGKILL at random moments never leaves a partial turn."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from memory.store import Store
from tests.memory.crash_writer import state_bytes, turn_texts
from tests.memory.store_helpers import PASSPHRASE

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = 22


def check_store(directory: Path, committed: set[int]) -> int:
    """Every committed turn is present and whole, nothing is partial; returns the number of turns."""
    with Store.open(directory) as store:
        if not store.has_vault:
            assert not committed
            return 0
        store.unlock(PASSPHRASE)
        assert store.verify() == []
        conversations = store.list_conversations()
        if not conversations:
            assert not committed
            return 0
        (conversation,) = conversations
        messages = store.list_messages(conversation.id)
        assert len(messages) % 2 == 0, "a turn was half written"
        for n in range(len(messages) // 2):
            user, reply = messages[2 * n], messages[2 * n + 1]
            assert (user.role, user.text, reply.role, reply.text) == ("user", turn_texts(n)[0], "assistant", turn_texts(n)[1])
        turns = len(messages) // 2
        assert committed <= set(range(turns)), f"committed turns lost: {sorted(committed - set(range(turns)))}"
        state = store.load_state(conversation.id)
        if turns:
            assert state.tag == f"turn {turns - 1}" and state.data == state_bytes(turns - 1)
        return turns


def test_sigkilled_writer_leaves_every_committed_turn_whole(store_dir):
    rng = random.Random(20261121)
    committed: set[int] = set()
    runs_with_writes = 0
    for attempt in range(KILLS):
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), str(store_dir), PASSPHRASE], stdout=subprocess.PIPE, text=True
        )
        try:
            if attempt == 0:
                time.sleep(rng.uniform(0.0, 0.5))  # may land in startup or in creating the vault
            else:
                assert writer.stdout.readline().startswith("ready")
                time.sleep(rng.uniform(0.0, 0.12))
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=30)
        printed = [line for line in writer.stdout.read().splitlines() if line.isdigit()]
        writer.stdout.close()
        committed |= {int(n) for n in printed}
        runs_with_writes += bool(printed)
        turns = check_store(store_dir, committed)
        assert turns >= len(committed)
    assert runs_with_writes >= KILLS // 2, "most kills should land while turns are being written"
