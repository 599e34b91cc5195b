"""`SessionScreen`: a screen that shows the unlocked session, typed as `SessionLike`."""

from __future__ import annotations

from textual.screen import Screen

from assistant.session.protocol import SessionLike


class SessionScreen(Screen):
    """A screen of the unlocked app: chat, memory or learning (no style or keys of its own)."""

    @property
    def session(self) -> SessionLike:
        """The app's session (these screens are shown only while it is unlocked)."""
        return self.app.session  # type: ignore[attr-defined, no-any-return]
