"""Crash safety: a writer killed with SIGKILL at random moments never leaves a partial turn, and
one killed during edits, deletes and the WAL's truncation loses nothing and leaves nothing half done."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from memory.store import Store
from tests.memory.crash_writer import churn_actual, churn_expected, churn_prepare, state_bytes, turn_texts
from tests.memory.store_helpers import FAST, PASSPHRASE

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


CHURN_KILLS = 16


def test_sigkilled_edits_deletes_and_truncations_lose_nothing(store_dir):
    """Issue 18: the kills above land only in appends. Here each operation is an edit, a delete
    of a conversation or of a message (with an edit beside it) and the WAL's checkpoint and
    truncation after it; after every kill the store holds exactly the state after some operation
    k, every operation the writer saw committed included (k >= the last printed), none
    half applied, and what was never touched is whole."""
    with Store.open(store_dir) as store:
        store.create(PASSPHRASE, kdf=FAST)
        churn_prepare(store)
    rng = random.Random(20261207)
    printed_last, kills_after_writes = -1, 0
    for _ in range(CHURN_KILLS):
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), str(store_dir), PASSPHRASE, "churn"], stdout=subprocess.PIPE, text=True
        )
        try:
            assert writer.stdout.readline().split() == ["ready", str(printed_last)]
            time.sleep(rng.uniform(0.02, 0.25))
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=30)
        printed = [int(line) for line in writer.stdout.read().splitlines() if line.isdigit()]
        writer.stdout.close()
        kills_after_writes += bool(printed)
        printed_last = max([printed_last, *printed])
        with Store.open(store_dir) as store:
            store.unlock(PASSPHRASE)
            assert store.verify() == []
            actual = churn_actual(store)
        assert actual["op"] >= printed_last, "an operation the writer saw committed was lost"
        assert actual["op"] <= printed_last + 1
        assert actual == churn_expected(actual["op"])
        printed_last = actual["op"]
    assert kills_after_writes >= CHURN_KILLS // 2, "most kills should land while operations run"
    assert printed_last >= 3 * 4, "every kind of operation ran, more than once"
