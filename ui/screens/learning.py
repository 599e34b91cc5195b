"""The learning screen: what the assistant learned, how it went, and how to undo it."""

from __future__ import annotations

from collections.abc import Iterable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Button, DataTable, Footer, Label, Sparkline, Static

from assistant.errors import USER_ERRORS
from assistant.session.records import AdapterVersionInfo, LearningEvent
from ui.screens._format import loss, one_line, when
from ui.screens.base import SessionScreen
from ui.screens.dialogs import ConfirmDialog

EXPLANATION = (
    "After each exchange the assistant makes a small update to a personal adapter, a thin layer "
    "on top of the model, using what you said plus a sample of earlier conversations. Each update "
    "is checked against general text (the anchor); an update that makes general language worse is "
    "undone on its own. Pause stops learning (chats still work). Roll back returns to any kept "
    "version. Deleting a message or a memory retrains the adapter without it. Temporary chats are "
    "never learned from."
)


def _series(values: Iterable[float | None]) -> list[float]:
    """The numbers among `values` (a version without a metric is skipped)."""
    return [float(v) for v in values if isinstance(v, (int, float))]


class LearningScreen(SessionScreen):
    """Adapter versions with their metrics, loss sparklines, pause/resume, roll back, the log."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="learning.back"),
        Binding("p", "toggle_pause", "Pause/resume", id="learning.pause"),
        Binding("r", "rollback", "Roll back", id="learning.rollback"),
    ]
    """
    | Key | Action |
    | :- | :- |
    | escape | Back to the chat. |
    | p | Pause learning, or resume it. |
    | r | Roll back to the selected version (asks first). |
    """

    DEFAULT_CSS = """
    LearningScreen > .title {
        height: 1;
        padding: 0 1;
        text-style: bold;
        background: $boost;
    }
    LearningScreen #body { height: 1fr; padding: 0 1; }
    LearningScreen #state { height: auto; margin: 0 0 1 0; }
    LearningScreen .buttons { height: 1; margin: 0 0 1 0; }
    LearningScreen .buttons Button { margin: 0 1 0 0; }
    LearningScreen .spark-row { height: 2; }
    LearningScreen .spark-row Label { width: 16; color: $text-muted; }
    LearningScreen Sparkline { width: 1fr; height: 2; }
    LearningScreen #personal > .sparkline--max-color { color: $success; }
    LearningScreen #personal > .sparkline--min-color { color: $success 50%; }
    LearningScreen #anchor > .sparkline--max-color { color: $warning; }
    LearningScreen #anchor > .sparkline--min-color { color: $warning 50%; }
    LearningScreen #versions { height: auto; max-height: 12; margin: 1 0; }
    LearningScreen #log { height: auto; max-height: 10; }
    LearningScreen .heading { text-style: bold; margin: 1 0 0 0; }
    LearningScreen #explanation { color: $text-muted; margin: 1 0 0 0; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._versions: list[AdapterVersionInfo] = []

    def compose(self) -> ComposeResult:
        yield Static("Learning: what the assistant learned from you", classes="title")
        with VerticalScroll(id="body"):
            yield Static("", id="state")
            with Horizontal(classes="buttons"):
                yield Button("Pause", id="pause", compact=True)
                yield Button("Roll back to selected", id="rollback", variant="warning", compact=True)
                yield Button("Base model", id="base", compact=True)
            with Horizontal(classes="spark-row"):
                yield Label("personal loss", id="personal-label")
                yield Sparkline([], id="personal")
            with Horizontal(classes="spark-row"):
                yield Label("anchor loss", id="anchor-label")
                yield Sparkline([], id="anchor")
            yield DataTable(id="versions", cursor_type="row", zebra_stripes=True)
            yield Static("Recent events", classes="heading")
            yield DataTable(id="log", cursor_type="none", show_header=False)
            yield Static(Content(EXPLANATION), id="explanation")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_all()
        self.query_one("#versions").focus()

    def refresh_all(self) -> None:
        """Redraw everything from the session."""
        status = self.session.learning_status()
        version = f"version {status.version}" if status.version is not None else "the base model (nothing learned yet)"
        pending = f" · {status.pending} exchange{'s' if status.pending != 1 else ''} waiting" if status.pending else ""
        last = f"\nLast: {one_line(status.last_event, 200)}" if status.last_event else ""
        self.query_one("#state", Static).update(Content(f"State: {status.state} · using {version}{pending}{last}"))
        self.query_one("#pause", Button).label = "Resume" if status.state == "paused" else "Pause"

        versions = list(self.session.adapter_versions())
        self._versions = versions
        losses = {"personal": [v.personal_loss for v in versions], "anchor": [v.anchor_loss for v in versions]}
        for name, values in losses.items():
            series = _series(values)
            self.query_one(f"#{name}", Sparkline).data = series or [0.0]
            trend = f"\n{series[0]:.2f} → {series[-1]:.2f}" if series else "\nnothing yet"
            self.query_one(f"#{name}-label", Label).update(Content(f"{name} loss{trend}"))

        table = self.query_one("#versions", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        for name, width in (("Ver", 4), ("When", 12), ("Personal", 8), ("Anchor", 7), ("Base", 6), ("Kept", 11), ("Why", 12)):
            table.add_column(name, width=width)
        for v in reversed(versions):
            kept = "in use" if v.active else ("kept" if v.accepted else "rejected")
            table.add_row(
                Content(str(v.version)),
                Content(when(v.created_at)),
                Content(loss(v.personal_loss)),
                Content(loss(v.anchor_loss)),
                Content(loss(v.base_anchor_loss)),
                Content(kept),
                Content(one_line(v.kept_reason or "", 12)),
            )
        if versions:
            table.move_cursor(row=min(row, len(versions) - 1))

        log = self.query_one("#log", DataTable)
        log.clear(columns=True)
        log.add_column("When", width=12)
        log.add_column("What", width=14)
        log.add_column("Detail", width=max(20, (self.size.width or 80) - 42))
        for event in reversed(list(self.session.learning_log(limit=20))):
            log.add_row(Content(when(event.at)), Content(one_line(event.kind, 14)), Content(one_line(event.detail, 120)))

    def learning_changed(self, event: LearningEvent | None) -> None:
        """The learner reported (called by the app on the UI thread)."""
        self.refresh_all()

    # --- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "pause":
            self.action_toggle_pause()
        elif event.button.id == "rollback":
            self.action_rollback()
        elif event.button.id == "base":
            self.action_rollback_to_base()

    def action_toggle_pause(self) -> None:
        if self.session.learning_status().state == "paused":
            self.session.resume_learning()
            self.notify("Learning resumed.", timeout=3)
        else:
            self.session.pause_learning()
            self.notify("Learning paused: chats work as before, nothing new is learned.", timeout=4)
        self.refresh_all()

    def _selected_version(self) -> AdapterVersionInfo | None:
        if not self._versions:
            return None
        table = self.query_one("#versions", DataTable)
        ordered = list(reversed(self._versions))
        return ordered[min(table.cursor_row, len(ordered) - 1)]

    def action_rollback(self) -> None:
        version = self._selected_version()
        if version is None:
            self.notify("Nothing has been learned yet, so there is nothing to roll back.", severity="warning")
            return

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._rollback(version.version)

        self.app.push_screen(
            ConfirmDialog(
                f"Roll back to version {version.version}?",
                f"The assistant goes back to what it had learned by {when(version.created_at)}. "
                "New learning continues from there.",
                confirm="Roll back",
                danger=False,
            ),
            done,
        )

    def action_rollback_to_base(self) -> None:
        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._rollback(None)

        self.app.push_screen(
            ConfirmDialog(
                "Go back to the base model?",
                "The assistant stops using everything it learned from you (the versions stay listed, so "
                "you can roll forward again). Your conversations and memories are kept.",
                confirm="Use the base model",
                danger=False,
            ),
            done,
        )

    @work(thread=True, exclusive=True, group="rollback")
    def _rollback(self, version: int | None) -> None:
        try:
            self.session.rollback(version)
        except (*USER_ERRORS, OSError) as exc:
            self.app.call_from_thread(self.notify, f"Could not roll back: {exc}", severity="error")
            return
        self.app.call_from_thread(self._rolled_back, version)

    def _rolled_back(self, version: int | None) -> None:
        self.refresh_all()
        self.notify("Using the base model." if version is None else f"Rolled back to version {version}.", timeout=4)
