"""Row ids reveal no deletions (issue 16): conversations, messages, memories and replay items take
random ids, `sqlite_sequence` keeps no count for them, and messages keep their order sealed inside."""

from __future__ import annotations

import sqlite3

from memory import migrations
from memory.base import ID_SPACE, StoreBase
from memory.chats import ORDER_KEY
from memory.store import Store
from tests.memory.store_helpers import FAST, PASSPHRASE, fill


def plaintext_sequence(path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
    finally:
        conn.close()


def churn(store: Store) -> None:
    """Rows of every random-id table written, and some of each deleted."""
    conv = store.add_conversation("kept")
    doomed = store.add_conversation("deleted")
    for n in range(6):
        store.add_turn(conv.id, f"question {n}", f"answer {n}")
        store.add_turn(doomed.id, f"doomed {n}", f"doomed answer {n}", state=bytes([n]) * 30_000, state_tag="t")
    memories = [store.add_memory(f"fact {n}") for n in range(5)]
    items = [store.add_replay_item(f"exchange {n}") for n in range(4)]
    store.delete_message(store.list_messages(conv.id)[3].id)
    store.delete_conversation(doomed.id)
    store.delete_memory(memories[2].id)
    store.delete_replay_item(items[-1].id)


def test_deletions_leave_no_count_in_sqlite_sequence(store):
    """Regression (issue 16): AUTOINCREMENT kept in `sqlite_sequence` the largest id ever given,
    so `seq - count(*)` told how many rows had been deleted."""
    churn(store)
    path = store.path
    store.close()
    sequence = plaintext_sequence(path)
    assert not set(sequence) & set(migrations.RANDOM_ID_TABLES), sequence
    conn = sqlite3.connect(path)
    schema = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    conn.close()
    for table in migrations.RANDOM_ID_TABLES:
        assert "AUTOINCREMENT" not in schema[table].upper(), table


def test_ids_are_drawn_from_the_whole_space_not_counted(store):
    """Regression (issue 16): ids counted up 1, 2, 3 ..., so each gap was a deleted row and the
    largest id the number of rows ever written. Drawn uniformly, the ids present are a random
    set whatever was deleted: a gap or a large id says nothing."""
    conv = store.add_conversation("c")
    ids = [m.id for n in range(20) for m in store.add_turn(conv.id, f"q{n}", f"a{n}")]
    ids += [store.add_memory(f"m{n}").id for n in range(10)] + [store.add_conversation(f"c{n}").id for n in range(10)]
    assert all(1 <= i <= ID_SPACE for i in ids)
    assert len(set(ids)) == len(ids)
    messages = ids[:40]
    assert sorted(messages) != messages  # not handed out in order ...
    assert max(messages) > 1000 * len(messages)  # ... nor counted from 1


def test_messages_keep_their_order_though_ids_are_random(store):
    """The order is sealed in each message (`order`): a turn written at one instant keeps the
    user's message before the reply, and lists and exports follow it."""
    conv = store.add_conversation("c")
    texts = []
    for n in range(15):
        store.add_turn(conv.id, f"q{n}", f"a{n}", created=1000.0)  # one instant for all of them
        texts += [f"q{n}", f"a{n}"]
    assert [m.text for m in store.list_messages(conv.id)] == texts
    assert [m.text for m in store.snapshot().messages] == texts


def test_the_order_counter_starts_again_above_every_message_when_lost(store):
    """After a rekey (which copies only the user's tables) or damage to `meta`, new messages still
    come after the old ones."""
    conv = store.add_conversation("c")
    for n in range(5):
        store.add_turn(conv.id, f"q{n}", f"a{n}")
    store._db.conn.execute("DELETE FROM meta WHERE key = ?", [ORDER_KEY])
    store.add_message(conv.id, "user", "last")
    assert store.list_messages(conv.id)[-1].text == "last"


def test_rekey_keeps_the_order_of_messages(store):
    conv = store.add_conversation("c")
    for n in range(5):
        store.add_turn(conv.id, f"q{n}", f"a{n}")
    store.rekey(PASSPHRASE)
    store.add_message(conv.id, "user", "after the rekey")
    assert [m.text for m in store.list_messages(conv.id)][-3:] == ["q4", "a4", "after the rekey"]


def _old_next_id(self: StoreBase, table: str) -> int:
    row = self._execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
    return (row[0] if row else 0) + 1


def test_a_store_written_before_random_ids_drops_its_sequence_and_keeps_its_order(store_dir, monkeypatch):
    """An existing store is migrated in place (m005): the schema loses AUTOINCREMENT and
    `sqlite_sequence` its counts; its rows keep their ids (re-numbering would re-encrypt every
    row and rewrite every reference), so the gaps among them stay as they were, and new rows
    take random ids after them in the order."""
    before = [fn for fn in migrations.MIGRATIONS if fn.__name__ != "m005_ids_without_a_sequence"]
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", before)
        m.setattr(StoreBase, "_next_id", _old_next_id)
        s = Store.open(store_dir)
        s.create(PASSPHRASE, kdf=FAST)
        conv = s.add_conversation("old")
        for n in range(4):
            s.add_turn(conv.id, f"q{n}", f"a{n}")
        s.delete_message(s.list_messages(conv.id)[-1].id)
        fill(s)
        s.close()
    assert plaintext_sequence(store_dir / "store.db")["messages"] == 10  # the old leak
    with Store.open(store_dir, passphrase=PASSPHRASE) as s:
        assert "m005_ids_without_a_sequence" in migrations.applied(s._db)
        assert s.verify() == [] and s.check_integrity() == []
        s.add_message(conv.id, "user", "new")
        assert [m.text for m in s.list_messages(conv.id)] == ["q0", "a0", "q1", "a1", "q2", "a2", "q3", "new"]
    assert not set(plaintext_sequence(store_dir / "store.db")) & set(migrations.RANDOM_ID_TABLES)


def test_deletions_leave_no_free_pages_in_the_file(store):
    """Regression (issue 16): the pages of deleted rows stayed on the file's free list, whose
    count (in the plaintext header) told that something was deleted; with `auto_vacuum = FULL`
    they are given back at each commit."""
    churn(store)
    path = store.path
    store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 1
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    finally:
        conn.close()
