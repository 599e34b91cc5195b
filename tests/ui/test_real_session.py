"""The app on the real `assistant.Session` (a tiny trained model): the wiring, end to end in-process.

Everything else in tests/ui runs on the fake; this proves the fake's interface is the real one's:
first run, a streamed reply stored encrypted, quit, a new app on the same data directory, unlock,
the history shown again.
"""

from __future__ import annotations

import pytest

from tests.ui.conftest import fill, settle, unlock, wait_until

PASSPHRASE = "plum kettle orbit seven"


@pytest.fixture(scope="module")
def model_dir():
    from tests.assistant.session_support import tiny_model_dir

    return tiny_model_dir()


def real_opener(home, model_dir):
    from assistant.opener import SessionOpener
    from tests.assistant.session_support import CHEAP_KDF

    return SessionOpener(home=home, model_dir=model_dir, kdf=CHEAP_KDF)


async def wait_for_reply(pilot) -> None:
    await wait_until(pilot, lambda: not pilot.app.screen.replying, timeout=60)
    await settle(pilot)


async def test_first_run_chat_quit_and_unlock_again_on_the_real_session(tmp_path, model_dir, new_app):
    from ui.screens.chat import ChatScreen
    from ui.screens.unlock import UnlockScreen
    from ui.widgets.chat_log import MessageView

    home = tmp_path / "home"
    app = new_app(real_opener(home, model_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen) and app.screen.create
        assert not home.exists()  # nothing written before the passphrase is accepted
        await fill(pilot, PASSPHRASE)
        await pilot.press("enter")
        await fill(pilot, PASSPHRASE)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen), timeout=60)
        await fill(pilot, "My sister is called Ines.")
        await pilot.press("enter")
        await wait_for_reply(pilot)
        views = list(app.screen.query(MessageView))
        assert [v.role for v in views] == ["user", "assistant"]
        reply = views[-1].markdown.source
        assert reply.strip()
        assert "tok/s" in str(app.screen.query_one("StatusBar").render())
        await pilot.press("ctrl+q")
    assert app.session is None  # closed on the way out

    again = new_app(real_opener(home, model_dir))
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(again.screen, UnlockScreen) and not again.screen.create
        await unlock(pilot, "wrong passphrase")
        assert "Wrong passphrase" in str(again.screen.query_one("#error").render())
        await unlock(pilot, PASSPHRASE)
        await wait_until(pilot, lambda: isinstance(again.screen, ChatScreen), timeout=60)
        await settle(pilot)
        views = list(again.screen.query(MessageView))
        assert [v.markdown.source for v in views] == ["My sister is called Ines.", reply]
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("escape", "f3")
        await settle(pilot)
        await pilot.press("ctrl+q")
