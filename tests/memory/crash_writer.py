"""A process that writes until it is killed (run by test_store_crash.py, not collected).

Usage: python crash_writer.py DIRECTORY PASSPHRASE [turns|churn]
turns (the default): prints "ready N" once unlocked, then the number of every turn right after it
is committed.
churn: on a store made by `churn_prepare`, runs the numbered operations of `churn_step` (edits,
deletes of messages and conversations, each followed by the WAL's checkpoint and truncation);
prints "ready K" (the last operation the store holds), then each operation's number once committed.
"""

from __future__ import annotations

import hashlib
import sys

from memory.crypto import FAST_KDF_FOR_TESTS
from memory.store import Store


def turn_texts(n: int) -> tuple[str, str]:
    """The user's text and the reply of turn `n` (lengths vary so records span pages)."""
    return f"user turn {n}: " + "u" * (n * 37 % 3000), f"reply turn {n}: " + "r" * (n * 53 % 5000)


def state_bytes(n: int) -> bytes:
    """The recurrent state saved with turn `n` (~29 KB, like the model's)."""
    return hashlib.sha256(str(n).encode()).digest() * 900


# --- churn: edits and deletes, each a transaction, the WAL truncated after each ------------------

CHURN_MEMORIES = 4
"""Memories edited in turn; two more (and the `kept` conversation) are never touched."""
CHURN_OP = "churn op"
"""The setting that holds the number of the last operation, written in the operation's transaction."""


def churn_memory_text(i: int, version: int) -> str:
    return f"memory {i} version {version}: " + "m" * (version * 41 % 2500)


def churn_turn(k: int) -> tuple[str, str]:
    return f"churn question {k}: " + "q" * (k * 37 % 3000), f"churn answer {k}: " + "a" * (k * 53 % 4000)


def churn_prepare(store: Store) -> None:
    """What the churn starts from, in one transaction."""
    with store.transaction():
        kept = store.add_conversation("kept")
        for n in range(3):
            store.add_turn(kept.id, *turn_texts(n), state=state_bytes(n), state_tag=f"kept {n}")
        for i in range(CHURN_MEMORIES):
            store.add_memory(churn_memory_text(i, 0))
        store.add_memory("never edited one")
        store.add_memory("never edited two")
        store.set_setting(CHURN_OP, -1)


def churn_step(store: Store, k: int) -> None:
    """Operation `k`, in one transaction with the record of its number:
    k % 4 == 0: edit memory (k // 4) % CHURN_MEMORIES; 1: add conversation "churn k" with a turn
    and a state; 2: delete conversation "churn k-5"; 3: in "churn k-2", edit the reply and delete
    the question (which drops the state)."""
    conversations = {c.title: c for c in store.list_conversations()}
    with store.transaction():
        if k % 4 == 0:
            i = k // 4 % CHURN_MEMORIES
            (memory,) = [m for m in store.list_memories() if m.text.startswith(f"memory {i} ")]
            store.edit_memory(memory.id, churn_memory_text(i, k))
        elif k % 4 == 1:
            conversation = store.add_conversation(f"churn {k}")
            store.add_turn(conversation.id, *churn_turn(k), state=state_bytes(k), state_tag=f"churn {k}")
        elif k % 4 == 2:
            if f"churn {k - 5}" in conversations:
                store.delete_conversation(conversations[f"churn {k - 5}"].id)
        else:
            question, answer = store.list_messages(conversations[f"churn {k - 2}"].id)
            store.update_message(answer.id, text=f"edited answer {k}")
            store.delete_message(question.id)
        store.set_setting(CHURN_OP, k)


def churn_expected(last: int) -> dict:
    """What the store holds after operations 0..last: memory texts, each conversation's messages
    (role, text) and state tag, and the recorded operation number."""
    memories = {i: churn_memory_text(i, 0) for i in range(CHURN_MEMORIES)}
    kept = [m for n in range(3) for m in (("user", turn_texts(n)[0]), ("assistant", turn_texts(n)[1]))]
    conversations = {"kept": (kept, "kept 2")}
    for k in range(last + 1):
        if k % 4 == 0:
            memories[k // 4 % CHURN_MEMORIES] = churn_memory_text(k // 4 % CHURN_MEMORIES, k)
        elif k % 4 == 1:
            question, answer = churn_turn(k)
            conversations[f"churn {k}"] = ([("user", question), ("assistant", answer)], f"churn {k}")
        elif k % 4 == 2:
            conversations.pop(f"churn {k - 5}", None)
        else:
            conversations[f"churn {k - 2}"] = ([("assistant", f"edited answer {k}")], None)
    texts = sorted([*memories.values(), "never edited one", "never edited two"])
    return {"memories": texts, "conversations": conversations, "op": last}


def churn_actual(store: Store) -> dict:
    """The same view of a store, read back (`churn_expected`'s shape)."""
    conversations = {}
    for c in store.list_conversations():
        state = store.load_state(c.id)
        messages = [(m.role, m.text) for m in store.list_messages(c.id)]
        tag = None if state is None else state.tag
        if state is not None and state.data != state_bytes(int(tag.split()[-1])):
            tag = f"{tag} (damaged)"
        conversations[c.title] = (messages, tag)
    memories = sorted(m.text for m in store.list_memories())
    return {"memories": memories, "conversations": conversations, "op": store.get_setting(CHURN_OP)}


def churn(directory: str, passphrase: str) -> None:
    store = Store.open(directory)
    store.unlock(passphrase)
    k = store.get_setting(CHURN_OP) + 1
    print("ready", k - 1, flush=True)
    while True:
        churn_step(store, k)
        print(k, flush=True)
        k += 1


def main(directory: str, passphrase: str) -> None:
    store = Store.open(directory)
    if store.has_vault:
        store.unlock(passphrase)
    else:
        store.create(passphrase, kdf=FAST_KDF_FOR_TESTS)
    conversations = store.list_conversations()
    conversation = conversations[0] if conversations else store.add_conversation("crash test")
    n = store.count_messages(conversation.id) // 2
    print("ready", n, flush=True)
    while True:
        user_text, reply_text = turn_texts(n)
        store.add_turn(conversation.id, user_text, reply_text, state=state_bytes(n), state_tag=f"turn {n}")
        print(n, flush=True)
        n += 1


if __name__ == "__main__":
    (churn if sys.argv[3:] == ["churn"] else main)(sys.argv[1], sys.argv[2])
