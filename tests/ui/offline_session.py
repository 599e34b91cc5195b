"""Run a whole session with the network blocked and every attempt recorded (used by test_offline.py).

    python -m tests.ui.offline_session HOME MODEL_DIR RESULT.json

An audit hook (installed before anything of the project is imported) refuses to create any
internet or raw socket and refuses every network connect, name lookup and send, recording each
attempt. Unix sockets stay allowed (local IPC, no network): asyncio's event loop wakes itself
through a socket pair. Then the real app
runs on the real session: first run, a chat with a streamed reply, learning from it, an export
through the memory screen, quit; and the result (with the attempts) is written as JSON.
"""

from __future__ import annotations

import socket
import sys

ATTEMPTS: list[list[str]] = []
BLOCKED_EVENTS = {
    "socket.connect",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.getnameinfo",
    "socket.sendto",
    "socket.sendmsg",
    "socket.bind",
    "urllib.Request",
    "http.client.connect",
    "ftplib.connect",
    "smtplib.connect",
}


def _audit(event: str, args: tuple) -> None:
    if event == "socket.__new__":
        family = args[1] if len(args) > 1 else None
        if family not in (socket.AF_UNIX, -1):
            ATTEMPTS.append([event, repr(args[1:])[:200]])
            raise OSError(f"offline test: socket family {family} refused")
    elif event in BLOCKED_EVENTS:
        if event == "socket.connect" and isinstance(args[1], (str, bytes)):
            return  # a Unix socket path: local IPC (e.g. the desktop keyring's D-Bus), not a network
        ATTEMPTS.append([event, repr(args)[:200]])
        raise OSError(f"offline test: {event} refused")


sys.addaudithook(_audit)

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

PASSPHRASE = "plum kettle orbit seven"
EXPORT_PASSPHRASE = "a different export passphrase"


async def drive(home: Path, model_dir: Path, export: Path) -> dict:
    from assistant.opener import SessionOpener
    from tests.assistant.session_support import CHEAP_KDF
    from tests.ui.conftest import no_voice
    from ui.app import make_app
    from ui.screens.chat import ChatScreen
    from ui.widgets.chat_log import MessageView

    async def until(pilot, predicate, timeout=120.0):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError("the app did not get there in time")
            await pilot.pause(0.05)

    app = make_app(SessionOpener(home=home, model_dir=model_dir, kdf=CHEAP_KDF), keys_path=home / "keys.json", voice_factory=no_voice)
    result: dict = {}
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for _ in range(2):
            app.focused.insert_text_at_cursor(PASSPHRASE)
            await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChatScreen))
        app.focused.insert_text("My sister is called Ines and she lives in Porto.")
        await pilot.press("enter")
        await until(pilot, lambda: not app.screen.replying and len(app.screen.query(MessageView)) == 2)
        result["reply"] = list(app.screen.query(MessageView))[-1].markdown.source
        result["learned"] = app.session.wait_for_learning(120)
        result["versions"] = len(app.session.adapter_versions())
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        dialog = app.screen
        dialog.query_one("#path").value = str(export)
        dialog.query_one("#passphrase").value = EXPORT_PASSPHRASE
        dialog.query_one("#repeat").value = EXPORT_PASSPHRASE
        await pilot.click("#ok")
        await until(pilot, lambda: export.exists() and not app.screen.query_one("#progress-row").has_class("-active"))
        await app.workers.wait_for_complete()
        await pilot.press("ctrl+q")
    result["export_bytes"] = export.stat().st_size
    return result


def main() -> None:
    home, model_dir, out = (Path(a) for a in sys.argv[1:4])
    os.environ["ASSISTANT_HOME"] = str(home)
    result = asyncio.run(drive(home, model_dir, home.parent / "backup.enc"))
    result["attempts"] = ATTEMPTS
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
