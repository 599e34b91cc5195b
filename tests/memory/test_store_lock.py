"""One running instance per data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from memory.errors import InstanceLocked
from memory.store import Store

PROBE = """
import sys
from memory.errors import InstanceLocked
from memory.store import Store
try:
    Store.open(sys.argv[1]).close()
except InstanceLocked as exc:
    print("LOCKED", exc)
else:
    print("OPENED")
"""

HOLDER = """
import sys, time
from memory.store import Store
store = Store.open(sys.argv[1])
print("HOLDING", flush=True)
time.sleep(60)
"""


def _python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, **kwargs)


def test_second_instance_in_the_same_process_is_refused(store_dir):
    with Store.open(store_dir):
        with pytest.raises(InstanceLocked, match="already running"):
            Store.open(store_dir)
    Store.open(store_dir).close()  # free again once closed


def test_second_process_is_refused_with_a_clear_message(store_dir):
    with Store.open(store_dir):
        out, _ = _python(PROBE, str(store_dir)).communicate(timeout=60)
    assert out.startswith("LOCKED") and f"process {os.getpid()}" in out
    out, _ = _python(PROBE, str(store_dir)).communicate(timeout=60)
    assert out.strip() == "OPENED"


def test_lock_of_a_killed_instance_does_not_block_the_next(store_dir):
    holder = _python(HOLDER, str(store_dir))
    try:
        assert holder.stdout.readline().strip() == "HOLDING"
        with pytest.raises(InstanceLocked):
            Store.open(store_dir)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        holder.stdout.close()
    Store.open(store_dir).close()


def test_a_lock_file_removed_by_reset_is_not_locked_by_a_late_opener(store_dir, monkeypatch):
    """Regression: reset unlinked store.lock while held. A process that had opened the old file just
    before got its flock just after the release, while another created and locked a new file: two
    instances on one data directory. `acquire` must check that its file is still the one at the path."""
    import fcntl

    from memory import lock as lock_module
    from memory.lock import InstanceLock

    store_dir.mkdir()
    resetting, late, newcomer = InstanceLock(store_dir), InstanceLock(store_dir), InstanceLock(store_dir)
    resetting.acquire()
    real_flock = fcntl.flock
    armed = True

    def interleaved_flock(fd, operation):
        nonlocal armed
        if armed:  # `late` has opened the old file and is about to lock it: the reset finishes now
            armed = False
            resetting.release(remove=True)
            newcomer.acquire()
        return real_flock(fd, operation)

    monkeypatch.setattr(lock_module.fcntl, "flock", interleaved_flock)
    with pytest.raises(InstanceLocked):
        late.acquire()
    assert newcomer.held and not late.held
    newcomer.release()
