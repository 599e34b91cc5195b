"""The schema, as an ordered list of migrations, each applied once and recorded by name.

Every column that holds user content or reveals it (text, titles, tensors, and the times that
show when the user talks) is an envelope (`memory.crypto`). Only the columns in
`PLAINTEXT_COLUMNS` are stored in the clear: ids, foreign keys and the kind tag of a foreign key.
`tests/memory/test_store_schema.py` audits every other column.

`sqlite_utils.Migrations` is not used because it records an `applied_at` timestamp in the clear,
which would reveal when the assistant was first used; the applied names are all we keep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from memory.errors import CorruptRecord, DatabaseCorrupt, SchemaTooNew
from memory.records import Sources

if TYPE_CHECKING:
    from memory.codec import RowCodec

MIGRATIONS_TABLE = "_migrations"

Migration = Callable[..., None]
"""`fn(db)`, or `fn(db, codec)` for a keyed migration (one that re-encrypts rows)."""
MIGRATIONS: list[Migration] = []

PLAINTEXT_COLUMNS: frozenset[tuple[str, str]] = frozenset(
    {
        (MIGRATIONS_TABLE, "name"),
        ("meta", "key"),
        ("conversations", "id"),
        ("messages", "id"),
        ("messages", "conversation_id"),
        ("states", "conversation_id"),
        ("adapter_versions", "id"),
        ("adapter_sources", "adapter_id"),
        ("adapter_sources", "kind"),
        ("adapter_sources", "source_id"),
        ("replay_items", "id"),
        ("replay_sources", "replay_id"),
        ("replay_sources", "kind"),
        ("replay_sources", "source_id"),
        ("memories", "id"),
        ("settings", "id"),  # a keyed hash of the setting's name, not the name
        ("learning_log", "id"),
        ("vectors", "id"),  # "message:<id>" or "memory:<id>": the ids the rows' own tables show
        ("_integrity", "tbl"),  # a table's name
        ("_integrity", "n"),  # its row count (or the write counter)
        ("_integrity", "acc"),  # a keyed sum of its rows' hashes (or the seal): see memory.integrity
    }
)
"""(table, column) pairs stored in the clear. Everything else holds envelopes."""

USER_TABLES: tuple[str, ...] = (
    "vectors",
    "adapter_sources",
    "adapter_versions",
    "replay_sources",
    "replay_items",
    "states",
    "messages",
    "conversations",
    "memories",
    "settings",
    "learning_log",
)
"""Tables holding the user's data, children before parents (the order deletes must follow)."""

ROW_KEYS: dict[str, str] = {
    "meta": "key",
    "vectors": "id",
    "conversations": "id",
    "messages": "id",
    "states": "conversation_id",
    "adapter_versions": "id",
    "replay_items": "id",
    "memories": "id",
    "settings": "id",
    "learning_log": "id",
}
"""For each table with envelopes: the column whose value is the row id in their associated data."""

LINK_COLUMNS: dict[str, str] = {"messages": "conversation_id"}
"""Plaintext references bound into the associated data of their row's envelopes (see `link_of`):
a message moved to another conversation by editing the database fails to decrypt."""


def link_of(table: str, value: object) -> str | None:
    """The `link` part of the associated data for a row of `table` whose link column holds `value`."""
    column = LINK_COLUMNS.get(table)
    return None if column is None else f"{column}={value}"


