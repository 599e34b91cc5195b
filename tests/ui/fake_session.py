"""A deterministic stand-in for `assistant.session.Session`: it implements `SessionLike`, exactly
what the UI needs of a session (`tests/ui/test_session_protocol.py` checks both against it).

The terminal app is built and tested against this until (and beside) the real session: replies
are fixed Markdown streamed word by word, times come from a fixed clock, learning "runs" in a
background thread and reports through `on_learning_event` like the real scheduler. Nothing is
written to disk except what `export` is asked to write.

Vaults live in a process-wide registry keyed by the data directory, so a test can quit the app
and open it again ("restart") and find its conversations, and a second open of the same vault
while the first is open raises `InstanceLocked`.

Knobs for tests (set them on the session, or on `FakeOpener.configure`):
- `token_delay`: seconds between reply pieces (0 by default).
- `hold`: a `threading.Event`; when given, a reply stops after its first piece until the event
  is set or the reply is cancelled (to test "Esc stops a reply" without timing).
- `fail_next`: an exception the next `send` raises.
- `learn_delay`: seconds a learning update "takes".
- `auto_memories`: keep a memory from each message that starts "My " or "I " and is not a
  question (off by default, so the seeded snapshots stay as they were); the fake's stand-in
  for the real detector, with the first two words as the slot.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from assistant import paths
from assistant.session import (  # the real records: the fake must speak exactly the session's types
    AdapterVersionInfo,
    ConversationInfo,
    LearningEvent,
    LearningStatus,
    MemoryInfo,
    MessageInfo,
    SearchHit,
)
from memory.errors import ExportAuthError, InstanceLocked, RecordNotFound, VaultMissing, WrongPassphrase

BASE_TIME = datetime(2025, 1, 6, 9, 0)
"""The fake clock starts here and moves one minute per event: snapshots never see the real time."""


class FakeSettings:
    """`session.settings`: get(key, default) / set(key, value)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value


@dataclass
class _Vault:
    """Everything one fake data directory holds."""

    passphrase: str
    conversations: dict[int, ConversationInfo] = field(default_factory=dict)
    messages: dict[int, list[MessageInfo]] = field(default_factory=dict)
    memories: dict[int, MemoryInfo] = field(default_factory=dict)
    versions: list[AdapterVersionInfo] = field(default_factory=list)
    log: list[LearningEvent] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    next_id: int = 1
    ticks: int = 0
    open: bool = False
    keyring: bool = False
    version: int | None = None
    paused: bool = False
    state: str = "idle"

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def now(self) -> datetime:
        self.ticks += 1
        return BASE_TIME + timedelta(minutes=self.ticks)


_VAULTS: dict[str, _Vault] = {}
_REGISTRY_LOCK = threading.Lock()


def _key(home: Path | None) -> str:
    return str(Path(home) if home is not None else paths.data_dir())


def forget_all() -> None:
    """Drop every fake vault (test isolation)."""
    with _REGISTRY_LOCK:
        _VAULTS.clear()


def reply_for(text: str) -> str:
    """The fixed Markdown reply to `text`."""
    first = " ".join(text.split())[:60]
    return (
        f"**Noted.** You said: *{first}*\n\n"
        "Here is what I can do offline:\n\n"
        "- remember what you tell me\n"
        "- answer from my memory\n\n"
        "Ask me anything."
    )


def pieces_of(text: str) -> list[str]:
    """`text` cut into word pieces (each with its trailing whitespace), as a model streams them."""
    return re.findall(r"\S+\s*|\s+", text)


