"""A process that writes turns until it is killed (run by test_store_crash.py, not collected).

Usage: python crash_writer.py DIRECTORY PASSPHRASE
Prints "ready N" once unlocked, then the number of every turn right after it is committed.
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
    main(sys.argv[1], sys.argv[2])
