"""Opening the database with the settings that keep deleted and temporary data off the disk.

- `secure_delete=ON`: deleted content is overwritten with zeros (in the pages and the freelist).
- `temp_store=MEMORY`: sorts, temporary tables and VACUUM's copy never go to a file in TMPDIR.
- WAL with `wal_checkpoint(TRUNCATE)` after deletes, edits and replaced rows (a setting, a state,
  an adapter's metrics) and on close: old page images do not linger in the -wal file (measured:
  without these, deleted text stays readable in .db and -wal).
- `synchronous=FULL`: a committed turn survives power loss as well as a killed process.
- The database file is created 0600 before SQLite opens it; SQLite gives the -wal and -shm files
  the database's mode.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from memory.errors import RECOVERY, DatabaseCorrupt
from memory.files import FILE_MODE, touch_private

SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


def side_files(path: Path) -> list[Path]:
    """The database file and every side file SQLite may create beside it."""
    return [path] + [path.with_name(path.name + suffix) for suffix in SIDE_SUFFIXES]


def tighten(path: Path) -> None:
    """Make the database and its side files 0600 (those that exist)."""
    for file in side_files(path):
        try:
            if file.stat().st_mode & 0o777 != FILE_MODE:
                os.chmod(file, FILE_MODE)
        except FileNotFoundError:
            continue


def connect(path: Path) -> Database:
    """Open (creating if needed) the database at `path` with the store's settings."""
    touch_private(path)
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        # Freed pages go back to the end of the file at each commit, so the header's count of free
        # pages does not tell that rows were deleted. Set only in a new (empty) database, the
        # only kind it takes effect in (and the kind a rekey writes): on an existing file the
        # pragma would rewrite its header, and an older store keeps its setting.
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            conn.execute("PRAGMA auto_vacuum = FULL")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise DatabaseCorrupt(f"could not switch {path} to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DatabaseCorrupt(f"{path} cannot be opened as a database: {exc}") from None
    tighten(path)
    # The sqlite-utils plugin hook is skipped: nothing outside this package touches the connection.
    return Database(conn, execute_plugins=False)


def checkpoint(db: Database) -> None:
    """Copy the WAL into the database and truncate it to zero bytes."""
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


class Rows:
    """A query's rows, read in full (what `memory.base.StoreBase._execute` returns for a query)."""

    __slots__ = ("_rows", "_next")

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows
        self._next = 0

    def fetchall(self) -> list[Any]:
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


def translated(exc: sqlite3.DatabaseError, path: Path) -> Exception:
    """A damaged page (a bare `sqlite3.DatabaseError`) as `DatabaseCorrupt`; other errors as they are."""
    if type(exc) is sqlite3.DatabaseError:
        return DatabaseCorrupt(
            f"{path} is damaged ({exc}): `assistant verify` says what can still be read; {RECOVERY}"
        )
    return exc