class FakeReply:
    """`session.send(...)` (a `ReplyLike`): an iterator of str pieces; afterwards text, message_id,
    cut, tokens_per_s, memory_used."""

    def __init__(self, session: FakeSession, conversation_id: int, full: str, cancel: threading.Event | None) -> None:
        self._session = session
        self._conversation_id = conversation_id
        self._pieces = pieces_of(full)
        self._cancel = cancel
        self.text = ""
        self.message_id: int | None = None
        self.cut = False
        self.tokens_per_s = 42.0
        self.memory_used: list[str] = session._recalled()
        self.remembered: list[MemoryInfo] = []
        self._closed = False

    def __iter__(self) -> Iterator[str]:
        session = self._session
        for index, piece in enumerate(self._pieces):
            if self._closed or (self._cancel is not None and self._cancel.is_set()):
                self.cut = True
                break
            if index == 1 and session.hold is not None:
                while not session.hold.wait(0.01):
                    if self._cancel is not None and self._cancel.is_set():
                        break
                if self._cancel is not None and self._cancel.is_set():
                    self.cut = True
                    break
            if session.token_delay:
                time.sleep(session.token_delay)
            self.text += piece
            yield piece
        self.message_id = session._finish_reply(self._conversation_id, self.text, self.cut)

    def close(self) -> None:
        """Stop early: an iteration still running ends at its next piece, marked cut."""
        self._closed = True