def envelope_columns(db: Database) -> dict[str, list[str]]:
    """For every table of `db`: its columns that must hold envelopes (all not in `PLAINTEXT_COLUMNS`)."""
    result = {}
    for table in db.table_names():
        if table.startswith("sqlite_"):
            continue
        columns = [c.name for c in db[table].columns if (table, c.name) not in PLAINTEXT_COLUMNS]
        if columns:
            result[table] = columns
    return result


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration (its name is its record)."""
    MIGRATIONS.append(fn)
    return fn


def keyed_migration(fn: Migration) -> Migration:
    """Register `fn(db, codec)` as the next migration: one that needs the data key.

    It runs when the store is unlocked (`migrate(db, codec)`); the migrations after it wait for
    it. In a database that has never held encrypted data it runs at once, with `codec=None`.
    """
    fn.needs_key = True  # type: ignore[attr-defined]
    MIGRATIONS.append(fn)
    return fn


def needs_key(fn: Migration) -> bool:
    """Whether `fn` is a keyed migration."""
    return bool(getattr(fn, "needs_key", False))


@migration
def m001_initial(db: Database) -> None:
    """The first schema: every table of the store."""
    # One statement at a time: `executescript` would commit the surrounding transaction.
    script = """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value BLOB NOT NULL
        );
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            payload BLOB NOT NULL                 -- {title, created, updated}
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id),
            payload BLOB NOT NULL                 -- {role, text, created, cut}
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id);
        CREATE TABLE states (
            conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id),
            payload BLOB NOT NULL,                -- {tag, updated}
            blob BLOB NOT NULL                    -- the state's bytes
        );
        CREATE TABLE adapter_versions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, -- the version number
            payload BLOB NOT NULL,                -- {metrics, created, parent}
            blob BLOB NOT NULL                    -- the adapter's bytes
        );
        CREATE TABLE adapter_sources (
            adapter_id INTEGER NOT NULL REFERENCES adapter_versions(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('message', 'memory', 'replay')),
            source_id INTEGER NOT NULL,
            PRIMARY KEY (adapter_id, kind, source_id)
        ) WITHOUT ROWID;
        CREATE INDEX adapter_sources_by_source ON adapter_sources(kind, source_id);
        CREATE TABLE replay_items (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            payload BLOB NOT NULL                 -- {text, created}
        );
        CREATE TABLE replay_sources (
            replay_id INTEGER NOT NULL REFERENCES replay_items(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('message', 'memory')),
            source_id INTEGER NOT NULL,
            PRIMARY KEY (replay_id, kind, source_id)
        ) WITHOUT ROWID;
        CREATE INDEX replay_sources_by_source ON replay_sources(kind, source_id);
        CREATE TABLE memories (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            payload BLOB NOT NULL                 -- {text, created, updated}
        );
        CREATE TABLE settings (
            id TEXT PRIMARY KEY,                  -- keyed hash of the name
            payload BLOB NOT NULL                 -- {key, value}
        );
        CREATE TABLE learning_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            payload BLOB NOT NULL                 -- {kind, detail, time}
        );
    """
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@keyed_migration
def m002_bind_messages_to_conversations(db: Database, codec: RowCodec | None) -> None:
    """Re-encrypt every message with its conversation in the associated data (`LINK_COLUMNS`)."""
    rows = db.conn.execute("SELECT id, conversation_id, payload FROM messages").fetchall()
    if codec is None:
        assert not rows, "messages cannot be re-encrypted without the key"
        return
    for ident, conversation_id, payload in rows:
        try:
            data = codec.open("messages", "payload", ident, payload)
        except CorruptRecord:
            continue  # unreadable before, unreadable after: `Store.verify` names it
        sealed = codec.seal("messages", "payload", ident, data, link=link_of("messages", conversation_id))
        db.execute("UPDATE messages SET payload = ? WHERE id = ?", [sealed, ident])


def _linked_sources(db: Database, table: str, key: str, ident: int) -> Sources:
    groups: dict[str, set[int]] = {"message": set(), "memory": set(), "replay": set()}
    for kind, source_id in db.conn.execute(f"SELECT kind, source_id FROM {table} WHERE {key} = ?", [ident]):
        groups[kind].add(source_id)
    return Sources(frozenset(groups["message"]), frozenset(groups["memory"]), frozenset(groups["replay"]))


@keyed_migration
def m003_sources_inside_payloads(db: Database, codec: RowCodec | None) -> None:
    """Seal a copy of each adapter version's and replay item's source ids inside its payload.

    The link tables (`adapter_sources`, `replay_sources`) stay as a plaintext index, but
    unlearning no longer trusts them alone: a deleted link row cannot hide what a version learned.
    """
    for table, field, links, key in (
        ("adapter_versions", "seen", "adapter_sources", "adapter_id"),
        ("replay_items", "sources", "replay_sources", "replay_id"),
    ):
        rows = db.conn.execute(f"SELECT id, payload FROM {table}").fetchall()
        if codec is None:
            assert not rows, f"{table} cannot be re-encrypted without the key"
            continue
        for ident, payload in rows:
            try:
                obj: dict[str, Any] = codec.open_json(table, ident, payload)
            except CorruptRecord:
                continue  # unlearning treats an unreadable record as having seen everything
            obj[field] = _linked_sources(db, links, key, ident).to_json()
            db.execute(f"UPDATE {table} SET payload = ? WHERE id = ?", [codec.seal_json(table, ident, obj), ident])


@migration
def m004_integrity(db: Database) -> None:
    """The whole-store manifest (`memory.integrity`): counts, keyed sums, the write counter."""
    db.execute("CREATE TABLE _integrity (tbl TEXT PRIMARY KEY, n INTEGER NOT NULL, acc BLOB NOT NULL)")


RANDOM_ID_TABLES: tuple[str, ...] = ("conversations", "messages", "memories", "replay_items")
"""Tables whose new rows take random ids (`StoreBase._next_id`), so that ids tell nothing of the
rows deleted among them; their order is sealed inside the rows (see `memory.chats`)."""


@migration
def m005_ids_without_a_sequence(db: Database) -> None:
    """Drop AUTOINCREMENT from `RANDOM_ID_TABLES` and empty `sqlite_sequence`, whose counts told
    how many rows were ever deleted. Rows and envelopes are unchanged (the file format of an
    INTEGER PRIMARY KEY table does not depend on AUTOINCREMENT), so only the schema's text is
    rewritten, as SQLite's documentation describes for changes that keep the stored format."""
    version = db.conn.execute("PRAGMA schema_version").fetchone()[0]
    names = ", ".join(f"'{t}'" for t in RANDOM_ID_TABLES)
    db.conn.execute("PRAGMA writable_schema = ON")
    try:
        db.conn.execute(
            "UPDATE sqlite_master SET sql = replace(sql, 'INTEGER PRIMARY KEY AUTOINCREMENT', 'INTEGER PRIMARY KEY') "
            f"WHERE type = 'table' AND name IN ({names})"
        )
        db.conn.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        db.conn.execute("PRAGMA writable_schema = OFF")
    db.conn.execute(f"DELETE FROM sqlite_sequence WHERE name IN ({names})")


