"""Errors raised by the encrypted store.

Every failure a user can meet has its own type, so an interface can say exactly what went wrong
(and a test can check for exactly that). All of them derive from `StoreError`.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's errors."""


# --- keys -------------------------------------------------------------------------------------


class VaultError(StoreError):
    """A problem with the key file (the vault) rather than with the records."""


class VaultMissing(VaultError):
    """No key file exists (yet) in the data directory, so nothing can be unlocked."""


class VaultExists(VaultError):
    """A key file already exists, so a new one would orphan the data it protects."""


class VaultCorrupt(VaultError):
    """The key file cannot be parsed or names an unknown format."""


class VaultMismatch(VaultError):
    """The key file unlocks, but its key does not belong to this database."""


class WrongPassphrase(VaultError):
    """The passphrase does not unwrap the data key."""

    def __init__(self, message: str = "wrong passphrase (or the key file was modified)") -> None:
        super().__init__(message)


class VaultLocked(VaultError):
    """A record was asked for while the store is locked (no data key in memory)."""

    def __init__(self, message: str = "the store is locked: unlock it with the passphrase first") -> None:
        super().__init__(message)


class KeyringUnavailable(VaultError):
    """The OS keyring is missing, refuses access, or would store the key in plaintext."""


# --- records ----------------------------------------------------------------------------------


class CorruptRecord(StoreError):
    """A stored value failed authentication: it was modified, truncated or moved from another row.

    `table`, `row` and `column` name the record so it can be inspected or deleted.
    """

    def __init__(self, table: str, row: object, column: str, reason: str = "failed authentication") -> None:
        self.table = table
        self.row = row
        self.column = column
        super().__init__(
            f"record {row!r} in table {table!r} (column {column!r}) {reason}: "
            "it was modified, truncated or moved from another row"
        )


class RecordNotFound(StoreError, KeyError):
    """No row with the given id exists in the named table."""

    def __init__(self, table: str, row: object) -> None:
        self.table = table
        self.row = row
        super().__init__(f"no record {row!r} in table {table!r}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class SchemaTooNew(StoreError):
    """The database was written by a newer program (it has migrations this one does not know)."""


class StoreClosed(StoreError):
    """The store was closed (or reset) and cannot be used any more."""


# --- the data directory -----------------------------------------------------------------------


class InstanceLocked(StoreError):
    """Another running assistant holds the data directory's lock."""


RECOVERY = (
    "restore a backup (`assistant import BACKUP`, or put back the store.db you copied), "
    "or start over explicitly with `assistant reset`"
)


class StoreIntegrityError(StoreError):
    """The store as a whole is not what its key file last saw: missing, replaced, rolled back or
    with rows lost. Nothing was changed; the message says what is wrong and what the user can do.

    `problems` lists the findings (`memory.integrity.Problem`).
    """

    def __init__(self, message: str, problems: list | None = None) -> None:
        self.problems = list(problems or [])
        super().__init__(message)


class DatabaseCorrupt(StoreIntegrityError):
    """The database file cannot be read as SQLite (truncated, overwritten, damaged pages)."""


class StoreMissing(StoreIntegrityError):
    """The database is missing, empty or holds none of the data its key file protects."""


class StoreRolledBack(StoreIntegrityError):
    """The database is older than its key file (replaced by an older copy), or its manifest was edited."""


class RowsMissing(StoreIntegrityError):
    """Rows were deleted from (or added to) the database outside the assistant."""


# --- export and import ------------------------------------------------------------------------


class ExportFormatError(StoreError):
    """An export file is not a valid export: wrong magic, truncated, garbled or malformed."""


class ExportVersionError(ExportFormatError):
    """An export file was written in a format version this program does not read."""


class ExportAuthError(ExportFormatError):
    """An export file does not authenticate: wrong export passphrase, or the file was modified."""


class ExportPathError(StoreError):
    """The export's destination exists already (and overwriting was not asked for) or is unusable."""
