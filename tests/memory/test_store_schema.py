"""Schema and migrations, and the audit that every non-allow-listed column holds envelopes."""

from __future__ import annotations

import pytest

from memory import migrations
from memory.chats import ORDER_KEY
from memory.codec import RowCodec
from memory.crypto import is_envelope
from memory.errors import SchemaTooNew
from memory.sqlite import connect
from memory.store import Store
from tests.memory.store_helpers import fill

EXPECTED_COLUMNS = {
    "_migrations": ["name"],
    "meta": ["key", "value"],
    "conversations": ["id", "payload"],
    "messages": ["id", "conversation_id", "payload"],
    "states": ["conversation_id", "payload", "blob"],
    "adapter_versions": ["id", "payload", "blob"],
    "adapter_sources": ["adapter_id", "kind", "source_id"],
    "replay_items": ["id", "payload"],
    "replay_sources": ["replay_id", "kind", "source_id"],
    "memories": ["id", "payload"],
    "settings": ["id", "payload"],
    "learning_log": ["id", "payload"],
    "vectors": ["id", "blob"],
    "_integrity": ["tbl", "n", "acc"],
}


def test_migrations_produce_the_expected_columns(tmp_path):
    db = connect(tmp_path / "fresh.db")
    assert migrations.migrate(db) == [fn.__name__ for fn in migrations.MIGRATIONS]
    tables = {t: [c.name for c in db[t].columns] for t in db.table_names() if not t.startswith("sqlite_")}
    assert tables == EXPECTED_COLUMNS
    db.close()


def test_migrations_are_recorded_and_applied_once(tmp_path):
    db = connect(tmp_path / "fresh.db")
    migrations.migrate(db)
    assert migrations.applied(db) == [fn.__name__ for fn in migrations.MIGRATIONS]
    assert migrations.migrate(db) == []
    db.close()


def test_a_database_from_a_newer_program_is_refused(store_dir):
    Store.open(store_dir).close()
    db = connect(store_dir / "store.db")
    with db.atomic():
        db.execute("INSERT INTO _migrations (name) VALUES ('m999_from_the_future')")
    db.close()
    with pytest.raises(SchemaTooNew, match="m999_from_the_future"):
        Store.open(store_dir)
    Store.open(store_dir.parent / "other").close()  # and the lock was released: nothing leaks


def test_no_full_text_or_virtual_tables(store):
    """The design forbids FTS over plaintext; the schema has no virtual table at all."""
    fill(store)
    sql = [row[0] or "" for row in store._db.conn.execute("SELECT sql FROM sqlite_master")]
    assert sql and not any("VIRTUAL" in s.upper() or "FTS" in s.upper() for s in sql)


def test_every_column_off_the_allow_list_holds_envelopes_of_its_own_row(store):
    fill(store)
    store.set_setting("second", [1, 2, 3])
    db = store._db
    codec: RowCodec = store._codec
    checked = 0
    audited = migrations.envelope_columns(db)
    assert set(audited) == {t for t, cols in EXPECTED_COLUMNS.items() if any((t, c) not in migrations.PLAINTEXT_COLUMNS for c in cols)}
    for table, columns in audited.items():
        key = migrations.ROW_KEYS[table]
        link_column = migrations.LINK_COLUMNS.get(table, "NULL")
        rows = db.conn.execute(f"SELECT {key}, {link_column}, {', '.join(columns)} FROM {table}").fetchall()
        assert rows, f"fill() left {table} empty: the audit would prove nothing"
        for row in rows:
            for column, value in zip(columns, row[2:], strict=True):
                assert is_envelope(value), (table, column, row[0])
                # authenticates under this row's id (and, for a message, its conversation)
                codec.open(table, column, row[0], value, link=migrations.link_of(table, row[1]))
                checked += 1
    assert checked >= 12


def test_plaintext_columns_hold_only_ids_and_kinds(store):
    fill(store)
    db = store._db
    for table, column in migrations.PLAINTEXT_COLUMNS:
        for (value,) in db.conn.execute(f"SELECT {column} FROM {table}"):
            if column == "kind":
                assert value in ("message", "memory", "replay")
            elif table == "settings":
                assert isinstance(value, str) and len(value) == 32 and int(value, 16) >= 0
            elif table in ("meta", "_migrations"):
                assert value in ("key_check", ORDER_KEY) or value.startswith("m0")
            elif table == "vectors":  # the row id of a message or memory, which its own table shows
                kind, _, ident = value.partition(":")
                assert kind in ("message", "memory") and int(ident) == int(ident)
            elif table == "_integrity":  # table names, counts, and keyed 32-byte sums (memory.integrity)
                assert value in ("*", *migrations.USER_TABLES) if column == "tbl" else (
                    isinstance(value, int) if column == "n" else isinstance(value, bytes) and len(value) == 32
                )
            else:
                assert isinstance(value, int)
