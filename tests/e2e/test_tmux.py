"""The real `assistant` command in a real terminal (tmux), with a temporary data directory.

Create a passphrase, send a message, watch the reply stream, quit; start again, unlock, see the
history, quit. It needs the shipped model (models/default/model.safetensors) and the session;
`ASSISTANT_E2E_MODEL=/path/to/model` runs it against another model folder instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "default" / "model.safetensors"
OVERRIDE = os.environ.get("ASSISTANT_E2E_MODEL")
PASSPHRASE = "plum kettle orbit seven"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not OVERRIDE and not SHIPPED.is_file(),
        reason=f"the shipped model is not there yet ({SHIPPED.relative_to(ROOT)}); set ASSISTANT_E2E_MODEL to use another",
    ),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Terminal:
    """One tmux session running one command; read the screen, type into it."""

    def __init__(self, command: list[str], env: dict[str, str], size: tuple[int, int] = (100, 30)) -> None:
        self.name = f"assistant-e2e-{uuid.uuid4().hex[:8]}"
        self.socket = f"{self.name}.sock"
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        shell = f"env {exports} {' '.join(_quote(c) for c in command)}"
        self._tmux("new-session", "-d", "-s", self.name, "-x", str(size[0]), "-y", str(size[1]), shell)
        self._tmux("set-option", "-t", self.name, "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.name, "-l", text)

    def key(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def cursor(self) -> tuple[int, int]:
        """Where the terminal's cursor is (Textual puts it in the focused input)."""
        x, y = self._tmux("display-message", "-p", "-t", self.name, "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def wait_for_cursor_to_leave(self, where: tuple[int, int], timeout: float = 30.0) -> None:
        """Wait until focus (and so the cursor) moved on: keys typed before that go to the old field."""
        deadline = time.monotonic() + timeout
        while self.cursor() == where:
            if time.monotonic() > deadline:
                raise AssertionError(f"the cursor stayed at {where}; the screen shows:\n{self.screen()}")
            time.sleep(0.05)

    def exited(self) -> bool:
        return self._tmux("display-message", "-p", "-t", self.name, "#{pane_dead}").strip() == "1"

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        test = (lambda screen: what in screen) if isinstance(what, str) else what
        while time.monotonic() < deadline:
            screen = self.screen()
            if test(screen):
                return screen
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what!r}; the screen shows:\n{self.screen()}")

    def wait_exit(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() > deadline:
                raise AssertionError(f"the app did not exit; the screen shows:\n{self.screen()}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def replied(screen: str) -> bool:
    """The status bar shows a speed (the reply finished) and no reply is being written."""
    return "writing…" not in screen and "– tok/s" not in screen and "tok/s" in screen


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@pytest.fixture
def start(tmp_path):
    terminals: list[Terminal] = []
    home = tmp_path / "home"
    command = [str(Path(sys.executable).parent / "assistant")]
    if OVERRIDE:
        command += ["--model", OVERRIDE]
    env = {
        "ASSISTANT_HOME": str(home),
        "ASSISTANT_CACHE": str(tmp_path / "cache"),
        "OMP_WAIT_POLICY": "PASSIVE",
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
    }

    def run() -> Terminal:
        terminal = Terminal(command, env)
        terminals.append(terminal)
        return terminal

    yield run
    for terminal in terminals:
        terminal.close()


def test_first_run_chat_quit_then_unlock_and_see_the_history(start):
    first = start()
    first.wait_for("choose a passphrase")
    first.type(PASSPHRASE)
    first.wait_for("Strength: strong")
    where = first.cursor()
    first.key("Enter")
    first.wait_for_cursor_to_leave(where)  # the second field has the focus
    first.type(PASSPHRASE)
    first.key("Enter")
    first.wait_for("Type a message")

    first.type("My sister is called Ines.")
    first.key("Enter")
    screens = [first.wait_for(lambda s: "writing…" in s or replied(s), timeout=300)]
    while not replied(screens[-1]):  # watch it stream
        time.sleep(0.05)
        screens.append(first.screen())
    streamed = [s for s in screens if "writing… (Esc stops)" in s and "Assistant" in s]
    # A tiny test model (ASSISTANT_E2E_MODEL) may finish between two looks; the shipped one streams for seconds.
    assert streamed or OVERRIDE, "never saw the reply being written"
    assert "My sister is called Ines." in screens[-1] and "Assistant" in screens[-1]
    first.key("C-q")
    first.wait_exit()

    second = start()
    second.wait_for("Unlock the assistant")
    second.type(PASSPHRASE)
    second.key("Enter")
    history = second.wait_for(lambda s: "Assistant" in s and "You" in s)
    assert "My sister is called Ines." in history.split("You", 1)[1]  # in the chat log, not only as a title
    second.key("C-q")
    second.wait_exit()
