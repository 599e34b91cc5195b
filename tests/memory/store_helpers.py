"""Helpers shared by the store's tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memory.crypto import FAST_KDF_FOR_TESTS
from memory.store import Store
from memory.vectors import row_id

PASSPHRASE = "correct horse battery staple"
FAST = FAST_KDF_FOR_TESTS


def reopen(s: Store) -> Store:
    """Close `s` and open its directory again, unlocked."""
    directory = s.directory
    s.close()
    fresh = Store.open(directory)
    fresh.unlock(PASSPHRASE)
    return fresh


@dataclass
class Filled:
    """Ids of what `fill` wrote, and the unique markers in it."""

    conversation: int
    user: int
    reply: int
    memory: int
    replay: int
    adapter: int
    markers: list[str]
    binary_markers: list[bytes]


def fill(s: Store, tag: str = "") -> Filled:
    """Write a record into every table; each text holds a unique marker."""
    m = [f"{name}{tag}-qx{n}z" for n, name in enumerate(
        ["titlemark", "usermark", "replymark", "memorymark", "replaymark", "settingkeymark",
         "settingvaluemark", "logmark", "metricmark", "statetagmark"]
    )]
    binary = [f"STATEBYTES{tag}".encode() * 8, f"ADAPTERBYTES{tag}".encode() * 8, f"VECTORBYTES{tag}".encode() * 8]
    conv = s.add_conversation(m[0])
    user, reply = s.add_turn(conv.id, f"I said {m[1]} today", f"Noted: {m[2]}", state=binary[0], state_tag=m[9])
    memory = s.add_memory(f"The user likes {m[3]}")
    with s.transaction():  # a sentence vector whose bytes are a marker (as `use_embedder` would write one)
        s._put_vector(s._require_codec(), row_id("memory", memory.id), "fill", np.frombuffer(binary[2], dtype="<f4"))
    replay = s.add_replay_item(f"exchange {m[4]}", message_ids=[user.id, reply.id])
    adapter = s.add_adapter_version(binary[1], {m[8]: 1.5}, seen_replay_ids=[replay.id])
    s.set_setting(m[5], {"v": m[6]})
    s.log_event("update", {"note": m[7]})
    return Filled(conv.id, user.id, reply.id, memory.id, replay.id, adapter.version, m, binary)


def needles(markers: list[str], binary: list[bytes] = ()) -> dict[bytes, str]:
    """Every encoding a marker could be stored in: UTF-8, UTF-16 (both byte orders), raw bytes."""
    found: dict[bytes, str] = {}
    for marker in markers:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            found[marker.encode(encoding)] = f"{marker} ({encoding})"
    for blob in binary:
        found[blob] = f"{blob[:16]!r}... (bytes)"
    return found


def scan(roots: list[Path], patterns: dict[bytes, str]) -> list[str]:
    """Hits of any pattern in any byte of any file under `roots`: ["file: description", ...]."""
    hits = []
    for root in roots:
        if not root.exists():
            continue
        files = [root] if root.is_file() else [Path(d) / f for d, _, fs in os.walk(root) for f in fs]
        for path in files:
            try:
                data = path.read_bytes()
            except (FileNotFoundError, IsADirectoryError):
                continue
            hits += [f"{path}: {label}" for pattern, label in patterns.items() if pattern in data]
    return hits


def embedding_model_installed() -> bool:
    """Whether `make source` installed the recall embedding model (tests that need it skip
    without it locally, and fail in CI, where it must be installed)."""
    from memory import embed

    try:
        embed.locate()
    except embed.ModelMissing:
        return False
    return True
