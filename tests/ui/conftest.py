"""Fixtures for the terminal app's tests: a fake session behind the real app factory."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ui import fake_session
from tests.ui.fake_session import FakeOpener
from ui.app import AssistantApp, make_app

PASSPHRASE = "correct horse battery staple"


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (Pilot needs one; no asyncio plugin required)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


def no_voice(**_callbacks: Any) -> Any:
    """The app's voice factory in tests: there is no microphone here (the app says so and typing works)."""
    from assistant.errors import MicrophoneUnavailable

    raise MicrophoneUnavailable("no microphone in the tests")


@pytest.fixture(autouse=True)
def _forget_fake_vaults():
    yield
    fake_session.forget_all()


@pytest.fixture
def keys_path(tmp_path: Path) -> Path:
    """Where the app looks for key bindings in a test (not created unless a test writes it)."""
    return tmp_path / "keys.json"


@pytest.fixture
def new_app(keys_path: Path) -> Callable[..., AssistantApp]:
    """`new_app(opener, **kwargs)`: the real app factory with test defaults (no voice, dark theme)."""

    def build(opener: Any, **kwargs: Any) -> AssistantApp:
        kwargs.setdefault("keys_path", keys_path)
        kwargs.setdefault("voice_factory", no_voice)
        kwargs.setdefault("theme", "dark")
        return make_app(opener, **kwargs)

    return build


@pytest.fixture
def opener() -> FakeOpener:
    """An opener over an empty fake data directory (first run)."""
    return FakeOpener()


@pytest.fixture
def seeded() -> FakeOpener:
    """An opener over a fake vault with two conversations, two memories and two adapter versions."""
    fake_session.seed(passphrase=PASSPHRASE)
    return FakeOpener()


async def settle(pilot: Any) -> None:
    """Wait for thread workers, the fake learner, and the messages they posted."""
    app = pilot.app
    for _ in range(3):
        await app.workers.wait_for_complete()
        session = getattr(app, "session", None)
        if session is not None and hasattr(session, "wait_for_learning"):
            session.wait_for_learning(5)
        await pilot.pause()


async def type_text(pilot: Any, text: str) -> None:
    """Type `text` key by key (spaces as "space")."""
    await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in text])


async def fill(pilot: Any, text: str) -> None:
    """Put `text` into the focused input at once (typing long texts key by key is slow), then a key."""
    focused = pilot.app.focused
    if hasattr(focused, "insert_text_at_cursor"):
        focused.insert_text_at_cursor(text)
    else:
        focused.insert_text(text)
    await pilot.pause()


async def unlock(pilot: Any, passphrase: str = PASSPHRASE) -> None:
    """Enter the passphrase on the unlock screen, press Enter and wait for the chat."""
    await fill(pilot, passphrase)
    await pilot.press("enter")
    await settle(pilot)


async def wait_until(pilot: Any, predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    """Let the app run until `predicate()` is true (fails the test after `timeout` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {getattr(predicate, '__name__', 'a condition')}")
        await pilot.pause(0.02)


def assistant_views(app: Any) -> list[Any]:
    from ui.widgets.chat_log import MessageView

    return [v for v in app.screen.query(MessageView) if v.role == "assistant"]


def last_reply_source(app: Any) -> str:
    """The Markdown source of the last assistant message in the log."""
    views = assistant_views(app)
    return views[-1].markdown.source if views else ""


def notifications(app: Any) -> list[str]:
    """The texts of the notifications shown so far."""
    return [str(n.message) for n in app._notifications]
