"""The memory screen: what the assistant keeps, searchable, editable and deletable.

Memories (facts the user can read and change: where each was said and when, how often it was
used, whether a newer one superseded it) and conversations are listed in tabs; Enter in
the search box asks the recall index and lists the hits. Export, import and reset are here too,
each confirmed, each with a progress bar. Deleting anything starts unlearning in the
background; its progress is shown under the lists as the learner reports it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, DataTable, Footer, Input, ProgressBar, Static, TabbedContent, TabPane

from assistant.errors import USER_ERRORS
from assistant.session.protocol import ProgressFn
from assistant.session.records import LearningEvent, SearchHit
from ui.screens._format import one_line, when
from ui.screens.base import SessionScreen
from ui.screens.dialogs import ConfirmDialog, ExportDialog, ExportRequest, ImportDialog, ImportRequest, TextPrompt
from ui.widgets.safe_input import SafeInput

_STEP = re.compile(r"(\d+)\s*/\s*(\d+)")
"""A "done/total" step in a learning event's detail ("unlearning: retraining 3/10")."""


def _plain(text: str) -> Content:
    return Content(text)


class MemoryScreen(SessionScreen):
    """Browse, search, add, edit and delete what the assistant keeps; export, import, reset."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="memory.back"),
        Binding("a", "add_memory", "Add", id="memory.add"),
        Binding("e", "edit_memory", "Edit", id="memory.edit"),
        Binding("d,delete", "delete_selected", "Delete", id="memory.delete"),
        Binding("m", "merge", "Merge", id="memory.merge"),
        Binding("slash", "focus_search", "Search", id="memory.search"),
        Binding("x", "export", "Export", id="memory.export"),
        Binding("i", "import", "Import", id="memory.import"),
    ]
    """
    | Key | Action |
    | :- | :- |
    | escape | Back to the chat. |
    | a | Add a memory. |
    | e | Edit the selected memory. |
    | d, delete | Delete the selected memory or conversation (asks first). |
    | m | Mark the selected memory for merging; marking a second one merges the two into one text. |
    | / | Search conversations and memories (Enter asks the recall index). |
    | x | Export everything to an encrypted file. |
    | i | Import an export. |
    """

    DEFAULT_CSS = """
    MemoryScreen > .title {
        height: 1;
        padding: 0 1;
        text-style: bold;
        background: $boost;
    }
    MemoryScreen #search { margin: 0 1; }
    MemoryScreen TabbedContent { height: 1fr; }
    MemoryScreen TabPane { padding: 0; }
    MemoryScreen DataTable { height: 1fr; }
    MemoryScreen .buttons { height: 1; margin: 0 1; }
    MemoryScreen .buttons Button { margin: 0 1 0 0; }
    MemoryScreen .buttons .spacer { width: 1fr; }
    MemoryScreen #progress-row { height: 1; margin: 0 1; display: none; }
    MemoryScreen #progress-row.-active { display: block; }
    MemoryScreen #progress-label { width: 1fr; color: $text-muted; }
    MemoryScreen #progress { width: 32; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._memory_ids: list[int] = []
        self._conversation_ids: list[int] = []
        self._hits: list[SearchHit] = []
        self._marked: list[int] = []
        """The memories marked for merging (a second mark merges)."""
        self._operation: str | None = None
        """The export / import / reset running, if any (it owns the progress bar)."""

    def compose(self) -> ComposeResult:
        yield Static("Memory: what the assistant keeps", classes="title")
        yield SafeInput(placeholder="Search conversations and memories (Enter)", id="search", max_length=500)
        with TabbedContent(initial="memories-tab"):
            with TabPane("Memories", id="memories-tab"):
                yield DataTable(id="memories", cursor_type="row", zebra_stripes=True)
            with TabPane("Conversations", id="conversations-tab"):
                yield DataTable(id="conversations", cursor_type="row", zebra_stripes=True)
            with TabPane("Search results", id="results-tab"):
                yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
        with Horizontal(classes="buttons"):
            yield Button("Add", id="add", compact=True)
            yield Button("Edit", id="edit", compact=True)
            yield Button("Merge", id="merge", compact=True)
            yield Button("Delete", id="delete", variant="error", compact=True)
            yield Static(classes="spacer")
            yield Button("Export", id="export", compact=True)
            yield Button("Import", id="import", compact=True)
            yield Button("Reset", id="reset", variant="error", compact=True)
        with Horizontal(id="progress-row"):
            yield Static("", id="progress-label")
            yield ProgressBar(id="progress", show_eta=False)
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_tables()
        self.query_one("#memories", DataTable).focus()
        self.learning_changed(None)

    def on_resize(self) -> None:
        if self.app.session is not None:
            self.refresh_tables()

    # --- tables -------------------------------------------------------------------------------

    def _text_width(self, other: int) -> int:
        return max(16, (self.size.width or 80) - other)

    def refresh_tables(self, query: str = "") -> None:
        """Refill the memory and conversation tables (filtered by `query`, as typed)."""
        query = query or self.query_one("#search", Input).value
        needle = query.strip().lower()
        memories = [m for m in self.session.memories() if needle in m.text.lower()]
        every_conversation = self.session.conversations()
        titles = {c.id: c.title or "Untitled" for c in every_conversation}
        table = self.query_one("#memories", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        width = self._text_width(54)
        table.add_column("Memory", width=width)
        table.add_column("Said in", width=14)
        table.add_column("When", width=12)
        table.add_column("Used", width=4)
        table.add_column("Status", width=10)
        for memory in memories:
            source = "typed in" if memory.conversation_id is None else titles.get(memory.conversation_id, "(deleted)")
            text = ("[m] " if memory.id in self._marked else "") + memory.text
            table.add_row(
                _plain(one_line(text, width)),
                _plain(one_line(source, 14)),
                _plain(when(memory.said_at or memory.created_at)),
                _plain(str(memory.times_used)),
                _plain(memory.status),
            )
        self._memory_ids = [m.id for m in memories]
        if memories:
            table.move_cursor(row=min(row, len(memories) - 1))

        conversations = [c for c in every_conversation if needle in (c.title or "").lower()]
        table = self.query_one("#conversations", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        width = self._text_width(30)
        table.add_column("Conversation", width=width)
        table.add_column("Msgs", width=4)
        table.add_column("Updated", width=12)
        for conv in conversations:
            title = ("TEMP " if conv.temporary else "") + (conv.title or "Untitled")
            table.add_row(_plain(one_line(title, width)), _plain(str(conv.message_count)), _plain(when(conv.updated_at)))
        self._conversation_ids = [c.id for c in conversations]
        if conversations:
            table.move_cursor(row=min(row, len(conversations) - 1))

    def _show_hits(self, hits: list[SearchHit]) -> None:
        table = self.query_one("#results", DataTable)
        table.clear(columns=True)
        width = self._text_width(24)
        table.add_column("Kind", width=8)
        table.add_column("Text", width=width)
        table.add_column("Score", width=6)
        for hit in hits:
            table.add_row(_plain(hit.kind), _plain(one_line(hit.text, width)), _plain(f"{hit.score:.2f}"))
        self._hits = hits

    @on(Input.Changed, "#search")
    def _filter(self, event: Input.Changed) -> None:
        self.refresh_tables(event.value)

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        event.stop()
        query = event.value.strip()
        if not query:
            return
        hits = list(self.session.search(query, k=20))
        self._show_hits(hits)
        self.query_one(TabbedContent).active = "results-tab"
        self.query_one("#results", DataTable).focus()
        if not hits:
            self.notify("Nothing found.", timeout=3)

    def _tab(self) -> str:
        return self.query_one(TabbedContent).active

    def _selected(self, table_id: str, ids: list[int]) -> int | None:
        table = self.query_one(f"#{table_id}", DataTable)
        if not ids or table.row_count == 0:
            return None
        return ids[min(table.cursor_row, len(ids) - 1)]

    @on(DataTable.RowSelected)
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        table_id = event.data_table.id
        if table_id == "conversations":
            ident = self._selected("conversations", self._conversation_ids)
            if ident is not None:
                self.app.open_conversation(ident)
        elif table_id == "results" and self._hits:
            hit = self._hits[min(event.cursor_row, len(self._hits) - 1)]
            if hit.kind == "message" and hit.conversation_id is not None:
                self.app.open_conversation(hit.conversation_id)
            elif hit.kind == "memory" and hit.id in self._memory_ids:
                self.query_one(TabbedContent).active = "memories-tab"
                table = self.query_one("#memories", DataTable)
                table.move_cursor(row=self._memory_ids.index(hit.id))
                table.focus()
        elif table_id == "memories":
            self.action_edit_memory()

    # --- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_focus_search(self) -> None:
        self.query_one("#search").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {
            "add": self.action_add_memory,
            "edit": self.action_edit_memory,
            "merge": self.action_merge,
            "delete": self.action_delete_selected,
            "export": self.action_export,
            "import": self.action_import,
            "reset": self.action_reset,
        }
        actions[event.button.id or ""]()

    def action_add_memory(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self.session.add_memory(text)
                self.refresh_tables()
                self.notify("Memory added.", timeout=3)

        self.app.push_screen(
            TextPrompt("Add a memory", placeholder="e.g. My sister is called Ana.", hint="A fact the assistant should know and may use in replies."),
            done,
        )

    def action_edit_memory(self) -> None:
        ident = self._selected("memories", self._memory_ids)
        if ident is None:
            self.notify("Select a memory first.", severity="warning")
            return
        current = next((m for m in self.session.memories() if m.id == ident), None)
        if current is None:
            return

        def done(text: str | None) -> None:
            if text and text != current.text:
                self.session.edit_memory(ident, text)
                self.refresh_tables()

        self.app.push_screen(TextPrompt("Edit the memory", value=current.text), done)

    def action_merge(self) -> None:
        """Mark the selected memory (or unmark it); with two marked, ask for the merged text."""
        ident = self._selected("memories", self._memory_ids)
        if ident is None or self._tab() != "memories-tab":
            self.notify("Select a memory first.", severity="warning")
            return
        if ident in self._marked:
            self._marked.remove(ident)
            self.refresh_tables()
            return
        self._marked.append(ident)
        self.refresh_tables()
        if len(self._marked) < 2:
            self.notify("Marked for merging: select another memory and press m.", timeout=4)
            return
        ids, self._marked = self._marked[:2], []
        texts = {m.id: m.text for m in self.session.memories()}

        def done(text: str | None) -> None:
            if text:
                self._merge(ids, text)
            else:
                self.refresh_tables()

        self.app.push_screen(
            TextPrompt(
                "Merge two memories", value=" ".join(texts.get(i, "") for i in ids).strip(),
                hint="The two become this one memory; both are forgotten (and unlearned).",
            ),
            done,
        )  # fmt: skip

    @work(thread=True, group="delete")
    def _merge(self, ids: list[int], text: str) -> None:
        try:
            self.session.merge_memories(ids, text)
        except (*USER_ERRORS, OSError, ValueError) as exc:
            self.app.call_from_thread(self.notify, f"Could not merge: {exc}", severity="error")
            return
        self.app.call_from_thread(self._merged)

    def _merged(self) -> None:
        self.refresh_tables()
        self.notify("Merged into one memory; the assistant is unlearning the two.", timeout=4)

    def action_delete_selected(self) -> None:
        if self._tab() == "conversations-tab":
            self._delete_conversation()
        else:
            self._delete_memory()

    def _delete_memory(self) -> None:
        ident = self._selected("memories", self._memory_ids)
        if ident is None:
            self.notify("Select a memory first.", severity="warning")
            return
        current = next((m for m in self.session.memories() if m.id == ident), None)
        text = one_line(current.text, 60) if current else str(ident)

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._delete("memory", ident)

        self.app.push_screen(
            ConfirmDialog("Delete this memory?", f"“{text}” is deleted and the assistant unlearns it. This cannot be undone."),
            done,
        )

    def _delete_conversation(self) -> None:
        ident = self._selected("conversations", self._conversation_ids)
        if ident is None:
            self.notify("Select a conversation first.", severity="warning")
            return
        info = next((c for c in self.session.conversations() if c.id == ident), None)
        title = one_line(info.title or "Untitled", 50) if info else str(ident)

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._delete("conversation", ident)

        self.app.push_screen(
            ConfirmDialog(
                "Delete this conversation?",
                f"“{title}” and its messages are deleted, with what was remembered from them, and the assistant "
                "retrains without them. This cannot be undone.",
            ),
            done,
        )

    @work(thread=True, group="delete")
    def _delete(self, kind: str, ident: int) -> None:
        try:
            if kind == "memory":
                self.session.delete_memory(ident)
            else:
                self.session.delete_conversation(ident)
        except (*USER_ERRORS, OSError) as exc:
            self.app.call_from_thread(self.notify, f"Could not delete: {exc}", severity="error")
            return
        self.app.call_from_thread(self._deleted, kind)

    def _deleted(self, kind: str) -> None:
        self.refresh_tables()
        self.notify(f"The {kind} was deleted; the assistant is unlearning it.", timeout=4)

    # --- export, import, reset ----------------------------------------------------------------

    def action_export(self) -> None:
        if self._operation:
            self.notify(f"Wait for the {self._operation} to finish.", severity="warning")
            return
        default = Path.home() / "assistant-export.enc"

        def chosen(request: ExportRequest | None) -> None:
            if request is None:
                return
            if request.path.exists():
                self.app.push_screen(
                    ConfirmDialog("Overwrite?", f"{request.path} exists. Replace it?", confirm="Overwrite"),
                    lambda ok: self._start_export(request) if ok else None,
                )
            elif request.plaintext:
                self.app.push_screen(
                    ConfirmDialog(
                        "Write an unencrypted export?",
                        "Anyone who can read these files can read all your conversations and memories.",
                        confirm="Write plaintext",
                    ),
                    lambda ok: self._start_export(request) if ok else None,
                )
            else:
                self._start_export(request)

        self.app.push_screen(ExportDialog(default), chosen)

    def _start_export(self, request: ExportRequest) -> None:
        self._begin("export", "Exporting…")
        self._export(request)

    @work(thread=True, exclusive=True, group="data")
    def _export(self, request: ExportRequest) -> None:
        try:
            self.session.export(request.path, request.passphrase, plaintext=request.plaintext, progress=self._progress_callback())
        except (*USER_ERRORS, OSError) as exc:
            self.app.call_from_thread(self._end, f"Export failed: {exc}", "error")
            return
        self.app.call_from_thread(self._end, f"Exported to {request.path}.", "information")

    def action_import(self) -> None:
        if self._operation:
            self.notify(f"Wait for the {self._operation} to finish.", severity="warning")
            return

        def chosen(request: ImportRequest | None) -> None:
            if request is None:
                return
            if request.merge:
                self._start_import(request)
                return
            self.app.push_screen(
                ConfirmDialog(
                    "Replace everything?",
                    "Importing without merging deletes every conversation, memory and learned adapter here "
                    "and puts the export's in their place.",
                    confirm="Replace",
                ),
                lambda ok: self._start_import(request) if ok else None,
            )

        self.app.push_screen(ImportDialog(), chosen)

    def _start_import(self, request: ImportRequest) -> None:
        self._begin("import", "Importing…")
        self._import(request)

    @work(thread=True, exclusive=True, group="data")
    def _import(self, request: ImportRequest) -> None:
        try:
            self.session.import_(request.path, request.passphrase, merge=request.merge, progress=self._progress_callback())
        except (*USER_ERRORS, OSError, ValueError) as exc:
            self.app.call_from_thread(self._end, f"Import failed, nothing was changed: {exc}", "error")
            return
        self.app.call_from_thread(self._imported)

    def _imported(self) -> None:
        self._end("Imported.", "information")
        self.refresh_tables()

    def action_reset(self) -> None:
        if self._operation:
            self.notify(f"Wait for the {self._operation} to finish.", severity="warning")
            return

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._begin("reset", "Resetting…")
                self._reset()

        self.app.push_screen(
            ConfirmDialog(
                "Reset: delete everything?",
                "The keys are destroyed and every conversation, memory and learned adapter is deleted, for good. "
                "Export first if you may want anything back.",
                confirm="Reset",
                require_word="reset",
            ),
            done,
        )

    @work(thread=True, exclusive=True, group="data")
    def _reset(self) -> None:
        try:
            self.session.reset()
        except (*USER_ERRORS, OSError) as exc:
            self.app.call_from_thread(self._end, f"Reset failed: {exc}", "error")
            return
        self.app.call_from_thread(self.app.after_reset)

    # --- progress -----------------------------------------------------------------------------

    def _progress_callback(self) -> ProgressFn:
        """A `progress(done, total)` (or `progress(fraction)`) callback safe to call from a thread."""

        def progress(*args: Any) -> None:
            if len(args) >= 2 and args[1]:
                done, total = float(args[0]), float(args[1])
            elif args:
                done, total = float(args[0]), 1.0
            else:
                return
            self.app.call_from_thread(self._set_progress, done, total)

        return progress

    def _begin(self, operation: str, label: str) -> None:
        self._operation = operation
        self.query_one("#progress-label", Static).update(Content(label))
        self.query_one("#progress", ProgressBar).update(total=100, progress=0)
        self.query_one("#progress-row").add_class("-active")

    def _set_progress(self, done: float, total: float) -> None:
        self.query_one("#progress", ProgressBar).update(total=total, progress=done)

    def _end(self, message: str, severity: str) -> None:
        self._operation = None
        self.query_one("#progress-row").remove_class("-active")
        self.notify(message, severity=severity, timeout=6)  # type: ignore[arg-type]

    def learning_changed(self, event: LearningEvent | None) -> None:
        """Show unlearning progress while the learner forgets something (from the app)."""
        if self._operation:
            return
        status = self.session.learning_status()
        row = self.query_one("#progress-row")
        if status.state != "unlearning":
            row.remove_class("-active")
            return
        detail = (event.detail if event is not None else "") or status.last_event or ""
        detail = re.sub(r"^unlearning:\s*", "", detail, flags=re.IGNORECASE) or "retraining…"
        self.query_one("#progress-label", Static).update(Content(one_line(f"Unlearning: {detail}", 60)))
        bar = self.query_one("#progress", ProgressBar)
        step = _STEP.search(detail)
        if step and int(step.group(2)) > 0:
            bar.update(total=float(step.group(2)), progress=float(step.group(1)))
        else:
            bar.update(total=None)
        row.add_class("-active")