class FakeSession:
    """A deterministic `assistant.Session` (see the module docstring)."""

    model_name = "liquid-14m (fake)"

    def __init__(self, home: str, vault: _Vault) -> None:
        self._home = home
        self._vault = vault
        self._lock = threading.RLock()
        self._callbacks: list[Callable[[LearningEvent], None]] = []
        self._threads: list[threading.Thread] = []
        self._current: int | None = None
        self.closed = False
        self.settings = FakeSettings(vault.settings)
        self.token_delay = 0.0
        self.hold: threading.Event | None = None
        self.fail_next: Exception | None = None
        self.learn_delay = 0.0
        self.auto_memories = False
        self.sent: list[str] = []
        self.keyring_enabled = False

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def exists(cls, home: Path | None = None) -> bool:
        return _key(home) in _VAULTS

    @classmethod
    def open(
        cls, passphrase: str, *, home: Path | None = None, model_dir: Path | None = None, create: bool = False, kdf: Any = None
    ) -> FakeSession:
        key = _key(home)
        with _REGISTRY_LOCK:
            vault = _VAULTS.get(key)
            if vault is None:
                if not create:
                    raise VaultMissing(f"there is no store in {key} yet")
                vault = _VAULTS[key] = _Vault(passphrase=passphrase)
            elif vault.passphrase != passphrase:
                raise WrongPassphrase()
            if vault.open:
                raise InstanceLocked(f"another assistant is already running with the data directory {key}; close it first")
            vault.open = True
        return cls(key, vault)

    def close(self) -> None:
        if self.closed:
            return
        self.wait_for_learning(5)
        self.closed = True
        self._vault.open = False

    # --- conversations ------------------------------------------------------------------------

    def damaged_records(self) -> list[str]:
        return []  # the fake's records are never damaged (tests patch this)

    def conversations(self) -> list[ConversationInfo]:
        with self._lock:
            return sorted(self._vault.conversations.values(), key=lambda c: (c.updated_at, c.id), reverse=True)

    def new_conversation(self, title: str | None = None, *, temporary: bool = False) -> ConversationInfo:
        with self._lock:
            ident = self._vault.new_id()
            info = ConversationInfo(ident, title or "", self._vault.now(), 0, temporary)
            self._vault.conversations[ident] = info
            self._vault.messages[ident] = []
            self._current = ident
            return info

    def select(self, conversation_id: int) -> None:
        with self._lock:
            if conversation_id not in self._vault.conversations:
                raise RecordNotFound("conversations", conversation_id)
            self._current = conversation_id

    @property
    def current(self) -> ConversationInfo | None:
        with self._lock:
            return self._vault.conversations.get(self._current) if self._current is not None else None

    def rename(self, conversation_id: int, title: str) -> None:
        with self._lock:
            conv = self._vault.conversations[conversation_id]
            self._vault.conversations[conversation_id] = replace(conv, title=title)

    def delete_conversation(self, conversation_id: int) -> None:
        with self._lock:
            if self._vault.conversations.pop(conversation_id, None) is None:
                raise RecordNotFound("conversations", conversation_id)
            self._vault.messages.pop(conversation_id, None)
            if self._current == conversation_id:
                self._current = None
        self._unlearn(f"conversation {conversation_id}")

    def messages(self, conversation_id: int) -> list[MessageInfo]:
        with self._lock:
            return list(self._vault.messages.get(conversation_id, []))

    def delete_message(self, message_id: int) -> None:
        with self._lock:
            for conv_id, items in self._vault.messages.items():
                kept = [m for m in items if m.id != message_id]
                if len(kept) != len(items):
                    self._vault.messages[conv_id] = kept
                    break
        self._unlearn(f"message {message_id}")

    # --- replies ------------------------------------------------------------------------------

    def send(self, text: str, *, cancel: threading.Event | None = None, settings: Any = None) -> FakeReply:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        with self._lock:
            if self._current is None:
                self.new_conversation()
            conv_id = self._current
            assert conv_id is not None
            vault = self._vault
            conv = vault.conversations[conv_id]
            vault.messages[conv_id].append(MessageInfo(vault.new_id(), "user", text, vault.now()))
            title = conv.title or " ".join(text.split())[:40] or "Untitled"
            vault.conversations[conv_id] = replace(conv, title=title, updated_at=vault.now(), message_count=conv.message_count + 1)
            self.sent.append(text)
        reply = FakeReply(self, conv_id, reply_for(text), cancel)
        if self.auto_memories and not conv.temporary:
            reply.remembered = self._remember(text, conv_id)
        return reply

    def _remember(self, text: str, conv_id: int) -> list[MemoryInfo]:
        words = text.split()
        if len(words) < 3 or words[0] not in ("My", "I") or text.rstrip().endswith("?"):
            return []
        with self._lock:
            slot = " ".join(words[:2]).lower()
            when = self._vault.now()
            info = MemoryInfo(self._vault.new_id(), text.strip(), when, conv_id, when, slot=slot)
            for old in list(self._vault.memories.values()):
                if old.slot == slot and old.status == "current":
                    self._vault.memories[old.id] = replace(old, status="superseded", superseded_by=info.id, superseded_at=when)
            self._vault.memories[info.id] = info
            return [info]

    def _finish_reply(self, conv_id: int, text: str, cut: bool) -> int | None:
        with self._lock:
            vault = self._vault
            conv = vault.conversations.get(conv_id)
            if conv is None:
                return None
            ident = vault.new_id()
            vault.messages[conv_id].append(MessageInfo(ident, "assistant", text, vault.now(), cut))
            vault.conversations[conv_id] = replace(conv, updated_at=vault.now(), message_count=conv.message_count + 1)
            learn = not conv.temporary and not cut and not vault.paused
        if learn:
            self._start_background(self._learn_once)
        return ident

    # --- learning -----------------------------------------------------------------------------

    def on_learning_event(self, callback: Callable[[LearningEvent], None]) -> None:
        self._callbacks.append(callback)

    def _emit(self, kind: str, detail: str) -> None:
        with self._lock:
            event = LearningEvent(self._vault.now(), kind, detail)
            self._vault.log.append(event)
        for callback in list(self._callbacks):
            callback(event)

    def _start_background(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _learn_once(self) -> None:
        vault = self._vault
        vault.state = "learning"
        self._emit("update started", "learning from the last exchange")
        if self.learn_delay:
            time.sleep(self.learn_delay)
        with self._lock:
            n = len(vault.versions) + 1
            version = AdapterVersionInfo(
                version=n,
                created_at=vault.now(),
                personal_loss=round(3.2 - 0.15 * n, 3),
                anchor_loss=round(2.50 + 0.01 * (n % 3), 3),
                base_anchor_loss=2.5,
                accepted=True,
                kept_reason="recent",
            )
            vault.versions.append(version)
            vault.version = n
            vault.state = "idle"
        self._emit("update accepted", f"version {n}: personal loss {version.personal_loss:.3f}, anchor loss {version.anchor_loss:.3f}")

    def _unlearn(self, what: str) -> None:
        def run() -> None:
            vault = self._vault
            vault.state = "unlearning"
            self._emit("unlearning", f"forgetting {what}: retraining from the remaining items (1/2)")
            if self.learn_delay:
                time.sleep(self.learn_delay)
            self._emit("unlearning", f"forgetting {what}: retraining from the remaining items (2/2)")
            vault.state = "paused" if vault.paused else "idle"
            self._emit("unlearned", f"{what} is forgotten")

        self._start_background(run)

    def learning_status(self) -> LearningStatus:
        vault = self._vault
        last = vault.log[-1].detail if vault.log else ""
        return LearningStatus(vault.state, vault.version, 0, last)

    def pause_learning(self) -> None:
        self._vault.paused = True
        self._vault.state = "paused"
        self._emit("paused", "learning paused by you")

    def resume_learning(self) -> None:
        self._vault.paused = False
        self._vault.state = "idle"
        self._emit("resumed", "learning resumed")

    def adapter_versions(self) -> list[AdapterVersionInfo]:
        with self._lock:
            return [replace(v, active=v.version == self._vault.version) for v in self._vault.versions]

    def rollback(self, version: int | None) -> None:
        with self._lock:
            if version is not None and not any(v.version == version for v in self._vault.versions):
                raise RecordNotFound("adapter_versions", version)
            self._vault.version = version
            self._vault.state = "rolled back"
        self._emit("rollback", f"rolled back to {'the base model' if version is None else f'version {version}'} by you")

    def learning_log(self, limit: int = 100) -> list[LearningEvent]:
        with self._lock:
            return list(self._vault.log[-limit:])

    def wait_for_learning(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    # --- memories and search ------------------------------------------------------------------

    def memories(self) -> list[MemoryInfo]:
        with self._lock:
            return sorted(self._vault.memories.values(), key=lambda m: m.id)

    def add_memory(self, text: str) -> MemoryInfo:
        with self._lock:
            info = MemoryInfo(self._vault.new_id(), text, self._vault.now())
            self._vault.memories[info.id] = info
            return info

    def edit_memory(self, memory_id: int, text: str) -> None:
        with self._lock:
            self._vault.memories[memory_id] = replace(self._vault.memories[memory_id], text=text)

    def delete_memory(self, memory_id: int) -> None:
        with self._lock:
            if self._vault.memories.pop(memory_id, None) is None:
                raise RecordNotFound("memories", memory_id)
            for other in list(self._vault.memories.values()):
                if other.superseded_by == memory_id:
                    self._vault.memories[other.id] = replace(other, status="current", superseded_by=None, superseded_at=None)
        self._unlearn(f"memory {memory_id}")

    def merge_memories(self, memory_ids: list[int], text: str) -> MemoryInfo:
        with self._lock:
            if len(set(memory_ids)) < 2:
                raise ValueError("merging needs two or more memories")
            first = self._vault.memories[memory_ids[0]]
            info = replace(first, id=self._vault.new_id(), text=text, times_used=0)
            self._vault.memories[info.id] = info
        for ident in memory_ids:
            self.delete_memory(ident)
        return info

    def memory_count(self) -> int:
        return len(self._vault.memories)

    def _recalled(self) -> list[str]:
        """The fake memory block of a reply: the first memory, if there is one."""
        with self._lock:
            return [m.text for m in list(self._vault.memories.values())[:1]]

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        words = {w for w in re.findall(r"\w+", query.lower())}
        hits: list[SearchHit] = []
        with self._lock:
            for memory in self._vault.memories.values():
                score = len(words & set(re.findall(r"\w+", memory.text.lower())))
                if score:
                    hits.append(SearchHit("memory", memory.id, None, memory.text, float(score)))
            for conv_id, items in self._vault.messages.items():
                if self._vault.conversations[conv_id].temporary:
                    continue
                for message in items:
                    score = len(words & set(re.findall(r"\w+", message.text.lower())))
                    if score:
                        hits.append(SearchHit("message", message.id, conv_id, message.text, float(score)))
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits[:k]

    # --- export, import, reset, passphrase ----------------------------------------------------

    def export(self, path: Path | str, export_passphrase: str, *, plaintext: bool = False, progress: Any = None) -> None:
        with self._lock:
            doc = {
                "passphrase": None if plaintext else export_passphrase,
                "memories": [m.text for m in self._vault.memories.values()],
                "conversations": [c.title for c in self._vault.conversations.values() if not c.temporary],
            }
        steps = 4
        for step in range(1, steps + 1):
            if progress is not None:
                progress(step, steps)
        Path(path).write_text(json.dumps(doc), encoding="utf-8")

    def import_(self, path: Path | str, export_passphrase: str, *, merge: bool = False, progress: Any = None) -> None:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("passphrase") not in (None, export_passphrase):
            raise ExportAuthError("the export does not authenticate: wrong export passphrase, or the file was modified")
        if progress is not None:
            progress(1, 2)
        with self._lock:
            if not merge:
                self._vault.memories.clear()
                self._vault.conversations.clear()
                self._vault.messages.clear()
                self._current = None
            for text in doc["memories"]:
                info = MemoryInfo(self._vault.new_id(), text, self._vault.now())
                self._vault.memories[info.id] = info
            for title in doc["conversations"]:
                ident = self._vault.new_id()
                self._vault.conversations[ident] = ConversationInfo(ident, title, self._vault.now(), 0, False)
                self._vault.messages[ident] = []
        if progress is not None:
            progress(2, 2)

    def reset(self) -> None:
        with _REGISTRY_LOCK:
            _VAULTS.pop(self._home, None)
        self.closed = True

    def change_passphrase(self, old: str, new: str) -> None:
        if old != self._vault.passphrase:
            raise WrongPassphrase()
        self._vault.passphrase = new

    def enable_keyring(self, passphrase: str) -> None:
        self.keyring_enabled = True
        self._vault.keyring = True

    @classmethod
    def open_with_keyring(cls, *, home: Path | None = None, model_dir: Path | None = None) -> FakeSession:
        vault = _VAULTS.get(_key(home))
        if vault is None or not vault.keyring:
            from memory.errors import KeyringUnavailable

            raise KeyringUnavailable("this vault has no keyring slot")
        return cls.open(vault.passphrase, home=home)


class FakeOpener:
    """The app's opener over `FakeSession`: `opener(passphrase, create=...)` and `exists()`.

    `sessions` lists every session it opened; `configure` is applied to each (knobs above).
    `keyring` makes the OS-keyring hooks appear (available, with that reason), or None to hide them.
    """

    def __init__(self, home: Path | None = None, *, keyring: tuple[bool, str] | None = None, **configure: Any) -> None:
        self.home = home
        self.sessions: list[FakeSession] = []
        self.configure = configure
        self.calls: list[tuple[str, bool]] = []
        self._keyring = keyring
        self.delay = 0.0

    def exists(self) -> bool:
        return FakeSession.exists(self.home)

    def __call__(self, passphrase: str, *, create: bool = False) -> FakeSession:
        self.calls.append((passphrase, create))
        if self.delay:
            time.sleep(self.delay)
        session = FakeSession.open(passphrase, home=self.home, create=create)
        for name, value in self.configure.items():
            setattr(session, name, value)
        self.sessions.append(session)
        return session

    def __getattr__(self, name: str) -> Any:
        # The keyring hooks exist only when asked for, like on a build without keyring support.
        hooks = {
            "keyring_status": lambda: self._keyring,
            "enable_keyring": lambda session, passphrase: session.enable_keyring(passphrase),
            "has_keyring_slot": lambda: bool(getattr(_VAULTS.get(_key(self.home)), "keyring", False)),
            "open_with_keyring": self._open_with_keyring,
        }
        if name in hooks and self.__dict__.get("_keyring") is not None:
            return hooks[name]
        raise AttributeError(name)

    def _open_with_keyring(self) -> FakeSession:
        session = FakeSession.open_with_keyring(home=self.home)
        self.sessions.append(session)
        return session

    @property
    def session(self) -> FakeSession:
        """The last session opened."""
        return self.sessions[-1]


def seed(home: Path | None = None, passphrase: str = "correct horse battery staple", **kwargs: Any) -> FakeSession:
    """A vault with two conversations, two memories and two adapter versions; returned closed."""
    session = FakeSession.open(passphrase, home=home, create=True)
    a = session.new_conversation("Trip to Lisbon")
    for text in ("I'm going to Lisbon in May.", "What should I pack?"):
        session.select(a.id)
        for _ in session.send(text):
            pass
        session.wait_for_learning()
    session.new_conversation("Python questions")
    for _ in session.send("How do I reverse a list in Python?"):
        pass
    session.wait_for_learning()
    session.add_memory("My sister is called Ana.")
    session.add_memory("I prefer short answers.")
    session.close()
    return session
