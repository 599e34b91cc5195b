"""A SIGKILL in the middle of an update: the previous adapter version is intact and loadable, and
the interrupted job runs again at the next start. The writer is a real process, killed for real."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.checkpoint import load_model
from core.lora import load_adapter_bytes

from .session_support import open_session, tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import hashlib, sys, time
    from pathlib import Path
    from tests.assistant.session_support import greedy, open_session

    home, model_dir = Path(sys.argv[1]), Path(sys.argv[2])
    session = open_session(home, model_dir)
    session.new_conversation()
    session.send("my cat is called Miso", settings=greedy(6)).wait()
    assert session.wait_for_learning(60)
    print("V1", hashlib.sha256(session.store.get_adapter_version(1).data).hexdigest(), flush=True)

    def slow_step():
        print("UPDATING", flush=True)
        time.sleep(60)

    session.learning.step_hook = slow_step
    session.send("and my dog is Biscuit", settings=greedy(6)).wait()
    time.sleep(60)
    """
)


@pytest.mark.slow
def test_a_sigkill_during_an_update_leaves_the_previous_version_intact(tmp_path):
    model_dir = tiny_model_dir()
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home), str(model_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        for line in child.stdout:
            lines.append(line.strip())
            if line.startswith("UPDATING"):
                break
        assert lines and lines[-1] == "UPDATING", f"child output: {lines}\n{child.stderr.read()}"
        v1_hash = lines[0].split()[1]
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    session = open_session(home, model_dir, learn=False)
    try:
        assert [v.version for v in session.adapter_versions()] == [1]
        data = session.store.get_adapter_version(1).data
        assert hashlib.sha256(data).hexdigest() == v1_hash
        model, _ = load_model(model_dir)
        load_adapter_bytes(model, data, model.cfg.hash())  # loadable
        assert [j.kind for j in session.learning.pending()] == ["exchange"]
        assert session.learning_status().version == 1
    finally:
        session.close()

    session = open_session(home, model_dir)  # the interrupted job runs again
    try:
        assert session.wait_for_learning(60)
        assert [v.version for v in session.adapter_versions()] == [1, 2]
        assert session.store.list_adapter_versions()[-1].parent == 1
    finally:
        session.close()