@keyed_migration
def m006_meaning_vectors(db: Database, codec: RowCodec | None) -> None:
    """The sentence vectors of messages and memories (`memory.vectors`), one sealed blob each.

    Triggers delete a vector with its message or memory, whatever deletes it. Keyed only so the
    store's manifest is rebuilt with the new table on the unlock that adds it (no row changes).
    """
    db.execute("CREATE TABLE vectors (id TEXT PRIMARY KEY, blob BLOB NOT NULL)")  # blob: {model, dim} + floats
    for table, kind in (("messages", "message"), ("memories", "memory")):
        db.execute(
            f"CREATE TRIGGER vectors_of_{table} AFTER DELETE ON {table} "
            f"BEGIN DELETE FROM vectors WHERE id = '{kind}:' || OLD.id; END"
        )


def applied(db: Database) -> list[str]:
    """Names of the migrations applied to `db`, in order."""
    if MIGRATIONS_TABLE not in db.table_names():
        return []
    return [row[0] for row in db.conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY rowid")]


def pending(db: Database) -> list[Migration]:
    """Migrations not yet applied to `db`. Raises `SchemaTooNew` if `db` has ones we do not know."""
    done = applied(db)
    if not all(isinstance(name, str) for name in done):
        raise DatabaseCorrupt("the database is damaged: its record of applied migrations is unreadable")
    known = [fn.__name__ for fn in MIGRATIONS]
    unknown = [name for name in done if name not in known]
    if unknown:
        raise SchemaTooNew(
            f"the database was written by a newer version of the assistant (unknown migrations: {', '.join(unknown)})"
        )
    return [fn for fn in MIGRATIONS if fn.__name__ not in done]


def _holds_encrypted_data(db: Database) -> bool:
    """Whether a data key was ever installed (every encrypted row is written after the key check)."""
    if "meta" not in db.table_names():
        return False
    return db.conn.execute("SELECT 1 FROM meta WHERE key = 'key_check'").fetchone() is not None


def migrate(db: Database, codec: RowCodec | None = None) -> list[str]:
    """Apply pending migrations in order, each in one transaction with its record; return their names.

    Without `codec`, stop before the first keyed migration if the database holds encrypted data
    (the store applies the rest when it is unlocked).
    """
    todo = pending(db)
    if not todo:
        return []
    if MIGRATIONS_TABLE not in db.table_names():
        with db.atomic():
            db.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (name TEXT PRIMARY KEY)")
    names = []
    for fn in todo:
        keyed = needs_key(fn)
        if keyed and codec is None and _holds_encrypted_data(db):
            break
        with db.atomic():
            if keyed:
                fn(db, codec)
            else:
                fn(db)
            db.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES (?)", [fn.__name__])
        names.append(fn.__name__)
    return names
