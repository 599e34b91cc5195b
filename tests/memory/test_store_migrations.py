"""Keyed migrations: rows written before a migration that re-encrypts them are migrated on unlock."""

from __future__ import annotations

import json

from memory import migrations
from memory.codec import RowCodec
from memory.store import Store
from memory.vault import Vault
from tests.memory.store_helpers import PASSPHRASE, fill

KEYED = ["m002_bind_messages_to_conversations", "m003_sources_inside_payloads"]


def downgrade_to_m001(directory) -> None:
    """Rewrite a closed store's rows as the first schema wrote them, and forget the later migrations."""
    codec = RowCodec(Vault(directory).unlock(PASSPHRASE))
    with Store.open(directory) as s:
        db = s._db
        with db.atomic():
            for ident, cid, payload in db.conn.execute("SELECT id, conversation_id, payload FROM messages").fetchall():
                data = codec.open("messages", "payload", ident, payload, link=migrations.link_of("messages", cid))
                db.execute("UPDATE messages SET payload = ? WHERE id = ?", [codec.seal("messages", "payload", ident, data), ident])
            for table, field in (("adapter_versions", "seen"), ("replay_items", "sources")):
                for ident, payload in db.conn.execute(f"SELECT id, payload FROM {table}").fetchall():
                    obj = codec.open_json(table, ident, payload)
                    del obj[field]
                    db.execute(f"UPDATE {table} SET payload = ? WHERE id = ?", [codec.seal_json(table, ident, obj), ident])
            db.execute("DELETE FROM _migrations WHERE name IN (?, ?, ?, ?)", [*KEYED, "m004_integrity", "m005_ids_without_a_sequence"])
            db.execute("DROP TABLE _integrity")
            db.execute("DELETE FROM _migrations WHERE name = 'm006_meaning_vectors'")
            for trigger in ("vectors_of_messages", "vectors_of_memories"):
                db.execute(f"DROP TRIGGER {trigger}")
            db.execute("DROP TABLE vectors")
    # A key file of that time had no integrity record either.
    vault = Vault(directory)
    doc = vault._read()
    del doc["integrity"]
    vault._write(doc)


def test_a_store_from_before_the_keyed_migrations_is_re_encrypted_on_unlock(store):
    ids = fill(store)
    before = store.snapshot()
    directory = store.directory
    store.close()
    downgrade_to_m001(directory)
    with Store.open(directory) as s:
        assert migrations.applied(s._db) == ["m001_initial"]  # no key yet: the keyed ones wait
        s.unlock(PASSPHRASE)
        assert migrations.applied(s._db)[:5] == ["m001_initial", *KEYED, "m004_integrity", "m005_ids_without_a_sequence"]
        assert s.verify() == [] and s.check_integrity() == []
        after = s.snapshot()
        assert after.messages == before.messages and after.adapter_versions == before.adapter_versions
        assert after.replay_items == before.replay_items
        (payload,) = s._db.conn.execute("SELECT payload FROM adapter_versions WHERE id = ?", [ids.adapter]).fetchone()
        assert json.loads(s._codec.open("adapter_versions", "payload", ids.adapter, payload))["seen"]["messages"]
        assert s.delete_message(ids.user).adapter_versions == (ids.adapter,)


def test_a_fresh_database_applies_every_migration_at_once(store_dir):
    with Store.open(store_dir) as s:
        assert migrations.applied(s._db) == [fn.__name__ for fn in migrations.MIGRATIONS]
