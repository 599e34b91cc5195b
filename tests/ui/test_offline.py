"""Offline, provably: a whole session (unlock, chat, learn, export) makes no network attempt.

The session runs in a child process (`tests/ui/offline_session.py`) whose audit hook refuses and
records every internet socket, connect, name lookup and send; where `unshare -n` works, the child
also runs in a network namespace with no interfaces, so even a C library bypassing Python's
socket module would find no network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _network_namespace_prefix() -> list[str]:
    """["unshare", "-rn"] (or "-n" as root) if an empty network namespace can be made here, else []."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    for flags in (["-n"], ["-rn"]):
        try:
            if subprocess.run([unshare, *flags, "true"], capture_output=True, timeout=10).returncode == 0:
                return [unshare, *flags]
        except (OSError, subprocess.TimeoutExpired):
            continue
    return []


def test_a_whole_session_makes_no_network_attempt(tmp_path):
    from tests.assistant.session_support import tiny_model_dir

    model_dir = tiny_model_dir()
    home = tmp_path / "home"
    out = tmp_path / "result.json"
    env = {**os.environ, "ASSISTANT_HOME": str(home), "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT)}
    command = [*_network_namespace_prefix(), sys.executable, "-m", "tests.ui.offline_session", str(home), str(model_dir), str(out)]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=480)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["attempts"] == [], "something tried to use the network"
    assert result["reply"].strip()
    assert result["learned"] and result["versions"] >= 1
    assert result["export_bytes"] > 0


def test_the_guard_catches_and_records_a_connection_attempt():
    """The proof above is only as good as its guard: an attempt must be refused and recorded."""
    code = (
        "import tests.ui.offline_session as guard, socket, json\n"
        "targets = (lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM), lambda: socket.getaddrinfo('example.org', 80),\n"
        "           lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM),\n"
        "           lambda: socket.socket(socket.AF_UNIX).connect('/nonexistent/bus'))\n"
        "for target in targets:\n"
        "    try:\n"
        "        target()\n"
        "    except OSError:\n"
        "        pass\n"
        "a, b = socket.socketpair()\n"  # asyncio's self-pipe must keep working
        "print(json.dumps([e for e, _ in guard.ATTEMPTS]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["socket.__new__", "socket.getaddrinfo", "socket.__new__"]  # not the Unix one
