"""First run, unlock, wrong passphrase, keyring option: the unlock screen's flows."""

from __future__ import annotations

from textual.widgets import Checkbox, Input, Static

from tests.ui.conftest import PASSPHRASE, fill, settle, type_text, unlock
from tests.ui.fake_session import FakeSession
from ui.screens.chat import ChatScreen
from ui.screens.unlock import FORGET_WARNING, UnlockScreen
from ui.widgets.strength import StrengthHint


def error_text(app) -> str:
    return str(app.screen.query_one("#error", Static).render())


async def create(pilot, first: str, second: str) -> None:
    await fill(pilot, first)
    await pilot.press("enter")  # moves to the second field
    await fill(pilot, second)
    await pilot.press("enter")
    await settle(pilot)


async def test_first_run_asks_twice_and_warns_that_a_forgotten_passphrase_loses_everything(opener, new_app):
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, UnlockScreen) and screen.create
        assert {w.id for w in screen.query(Input)} == {"passphrase", "repeat"}
        assert all(w.password for w in screen.query(Input))
        shown = " ".join(str(w.render()) for w in screen.query(Static))
        assert FORGET_WARNING in shown


async def test_first_run_creates_the_vault_and_opens_the_chat(opener, new_app):
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await create(pilot, PASSPHRASE, PASSPHRASE)
        assert isinstance(app.screen, ChatScreen)
        assert opener.calls == [(PASSPHRASE, True)]
        assert FakeSession.exists()


async def test_first_run_refuses_two_different_passphrases(opener, new_app):
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await create(pilot, PASSPHRASE, PASSPHRASE + "x")
        assert isinstance(app.screen, UnlockScreen)
        assert "differ" in error_text(app)
        assert opener.calls == []


async def test_first_run_refuses_a_short_passphrase(opener, new_app):
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await create(pilot, "abc", "abc")
        assert "at least 8 characters" in error_text(app)
        assert opener.calls == []


async def test_first_run_refuses_a_very_weak_passphrase(opener, new_app):
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await create(pilot, "password", "password")
        assert "too easy to guess" in error_text(app)
        assert opener.calls == []


async def test_the_strength_hint_follows_what_is_typed(opener, new_app):
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        hint = app.screen.query_one(StrengthHint)
        await type_text(pilot, "hunter2")
        assert "weak" in str(hint.render())
        app.screen.query_one("#passphrase", Input).value = ""
        await fill(pilot, "plum kettle orbit seven lantern")
        await pilot.pause()
        assert "strong" in str(hint.render())
        assert "weak" not in str(hint.render())


async def test_unlock_with_the_right_passphrase_shows_the_chat(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, UnlockScreen) and not app.screen.create
        await unlock(pilot)
        assert isinstance(app.screen, ChatScreen)
        assert seeded.calls == [(PASSPHRASE, False)]


async def test_a_wrong_passphrase_says_so_and_lets_the_user_try_again(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot, "not my passphrase")
        assert isinstance(app.screen, UnlockScreen)
        assert "Wrong passphrase" in error_text(app)
        field = app.screen.query_one("#passphrase", Input)
        assert field.value == "" and field.has_focus and not field.disabled
        await unlock(pilot, "still not it")
        assert "attempt 2" in error_text(app)
        await unlock(pilot)
        assert isinstance(app.screen, ChatScreen)


async def test_nothing_is_written_before_unlock(opener, new_app, keys_path, _isolated_home):
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_text(pilot, "typed but never submitted")
        await pilot.press("ctrl+q")
    assert not _isolated_home.exists()
    assert not keys_path.exists()
    assert opener.calls == []


async def test_a_second_instance_is_told_another_one_is_running(seeded, new_app):
    first = FakeSession.open(PASSPHRASE)
    try:
        app = new_app(seeded)
        async with app.run_test(size=(100, 30)) as pilot:
            await unlock(pilot)
            assert isinstance(app.screen, UnlockScreen)
            assert "already running" in error_text(app)
    finally:
        first.close()


async def test_a_passphrase_from_a_file_unlocks_at_once(seeded, new_app):
    app = new_app(seeded, passphrase=PASSPHRASE)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)


async def test_the_os_keyring_can_be_chosen_on_the_first_run(new_app):
    from tests.ui.fake_session import FakeOpener

    opener = FakeOpener(keyring=(True, "an OS-encrypted keyring is available"))
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        box = app.screen.query_one("#keyring", Checkbox)
        assert box.display and not box.disabled
        box.value = True
        app.screen.query_one("#passphrase").focus()
        await create(pilot, PASSPHRASE, PASSPHRASE)
        assert isinstance(app.screen, ChatScreen)
        assert opener.session.keyring_enabled


async def test_an_unavailable_keyring_is_shown_disabled_with_the_reason(new_app):
    from tests.ui.fake_session import FakeOpener

    opener = FakeOpener(keyring=(False, "the keyring backend stores secrets in plaintext"))
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        box = app.screen.query_one("#keyring", Checkbox)
        assert box.display and box.disabled
        assert "plaintext" in str(app.screen.query_one("#keyring-reason", Static).render())


async def test_a_vault_with_a_keyring_key_unlocks_without_the_passphrase(new_app):
    from tests.ui import fake_session
    from tests.ui.fake_session import FakeOpener

    fake_session.seed(passphrase=PASSPHRASE)
    fake_session._VAULTS[fake_session._key(None)].keyring = True
    opener = FakeOpener(keyring=(True, "an OS-encrypted keyring is available"))
    app = new_app(opener)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#use-keyring").display
        await pilot.click("#use-keyring")
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        assert opener.calls == []  # no passphrase was asked for


async def test_the_keyring_button_is_hidden_when_the_vault_has_no_keyring_key(seeded, new_app):
    seeded._keyring = (True, "an OS-encrypted keyring is available")
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert not app.screen.query_one("#use-keyring").display
