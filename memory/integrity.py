"""Integrity of the store as a whole: a keyed manifest of every table, a write counter, and the
key file's copy of both.

Each envelope is bound to its table, column and row, so a ciphertext moved elsewhere fails to
open; but that alone does not notice a row deleted, an older ciphertext of a row put back, or the
whole `store.db` replaced by an older copy. The manifest covers those:

    _integrity table (plaintext: counts and keyed sums, nothing of the user's text)
      tbl = <each table of USER_TABLES>   n = its row count    acc = sum of HMAC(ik, row) mod 2^256
      tbl = '*'                           n = the counter C    acc = HMAC(ik, C | every (tbl, n, acc))
    vault.json  "integrity": {"counter": C, "seal": <the '*' row's acc, hex>}

`ik` is a subkey of the data key. The per-table sums are kept up to date by temporary triggers
that the unlocked store installs on its own connection (so tools that edit the file directly
do not update them); at the end of every write transaction the counter is raised and the seal
recomputed in the same commit, and the key file is told the new counter after it (at most once
a second, and always at lock and close: `StoreBase._record_integrity`).

Detected (`check_open` at unlock, `report` for `assistant verify` / `doctor`):
- a missing, emptied or replaced database beside a key file that has recorded writes;
- a rollback of `store.db` alone (its counter is below the key file's, or equal with another seal);
- rows deleted or added outside the assistant (a count differs: refused at unlock);
- a row changed outside the assistant, such as an older ciphertext put back (a sum differs:
  reported by the full check, which hashes every row);
- an edited manifest (its seal does not verify).
Not detected: a rollback of every file together (`store.db` and `vault.json` from the same older
copy) is indistinguishable from that older store; and a crash can leave the key file up to a
second of commits behind the database, which is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memory.errors import RECOVERY, DatabaseCorrupt, StoreMissing
from memory.migrations import USER_TABLES

TABLE = "_integrity"
SEAL_ROW = "*"
FUNCTION = "assistant_integrity_acc"
_MOD = 1 << 256
_ZERO = bytes(32)


@dataclass(frozen=True)
class Problem:
    """One finding of the integrity check: what (`kind`), where (`table`) and a sentence."""

    kind: str  # "missing-rows", "extra-rows", "changed-rows", "rolled-back", "manifest", "database"
    table: str
    detail: str

    def __str__(self) -> str:
        return self.detail


def _encode(value: Any) -> bytes:
    if value is None:
        tag, data = b"n", b""
    elif isinstance(value, int):
        tag, data = b"i", str(value).encode()
    elif isinstance(value, float):
        tag, data = b"f", repr(value).encode()
    elif isinstance(value, str):
        tag, data = b"s", value.encode("utf-8")
    else:
        tag, data = b"b", bytes(value)
    return tag + len(data).to_bytes(8, "big") + data


def _add(acc: bytes, term: bytes, sign: int) -> bytes:
    total = (int.from_bytes(acc, "big") + sign * int.from_bytes(term, "big")) % _MOD
    return total.to_bytes(32, "big")


class Integrity:
    """The manifest's arithmetic and its place in the database, under one integrity key."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._columns: dict[str, list[str]] = {}

    # --- arithmetic --------------------------------------------------------------------------

    def row_mac(self, table: str, values: Sequence[Any]) -> bytes:
        """The keyed hash of one row (its table and every column's value)."""
        mac = hmac.new(self._key, _encode(table), hashlib.sha256)
        for value in values:
            mac.update(_encode(value))
        return mac.digest()

    def _acc_function(self, acc: bytes, sign: int, table: str, *values: Any) -> bytes:
        return _add(acc if acc else _ZERO, self.row_mac(table, values), 1 if sign > 0 else -1)

    def seal(self, counter: int, manifest: dict[str, tuple[int, bytes]]) -> bytes:
        """The MAC binding the counter to every table's count and sum."""
        mac = hmac.new(self._key, b"assistant|integrity-seal|v1" + _encode(counter), hashlib.sha256)
        for table in sorted(manifest):
            n, acc = manifest[table]
            mac.update(_encode(table) + _encode(n) + _encode(acc))
        return mac.digest()

    # --- the connection ----------------------------------------------------------------------

    def columns(self, conn: sqlite3.Connection, table: str) -> list[str]:
        if table not in self._columns:
            self._columns[table] = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
        return self._columns[table]

    def install(self, conn: sqlite3.Connection) -> None:
        """Register the hash function and the temporary triggers that keep the sums current."""
        conn.create_function(FUNCTION, -1, self._acc_function, deterministic=True)
        # INSERT OR REPLACE deletes the replaced row: its delete trigger fires only with this on.
        conn.execute("PRAGMA recursive_triggers = ON")
        for table in USER_TABLES:
            cols = self.columns(conn, table)
            new = ", ".join(f"NEW.{c}" for c in cols)
            old = ", ".join(f"OLD.{c}" for c in cols)
            update = f"UPDATE {TABLE} SET n = n {{op}} 1, acc = {FUNCTION}(acc, {{sign}}, '{table}', {{vals}}) WHERE tbl = '{table}';"
            conn.execute(
                f"CREATE TEMP TRIGGER IF NOT EXISTS _integrity_{table}_i AFTER INSERT ON main.{table} BEGIN "
                + update.format(op="+", sign=1, vals=new) + " END"
            )
            conn.execute(
                f"CREATE TEMP TRIGGER IF NOT EXISTS _integrity_{table}_d AFTER DELETE ON main.{table} BEGIN "
                + update.format(op="-", sign=-1, vals=old) + " END"
            )
            conn.execute(
                f"CREATE TEMP TRIGGER IF NOT EXISTS _integrity_{table}_u AFTER UPDATE ON main.{table} BEGIN "
                f"UPDATE {TABLE} SET acc = {FUNCTION}({FUNCTION}(acc, -1, '{table}', {old}), 1, '{table}', {new}) "
                f"WHERE tbl = '{table}'; END"
            )

    @staticmethod
    def uninstall(conn: sqlite3.Connection) -> None:
        """Drop the triggers (before the key is forgotten: they could not run without it)."""
        for table in USER_TABLES:
            for suffix in ("i", "d", "u"):
                conn.execute(f"DROP TRIGGER IF EXISTS temp._integrity_{table}_{suffix}")
        conn.create_function(FUNCTION, -1, None)  # the connection no longer holds the key

    # --- the manifest ------------------------------------------------------------------------

    def compute(self, conn: sqlite3.Connection, tables: Iterable[str] = USER_TABLES) -> dict[str, tuple[int, bytes]]:
        """Every table's count and sum, from the rows as they are (hashes every row)."""
        result = {}
        for table in tables:
            cols = self.columns(conn, table)
            n, acc = 0, _ZERO
            for row in conn.execute(f"SELECT {', '.join(cols)} FROM main.{table}"):
                n += 1
                acc = _add(acc, self.row_mac(table, row), 1)
            result[table] = (n, acc)
        return result

    @staticmethod
    def stored(conn: sqlite3.Connection) -> tuple[int, bytes, dict[str, tuple[int, bytes]]] | None:
        """(counter, seal, manifest) as recorded in the database, or None where none was ever written."""
        rows = {}
        for tbl, n, acc in conn.execute(f"SELECT tbl, n, acc FROM main.{TABLE}").fetchall():
            if not isinstance(tbl, str) or type(n) is not int or not isinstance(acc, bytes) or len(acc) != 32:
                raise DatabaseCorrupt("the database's integrity record is damaged (unreadable rows)")
            rows[tbl] = (n, acc)
        if SEAL_ROW not in rows:
            return None
        counter, seal = rows.pop(SEAL_ROW)
        return counter, seal, rows

    def write(self, conn: sqlite3.Connection, counter: int, manifest: dict[str, tuple[int, bytes]]) -> bytes:
        """Replace the recorded manifest and counter (inside the caller's transaction); the seal."""
        seal = self.seal(counter, manifest)
        conn.execute(f"DELETE FROM main.{TABLE}")
        conn.executemany(
            f"INSERT INTO main.{TABLE} (tbl, n, acc) VALUES (?, ?, ?)",
            [(t, n, acc) for t, (n, acc) in manifest.items()] + [(SEAL_ROW, counter, seal)],
        )
        return seal

    def bump(self, conn: sqlite3.Connection) -> tuple[int, bytes]:
        """Raise the counter and re-seal the current sums (at the end of a write transaction)."""
        stored = self.stored(conn)
        counter, _, manifest = stored if stored is not None else (0, b"", self.compute(conn))
        counter += 1
        seal = self.seal(counter, manifest)
        conn.execute(f"UPDATE main.{TABLE} SET n = ?, acc = ? WHERE tbl = ?", [counter, seal, SEAL_ROW])
        return counter, seal

    def rebuild(self, conn: sqlite3.Connection, at_least: int = 0) -> tuple[int, bytes]:
        """Accept the rows as they are: recompute every sum, raise the counter, re-seal."""
        stored = self.stored(conn)
        counter = max(stored[0] if stored else 0, at_least) + 1
        return counter, self.write(conn, counter, self.compute(conn))

    # --- checks ------------------------------------------------------------------------------

    def problems(
        self, conn: sqlite3.Connection, vault_record: tuple[int, bytes] | None, *, full: bool
    ) -> list[Problem]:
        """What is wrong with the store as a whole (nothing, normally).

        Cheap (`full=False`, at every unlock): the seal, the counter against the key file's, and
        each table's row count. Full: also every row's hash against the recorded sums.
        """
        try:
            stored = self.stored(conn)
        except (DatabaseCorrupt, sqlite3.DatabaseError) as exc:
            return [Problem("database", SEAL_ROW, str(exc))]
        if stored is None:
            if vault_record is not None and vault_record[0] > 0:
                return [Problem("rolled-back", SEAL_ROW, (
                    f"the database holds no integrity record although the key file has recorded "
                    f"{vault_record[0]} writes: it is an older or a different database"))]
            return []
        counter, seal, manifest = stored
        found: list[Problem] = []
        if not hmac.compare_digest(seal, self.seal(counter, manifest)):
            found.append(Problem("manifest", SEAL_ROW, "the database's integrity record was modified outside the assistant"))
        if vault_record is not None:
            vault_counter, vault_seal = vault_record
            if counter < vault_counter:
                found.append(Problem("rolled-back", SEAL_ROW, (
                    f"the database is older than its key file (write {counter} of {vault_counter}): "
                    "it was replaced by an older copy")))
            elif counter == vault_counter and not hmac.compare_digest(seal, vault_seal):
                found.append(Problem("rolled-back", SEAL_ROW, "the database is not the one its key file last saw"))
        actual: dict[str, tuple[int, bytes]] = {}
        for table in USER_TABLES:
            try:
                actual[table] = self.compute(conn, [table])[table] if full else (
                    conn.execute(f"SELECT count(*) FROM main.{table}").fetchone()[0], b"")
            except sqlite3.DatabaseError as exc:
                found.append(Problem("database", table, f"{table} cannot be read to the end: {exc}"))
        for table in actual:
            n, acc = manifest.get(table, (0, _ZERO))
            have, have_acc = actual[table]
            if have < n:
                found.append(Problem("missing-rows", table, f"{n - have} of {n} rows of {table} are missing (deleted outside the assistant or lost)"))
            elif have > n:
                found.append(Problem("extra-rows", table, f"{table} has {have - n} rows the assistant did not write"))
            elif full and not hmac.compare_digest(acc, have_acc):
                found.append(Problem("changed-rows", table, (
                    f"rows of {table} were changed outside the assistant (damaged, or an older copy put back)")))
        return found


def refuse_missing_database(db: Path, vault: Path) -> None:
    """A key file beside a missing or empty database: refuse rather than make a new, empty one."""
    if not vault.exists():
        return
    wal = db.with_name(db.name + "-wal")
    if not db.exists():
        what = "is missing"
    elif db.stat().st_size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        what = "is empty (zero bytes)"
    else:
        return
    raise StoreMissing(
        f"the database {db} {what}, but its key file {vault.name} protects data: it was deleted or "
        f"emptied. Nothing was created; {RECOVERY}"
    )
