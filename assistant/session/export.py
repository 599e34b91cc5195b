"""The whole store at once: export (encrypted, or a readable folder) and import (replace or merge)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.session.protocol import ProgressFn
from assistant.store import export_plaintext, export_to, import_from

if TYPE_CHECKING:
    from assistant.learning import LearningScheduler
    from assistant.store import Store


class Archive:
    """Exports and imports one session's store; `replaced()` is called after an import."""

    def __init__(self, store: Store, learning: LearningScheduler, replaced: Callable[[], None]) -> None:
        self.store = store
        self.learning = learning
        self._replaced = replaced

    def export(self, path: Path | str, export_passphrase: str, *, plaintext: bool = False, progress: ProgressFn | None = None) -> Any:
        """Write everything to one encrypted file (or a readable directory with `plaintext`)."""
        if progress:
            progress(0, 1)
        if plaintext:
            result = export_plaintext(self.store, Path(path))
        else:
            result = export_to(self.store, Path(path), export_passphrase)
        if progress:
            progress(1, 1)
        return result

    def import_(self, path: Path | str, export_passphrase: str, *, merge: bool = False, progress: ProgressFn | None = None) -> Any:
        """Restore an export (replace, or `merge`); learning picks up the imported state."""
        if progress:
            progress(0, 1)
        counts = self.learning.replaced(lambda: import_from(self.store, Path(path), export_passphrase, merge=merge))
        self._replaced()
        if progress:
            progress(1, 1)
        return counts
