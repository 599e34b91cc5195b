"""`Session`: one user's unlocked assistant, the service every interface talks to.

    session = Session.open(passphrase, create=True)
    conv = session.new_conversation()
    reply = session.send("My sister is called Ines.")
    for piece in reply:                       # streams; the message is stored as it grows
        print(piece, end="")
    session.close()

Decisions (DESIGN.md section 4):

- **A new conversation starts from a clean (zero) state.** Conversations stay independent, and a
  deletion is exact: a conversation's state has read only that conversation, so when one of its
  messages is deleted the store drops that one state and nothing else still carries the text.
  (A "long-running" state carried from conversation to conversation would hold every deleted
  message until it decays, with no way to take it out; so that alternative is not offered.)
  What crosses conversations is the recall index (the `<|memory|>` block) and the adapter, and
  both forget exactly.
- **The state persists.** After every turn the conversation's state is stored (encrypted) with
  the id of the last message it read; a turn feeds only the new tokens (memory block, user turn,
  assistant prompt, reply) into it, and reopening, even in a new process, continues from it. If
  messages were written after the state (a reply cut by a crash), only they are read to catch up.
- **A state is bound to the model and to the adapter version that made it** (tag
  `<config hash>:<version>`), and a conversation keeps using that version while it stays in the
  active lineage (the versions the active one descends from): its state stays exact, and what
  was learned meanwhile applies from the next conversation. When the version is gone (rolled
  back, unlearned, pruned) or the model changed, the history is re-read once with the active
  adapter (chunked prefill) and the learning log says so. Never silently. (A re-read has the
  messages only, not the memory blocks of past turns, so it is close to the lost state, not equal.)
- **Recall** gives snippets from other conversations (the current one is in the state already)
  and from memories; the assistant's own past replies are left out, so it does not quote itself
  as fact.
- **Temporary chats** live in memory only: no row, no replay item, no adapter change.
- **Learning never delays a reply**: see `assistant.learning`. The reply's generation holds the
  generation lock; the worker trains a separate copy and pauses between steps while a reply runs.

The parts, each in its own module (none imports this one):

    records        the records the interfaces see (`ConversationInfo`, `MessageInfo` ...)
    protocol       `SessionLike`: exactly what the terminal UI needs of a session
    reply          the streaming reply (`Reply`) and what it has produced (`ReplyState`)
    opening        where the store is, unlocking or creating it
    runtime        the generating model: loading, the generation lock, adapter swaps
    conversations  stored conversations and temporary chats: two kinds, one protocol
    states         state keeping: saving, resuming, catching up, re-reading, pins
    recall         the recall policy: what a turn's memory block holds
    turn           the turn: the one place a prompt is built, streaming, storing the reply
    memories       the user's memories: kept automatically or typed in, superseded, merged; search
    learning_hooks the learning scheduler, its status, versions and log, event listeners
    export         export and import of the whole store

Thread model: call `send` and iterate the reply in one worker thread of the interface; the
other methods may be called from any thread. `on_learning_event` callbacks run on the learning
worker's thread (the interface marshals them to its own).

Importing this package loads neither torch nor the model: the interfaces import the records and
the protocol at start, and the model is loaded when a session opens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.session.conversations import Conversations
from assistant.session.export import Archive, ProgressFn
from assistant.session.learning_hooks import LearningHooks
from assistant.session.memories import Memories
from assistant.session.opening import closed_on_failure, data_directory, model_directory, unlock
from assistant.session.protocol import ReplyLike, SessionLike, SettingsLike
from assistant.session.recall import RecallPolicy
from assistant.session.records import (
    AdapterVersionInfo,
    ConversationInfo,
    LearningEvent,
    LearningStatus,
    MemoryInfo,
    MessageInfo,
    SearchHit,
)
from assistant.session.reply import Reply, ReplyState
from assistant.session.runtime import ModelRuntime
from assistant.session.states import StateKeeper
from assistant.session.turn import Turns
from assistant.store import Store, store_exists
from memory.crypto import KdfParams

if TYPE_CHECKING:
    from assistant.learning import LearningScheduler

__all__ = [
    "AdapterVersionInfo",
    "ConversationInfo",
    "LearningEvent",
    "LearningStatus",
    "MemoryInfo",
    "MessageInfo",
    "Reply",
    "ReplyLike",
    "ReplyState",
    "SearchHit",
    "Session",
    "SessionLike",
    "SettingsLike",
]


class Session:
    """One user's unlocked assistant. Create with `Session.open`; `close()` when done."""

    def __init__(self, store: Store, home: Path, model_dir: Path, *, learn: bool = True) -> None:
        """Use `Session.open`."""
        from assistant.settings import Settings  # with torch: not at import

        self.store = store
        self.home = home
        self.model_dir = model_dir
        self.settings = Settings(store)
        self.runtime = ModelRuntime(model_dir, adapters=self._adapter_bytes, learning_off=self._learning_off)
        self.hooks = LearningHooks(store, self.settings, self.runtime.resources, self.runtime.generating)
        self.learning: LearningScheduler = self.hooks.scheduler
        self.states = StateKeeper(store, self.runtime, self.learning, self.hooks.emit)
        self.chats = Conversations(store, self.states, self.learning, self.runtime)
        self.recall = RecallPolicy(store, self.settings)
        self.memory = Memories(store, self.learning)
        self.turns = Turns(self.runtime, self.recall, self.settings, self.memory)
        self.archive = Archive(store, self.learning, self._after_import)
        if not (model_dir / "anchor.txt").is_file():
            self.learning.disabled_reason = f"learning is off: the model folder {model_dir} has no anchor.txt"
        if learn:
            self.runtime.load()
            self.learning.start()
        threading.Thread(target=self.recall.warm, name="assistant-recall-index", daemon=True).start()

    def _adapter_bytes(self, version: int) -> bytes:
        return self.learning.adapter_bytes(version)

    def _learning_off(self, reason: str) -> None:
        self.learning.disabled_reason = reason

    # --- opening and closing ---------------------------------------------------------------

    @staticmethod
    def exists(home: Path | None = None) -> bool:
        """Whether a store exists in the data directory (`home`, or the default one)."""
        return store_exists(Path(home) if home is not None else None)

    @classmethod
    def open(
        cls,
        passphrase: str,
        *,
        home: Path | None = None,
        model_dir: Path | None = None,
        create: bool = False,
        kdf: KdfParams | None = None,
        learn: bool = True,
    ) -> Session:
        """Unlock the store (creating it if `create` and there is none) and load the model.

        Raises the store's `WrongPassphrase`, `InstanceLocked` or `VaultMissing`. With
        `learn=False` the learning worker is not started and the model is loaded only when a
        reply needs it (for commands that read history or change learning settings).
        """
        directory = data_directory(home)
        with closed_on_failure(directory, passphrase) as store:
            unlock(store, directory, passphrase, create=create, kdf=kdf)
            return cls(store, directory, model_directory(model_dir), learn=learn)

    @classmethod
    def open_with_keyring(
        cls, *, home: Path | None = None, model_dir: Path | None = None, learn: bool = True, backend: Any = None
    ) -> Session:
        """Unlock with the key kept in the OS keyring (see `enable_keyring`); no passphrase."""
        directory = data_directory(home)
        with closed_on_failure(directory) as store:
            store.unlock_with_keyring(backend)
            return cls(store, directory, model_directory(model_dir), learn=learn)

    def enable_keyring(self, passphrase: str, backend: Any = None) -> None:
        """Also keep a key in the OS keyring (refused where its backend stores plaintext)."""
        self.store.enable_keyring(passphrase, backend)

    def disable_keyring(self, backend: Any = None) -> None:
        self.store.disable_keyring(backend)

    @property
    def has_keyring_slot(self) -> bool:
        return self.store.has_keyring_slot

    def close(self) -> None:
        """Stop learning at a safe point, cancel a reply in progress, lock and close the store."""
        if self.runtime.closed:
            return
        self.runtime.closing.set()
        self.learning.stop()
        # A reply in progress sees `closing` and stops at its next token; do not wait forever
        # for a reader that stopped reading.
        got = self.runtime.lock.acquire(timeout=10)
        try:
            self.runtime.closed = True
            self.store.close()
        finally:
            if got:
                self.runtime.lock.release()

    @property
    def closed(self) -> bool:
        return self.runtime.closed

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def model_name(self) -> str:
        return self.runtime.name

    # --- conversations ---------------------------------------------------------------------

    def conversations(self) -> list[ConversationInfo]:
        """Every conversation, most recently updated first (temporary ones included)."""
        return self.chats.all()

    def new_conversation(self, title: str | None = None, *, temporary: bool = False) -> ConversationInfo:
        """Start a conversation (from a clean state) and select it."""
        return self.chats.new(title, temporary=temporary)

    def select(self, conversation_id: int) -> None:
        self.chats.select(conversation_id)

    @property
    def current(self) -> ConversationInfo | None:
        return self.chats.current

    def find_conversation(self, name: str) -> ConversationInfo | None:
        """A conversation by id (digits) or by title (case-insensitive), most recent first."""
        return self.chats.find(name)

    def rename(self, conversation_id: int, title: str) -> None:
        self.chats.get(conversation_id).rename(title)

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation; what was learned from it is unlearned in the background."""
        self.chats.delete(conversation_id)

    def messages(self, conversation_id: int) -> list[MessageInfo]:
        return self.chats.get(conversation_id).messages()

    def damaged_records(self) -> list[str]:
        """The damaged records reads have left out since unlock (one sentence each); see
        `assistant verify` to list all of them and drop them."""
        return [str(exc) for exc in self.store.skipped.values()]

    def delete_message(self, message_id: int) -> None:
        """Delete one message; its conversation's state is rebuilt from the rest at the next turn."""
        self.chats.delete_message(message_id)

    # --- sending ---------------------------------------------------------------------------

    def send(
        self, text: str, *, cancel: threading.Event | None = None, settings: Any = None, learn: bool = True
    ) -> Reply:
        """Store the user's message, then return the reply as a stream (generated while iterated).

        Sent in the selected conversation (a new one if none is). `settings`: the sampling
        settings (default: the user's); `learn=False` keeps this exchange out of learning.
        """
        return self.turns.send(text, self.chats.current_or_new, cancel=cancel, settings=settings, learn=learn)

    # --- memories --------------------------------------------------------------------------

    def memories(self) -> list[MemoryInfo]:
        return self.memory.all()

    def add_memory(self, text: str) -> MemoryInfo:
        return self.memory.add(text)

    def edit_memory(self, memory_id: int, text: str) -> None:
        """Change a memory: what the old text taught is unlearned, the new text is learned."""
        self.memory.edit(memory_id, text)

    def delete_memory(self, memory_id: int) -> None:
        """Forget it everywhere (store, index, adapters, states that read it)."""
        self.memory.delete(memory_id)

    def merge_memories(self, memory_ids: list[int], text: str) -> MemoryInfo:
        """Replace several memories by one with `text` (the others are forgotten)."""
        return self.memory.merge(memory_ids, text)

    def search_memories(self, query: str, k: int = 10) -> list[tuple[MemoryInfo, float]]:
        """The memories that match `query` best, with their scores."""
        return self.memory.search_memories(query, k)

    def memory_count(self) -> int:
        return self.memory.count()

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        return self.memory.search(query, k)

    # --- learning --------------------------------------------------------------------------

    def learning_status(self) -> LearningStatus:
        return self.hooks.status()

    def pause_learning(self) -> None:
        self.learning.pause()

    def resume_learning(self) -> None:
        self.learning.resume()

    def adapter_versions(self) -> list[AdapterVersionInfo]:
        return self.hooks.versions()

    def rollback(self, version: int | None) -> None:
        """Make a kept version the active one (0 or None: the base model)."""
        self.learning.rollback(version)

    def learning_log(self, limit: int = 100) -> list[LearningEvent]:
        return self.hooks.log(limit)

    def on_learning_event(self, callback: Callable[[LearningEvent], None]) -> None:
        self.hooks.listen(callback)

    def wait_for_learning(self, timeout: float | None = None) -> bool:
        """Wait until every queued learning job is done; False on timeout or if learning is paused."""
        return self.learning.wait_idle(timeout)

    # --- the whole store -------------------------------------------------------------------

    def export(self, path: Path | str, export_passphrase: str, *, plaintext: bool = False, progress: ProgressFn | None = None) -> Any:
        """Write everything to one encrypted file (or a readable directory with `plaintext`)."""
        return self.archive.export(path, export_passphrase, plaintext=plaintext, progress=progress)

    def import_(self, path: Path | str, export_passphrase: str, *, merge: bool = False, progress: ProgressFn | None = None) -> Any:
        """Restore an export (replace, or `merge`); learning picks up the imported state."""
        return self.archive.import_(path, export_passphrase, merge=merge, progress=progress)

    def _after_import(self) -> None:
        self.settings.forget_cache()
        with self.runtime.lock:
            self.runtime.forget_adapter()
        self.chats.deselect()

    def reset(self) -> list[str]:
        """Destroy everything (keys shredded, rows deleted); the session is closed afterwards."""
        self.runtime.closing.set()
        self.learning.stop()
        with self.runtime.lock:
            warnings = self.store.reset()
            self.runtime.closed = True
        return warnings

    def change_passphrase(self, old: str, new: str) -> None:
        self.store.change_passphrase(old, new)
