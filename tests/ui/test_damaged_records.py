"""The app says so when damaged records were left out (issue 16), instead of failing the screen."""

from __future__ import annotations

from tests.ui.conftest import notifications, settle, unlock
from tests.ui.fake_session import FakeSession


async def test_the_app_reports_damaged_records_left_out(seeded, new_app, monkeypatch):
    damaged = ["record 3 in table 'conversations' (column 'payload') failed authentication"]
    monkeypatch.setattr(FakeSession, "damaged_records", lambda self: list(damaged))
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await settle(pilot)
        shown = [n for n in notifications(app) if "damaged record" in n]
        assert shown and "assistant verify" in shown[0] and "table 'conversations'" in shown[0]


async def test_no_report_when_nothing_is_damaged(seeded, new_app):
    app = new_app(seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await settle(pilot)
        assert not [n for n in notifications(app) if "damaged record" in n]
