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

Thread model: call `send` and iterate the reply in one worker thread of the interface; the
other methods may be called from any thread. `on_learning_event` callbacks run on the learning
worker's thread (the interface marshals them to its own).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant import paths
from assistant.errors import ReplyInProgress
from assistant.learning import PINS, LearningScheduler, kept_reasons
from assistant.settings import Settings
from assistant.store import (
    Store,
    VaultMissing,
    export_plaintext,
    export_to,
    import_from,
    open_store,
    store_exists,
)
from memory.crypto import DESIGN_KDF, KdfParams
from memory.errors import RecordNotFound

log = logging.getLogger(__name__)

SAVE_EVERY_S = 0.5  # a streaming reply is written to the store at most this often
PREFILL_CHUNK = 512  # tokens per forward pass when (re-)reading history
TITLE_CHARS = 48

ProgressFn = Callable[[int, int], None]


# === what the interfaces see ====================================================================


@dataclass(frozen=True)
class ConversationInfo:
    id: int
    title: str
    updated_at: datetime
    message_count: int
    temporary: bool = False


@dataclass(frozen=True)
class MessageInfo:
    id: int
    role: str  # "user" or "assistant"
    text: str
    created_at: datetime
    cut: bool = False
    conversation_id: int | None = None


@dataclass(frozen=True)
class MemoryInfo:
    id: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "message" or "memory"
    id: int
    conversation_id: int | None
    text: str
    score: float


@dataclass(frozen=True)
class LearningStatus:
    state: str  # "idle", "learning", "paused", "rolled back" or "unlearning"
    version: int | None  # the active adapter version (None: the base model)
    pending: int  # jobs waiting
    last_event: str


@dataclass(frozen=True)
class AdapterVersionInfo:
    version: int
    created_at: datetime
    personal_loss: float | None
    anchor_loss: float | None
    base_anchor_loss: float | None
    accepted: bool
    kept_reason: str
    kind: str = "update"  # "update", "memory" or "retrain"
    active: bool = False


@dataclass(frozen=True)
class LearningEvent:
    at: datetime
    kind: str  # "update", "rejected", "rollback", "unlearning", "retrained", "progress", "state" ...
    detail: str


@dataclass
class ReplyState:
    """What a reply has produced so far (read it through `Reply`)."""

    conversation_id: int
    message_id: int
    user_message_id: int
    text: str = ""
    cut: bool = False
    done: bool = False
    tokens: int = 0
    tokens_per_s: float = 0.0
    memory_used: list[str] = field(default_factory=list)  # the snippets of the <|memory|> block
    reread: bool = False  # whether the history had to be re-read for this reply


class Reply:
    """A streaming reply: iterate for text pieces; afterwards read `text`, `cut`, `message_id`,
    `tokens_per_s`, `memory_used` (all from its `ReplyState`).

    `close()` stops it early (the text shown so far is kept, marked cut); so does dropping it.
    The generator holds the state, not the `Reply`, so a dropped reply is closed at once (no
    reference cycle keeps the model busy until a garbage collection).
    """

    def __init__(self, state: ReplyState, stream: Iterator[str], abandon: Callable[[], None]) -> None:
        self._state = state
        self._it = stream
        self._abandon = abandon
        self._started = False

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._state, name)

    def __iter__(self) -> Reply:
        return self

    def __next__(self) -> str:
        self._started = True
        return next(self._it)

    def close(self) -> None:
        """Stop early: the text shown so far is kept, marked cut (a reply never read stays empty)."""
        if not self._started and not self._state.done:
            self._abandon()
        self._it.close()

    def wait(self) -> str:
        """Consume the rest of the reply; returns its text."""
        for _ in self:
            pass
        return self._state.text

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


@dataclass
class _Temporary:
    """A temporary chat: lives in this object only."""

    info: ConversationInfo
    messages: list[MessageInfo] = field(default_factory=list)
    state: Any = None
    version: int | None = None
    last: int = 0  # the last message id the state has read


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts)


def _title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


# === the session ================================================================================


class Session:
    """One user's unlocked assistant. Create with `Session.open`; `close()` when done."""

    def __init__(self, store: Store, home: Path, model_dir: Path, *, learn: bool = True) -> None:
        """Use `Session.open`."""
        self.store = store
        self.home = home
        self.model_dir = model_dir
        self.settings = Settings(store)
        self._model = None
        self._tok = None
        self._anchor: list[str] | None = None
        self._model_lock = threading.Lock()
        self._gen_lock = threading.Lock()
        self._lock = threading.Lock()
        self._generating = threading.Event()
        self._closing = threading.Event()
        self._reply_active = False
        self._gen_version: Any = _UNSET
        self._temporary: dict[int, _Temporary] = {}
        self._next_temp = -1
        self._current: int | None = None
        self._listeners: list[Callable[[LearningEvent], None]] = []
        self._closed = False
        self.learning = LearningScheduler(
            store, self.settings, self._resources, emit=self._emit, generating=self._generating
        )
        if not (model_dir / "anchor.txt").is_file():
            self.learning.disabled_reason = f"learning is off: the model folder {model_dir} has no anchor.txt"
        if learn:
            self._ensure_model()
            self.learning.start()
        threading.Thread(target=self._warm_recall, name="assistant-recall-index", daemon=True).start()

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
        directory = Path(home) if home is not None else paths.data_dir(create=True)
        store = open_store(directory)
        try:
            if store.has_vault:
                store.unlock(passphrase)
            elif create:
                store.create(passphrase, kdf=kdf or DESIGN_KDF)
            else:
                raise VaultMissing(f"there is no store in {directory} yet")
            return cls(store, directory, Path(model_dir) if model_dir else paths.default_model_dir(), learn=learn)
        except BaseException:
            store.close()
            raise

    @classmethod
    def open_with_keyring(
        cls, *, home: Path | None = None, model_dir: Path | None = None, learn: bool = True, backend: Any = None
    ) -> Session:
        """Unlock with the key kept in the OS keyring (see `enable_keyring`); no passphrase."""
        directory = Path(home) if home is not None else paths.data_dir(create=True)
        store = open_store(directory)
        try:
            store.unlock_with_keyring(backend)
            return cls(store, directory, Path(model_dir) if model_dir else paths.default_model_dir(), learn=learn)
        except BaseException:
            store.close()
            raise

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
        if self._closed:
            return
        self._closing.set()
        self.learning.stop()
        # A reply in progress sees `_closing` and stops at its next token; do not wait forever
        # for a reader that stopped reading.
        got = self._gen_lock.acquire(timeout=10)
        try:
            self._closed = True
            self.store.close()
        finally:
            if got:
                self._gen_lock.release()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the model -------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        card = self.model_dir / "card.json"
        try:
            name = json.loads(card.read_text()).get("name") if card.is_file() else None
        except (OSError, ValueError):
            name = None
        return str(name or self.model_dir.name)

    def _ensure_model(self):
        with self._model_lock:
            if self._model is None:
                from core.checkpoint import load_model
                from core.learner import split_anchor

                model, tok = load_model(self.model_dir)
                anchor_file = self.model_dir / "anchor.txt"
                self._anchor = split_anchor(anchor_file.read_text(encoding="utf-8")) if anchor_file.is_file() else None
                if self._anchor is not None and not self._anchor:
                    self.learning.disabled_reason = f"learning is off: {anchor_file} is empty"
                self._model, self._tok = model, tok
                self._config_hash = model.cfg.hash()
            return self._model, self._tok

    def _resources(self):
        model, tok = self._ensure_model()
        return model, tok, self._anchor

    def _use_adapter(self, version: int | None) -> None:
        """Load `version`'s adapter into the generating model (call with the generation lock)."""
        if version == self._gen_version:
            return
        from core.lora import detach_lora, load_adapter_bytes

        if version is None:
            detach_lora(self._model)
        else:
            load_adapter_bytes(self._model, self.learning.adapter_bytes(version), self._config_hash)
        self._gen_version = version

    def _read(self, ids: list[int], state):
        """Feed `ids` into `state` in chunks (no logits kept); returns the new state."""
        import torch

        with torch.inference_mode():
            for start in range(0, len(ids), PREFILL_CHUNK):
                _, state = self._model(torch.tensor([ids[start : start + PREFILL_CHUNK]]), state)
        return state

    # --- conversations ---------------------------------------------------------------------

    def conversations(self) -> list[ConversationInfo]:
        """Every conversation, most recently updated first (temporary ones included)."""
        result = [
            ConversationInfo(c.id, c.title, _dt(c.updated), self.store.count_messages(c.id))
            for c in self.store.list_conversations()
        ]
        with self._lock:
            temps = [
                ConversationInfo(t.info.id, t.info.title, t.info.updated_at, len(t.messages), True)
                for t in self._temporary.values()
            ]
        return sorted(result + temps, key=lambda c: (c.updated_at, c.id), reverse=True)

    def new_conversation(self, title: str | None = None, *, temporary: bool = False) -> ConversationInfo:
        """Start a conversation (from a clean state) and select it."""
        if temporary:
            with self._lock:
                ident = self._next_temp
                self._next_temp -= 1
                info = ConversationInfo(ident, title or "Temporary chat", datetime.now(), 0, True)
                self._temporary[ident] = _Temporary(info)
        else:
            conv = self.store.add_conversation(title or "")
            info = ConversationInfo(conv.id, conv.title, _dt(conv.updated), 0)
        self._current = info.id
        return info

    def select(self, conversation_id: int) -> None:
        self._info(conversation_id)  # raises RecordNotFound if there is none
        self._current = conversation_id

    @property
    def current(self) -> ConversationInfo | None:
        if self._current is None:
            return None
        try:
            return self._info(self._current)
        except RecordNotFound:
            self._current = None
            return None

    def _info(self, conversation_id: int) -> ConversationInfo:
        if conversation_id < 0:
            with self._lock:
                temp = self._temporary.get(conversation_id)
            if temp is None:
                raise RecordNotFound("conversations", conversation_id)
            return ConversationInfo(temp.info.id, temp.info.title, temp.info.updated_at, len(temp.messages), True)
        conv = self.store.get_conversation(conversation_id)
        return ConversationInfo(conv.id, conv.title, _dt(conv.updated), self.store.count_messages(conv.id))

    def find_conversation(self, name: str) -> ConversationInfo | None:
        """A conversation by id (digits) or by title (case-insensitive), most recent first."""
        if name.lstrip("-").isdigit():
            try:
                return self._info(int(name))
            except RecordNotFound:
                return None
        wanted = name.strip().casefold()
        return next((c for c in self.conversations() if c.title.strip().casefold() == wanted), None)

    def rename(self, conversation_id: int, title: str) -> None:
        if conversation_id < 0:
            with self._lock:
                temp = self._temporary[conversation_id]
                temp.info = ConversationInfo(temp.info.id, title, temp.info.updated_at, 0, True)
            return
        self.store.rename_conversation(conversation_id, title)

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation; what was learned from it is unlearned in the background."""
        if conversation_id < 0:
            with self._lock:
                self._temporary.pop(conversation_id, None)
        else:
            self.learning.forget(lambda: self.store.delete_conversation(conversation_id), "conversation deleted")
            self._unpin(conversation_id)
        if self._current == conversation_id:
            self._current = None

    def messages(self, conversation_id: int) -> list[MessageInfo]:
        if conversation_id < 0:
            with self._lock:
                temp = self._temporary.get(conversation_id)
                if temp is None:
                    raise RecordNotFound("conversations", conversation_id)
                return list(temp.messages)
        return [
            MessageInfo(m.id, m.role, m.text, _dt(m.created), m.cut, m.conversation_id)
            for m in self.store.list_messages(conversation_id)
        ]

    def delete_message(self, message_id: int) -> None:
        """Delete one message; its conversation's state is rebuilt from the rest at the next turn."""
        if message_id < 0:
            with self._lock:
                for temp in self._temporary.values():
                    if any(m.id == message_id for m in temp.messages):
                        temp.messages = [m for m in temp.messages if m.id != message_id]
                        temp.state, temp.last = None, 0
                        return
            raise RecordNotFound("messages", message_id)
        self.learning.forget(lambda: self.store.delete_message(message_id), "message deleted")

    # --- sending ---------------------------------------------------------------------------

    def send(
        self,
        text: str,
        *,
        cancel: threading.Event | None = None,
        settings=None,
        learn: bool = True,
    ) -> Reply:
        """Store the user's message, then return the reply as a stream (generated while iterated).

        The user message is written before generation starts; the assistant message is created
        at once (empty, marked cut) and rewritten as it streams, so a crash leaves what was shown,
        marked cut. `learn=False` keeps this exchange out of learning.
        """
        if not text or not text.strip():
            raise ValueError("cannot send an empty message")
        with self._lock:
            if self._reply_active:
                raise ReplyInProgress("the previous reply is still being generated; wait for it or cancel it")
            self._reply_active = True
        try:
            if self.current is None:
                self.new_conversation()
            conv_id = self._current
            assert conv_id is not None
            if conv_id < 0:
                reply = self._send_temporary(conv_id, text)
            else:
                with self.store.transaction():
                    if not self.store.get_conversation(conv_id).title:
                        self.store.rename_conversation(conv_id, _title_from(text))
                    user = self.store.add_message(conv_id, "user", text)
                    bot = self.store.add_message(conv_id, "assistant", "", cut=True)
                reply = ReplyState(conv_id, bot.id, user.id)
            sampling = settings or self.settings.sampling()
            stream = self._stream(reply, text, cancel or threading.Event(), sampling, learn)
            return Reply(reply, stream, lambda: self._abandoned(reply))
        except BaseException:
            with self._lock:
                self._reply_active = False
            raise

    def _abandoned(self, reply: ReplyState) -> None:
        """A reply closed before it was read: its message stays empty and cut."""
        reply.cut = reply.done = True
        with self._lock:
            self._reply_active = False

    def _send_temporary(self, conv_id: int, text: str) -> ReplyState:
        with self._lock:
            temp = self._temporary[conv_id]
            now = datetime.now()
            user_id, bot_id = self._next_temp, self._next_temp - 1
            self._next_temp -= 2
            temp.messages.append(MessageInfo(user_id, "user", text, now, False, conv_id))
            temp.messages.append(MessageInfo(bot_id, "assistant", "", now, True, conv_id))
            if temp.info.title == "Temporary chat" and len(temp.messages) == 2:
                temp.info = ConversationInfo(conv_id, _title_from(text), now, 0, True)
        return ReplyState(conv_id, bot_id, user_id)

    def _stream(self, reply: ReplyState, text: str, cancel: threading.Event, sampling, learn: bool) -> Iterator[str]:
        from core.generate import Generator
        from core.template import render_memory, render_turn

        finished = False
        try:
            model, tok = self._ensure_model()
            with self._gen_lock:
                if self._closed:
                    return
                self._generating.set()
                state, version = self._conversation_state(reply.conversation_id, before=reply.user_message_id, reply=reply)
                self._use_adapter(version)
                reply.memory_used = self._recall(text, reply.conversation_id)
                prompt = (
                    render_memory(reply.memory_used) + render_turn("user", text) + render_turn("assistant", "", close=False)
                )
                # the same turn without the block, for memory contrast (core.generate)
                plain = render_turn("user", text) + render_turn("assistant", "", close=False)
                contrast = tok.encode(plain) if reply.memory_used else None
                gen = Generator(model, tok)
                stop = _AnyEvent(cancel, self._closing)
                last_save = t_first = None
                for piece in gen.stream(tok.encode(prompt), state, sampling, cancel=stop, contrast_ids=contrast):
                    now = time.perf_counter()
                    if t_first is None:
                        t_first = last_save = now
                    reply.text += piece
                    if reply.conversation_id > 0 and now - last_save >= SAVE_EVERY_S:
                        self.store.update_message(reply.message_id, text=reply.text)
                        last_save = now
                    yield piece
                reply.tokens = len(gen.reply_ids)
                if t_first is not None and reply.tokens > 1:
                    reply.tokens_per_s = (reply.tokens - 1) / max(time.perf_counter() - t_first, 1e-6)
                reply.cut = gen.stopped_by == "cancel"
                self._finish(reply, gen.state, version, learn and not reply.cut)
                finished = True
        finally:
            self._generating.clear()
            if not finished:
                reply.cut = True
                self._keep_cut(reply)
            reply.done = True
            with self._lock:
                self._reply_active = False

    def _finish(self, reply: ReplyState, state, version: int | None, learn: bool) -> None:
        """Store the finished reply, the new state and (if learning) the job, in one transaction."""
        if reply.conversation_id < 0:
            with self._lock:
                temp = self._temporary.get(reply.conversation_id)
                if temp is not None:
                    temp.messages = [
                        MessageInfo(m.id, m.role, reply.text, m.created_at, reply.cut, m.conversation_id)
                        if m.id == reply.message_id
                        else m
                        for m in temp.messages
                    ]
                    temp.state, temp.version, temp.last = state, version, reply.message_id
                    temp.info = ConversationInfo(temp.info.id, temp.info.title, datetime.now(), 0, True)
            return
        data = self._state_bytes(state, version, reply.message_id)
        with self.store.transaction():
            self.store.update_message(reply.message_id, text=reply.text, cut=reply.cut)
            self.store.save_state(reply.conversation_id, data, self._tag(version))
            self._pin(reply.conversation_id, version)
            if learn:
                self.learning.enqueue_exchange(reply.user_message_id, reply.message_id)
        self.learning.after_commit()

    def _keep_cut(self, reply: ReplyState) -> None:
        """A reply that did not finish keeps what was shown, marked cut (best effort)."""
        if reply.conversation_id < 0:
            with self._lock:
                temp = self._temporary.get(reply.conversation_id)
                if temp is not None:
                    temp.messages = [
                        MessageInfo(m.id, m.role, reply.text, m.created_at, True, m.conversation_id)
                        if m.id == reply.message_id
                        else m
                        for m in temp.messages
                    ]
                    temp.state = None  # it did not read the reply: re-read next time
            return
        if self._closed:
            return
        try:
            self.store.update_message(reply.message_id, text=reply.text, cut=True)
        except Exception:  # the store may be closing under us; the row stays marked cut
            log.exception("could not store the cut reply %s", reply.message_id)

    # --- recurrent state -------------------------------------------------------------------

    def _tag(self, version: int | None) -> str:
        return f"{self._config_hash}:{version or 0}"

    def _state_bytes(self, state, version: int | None, last: int) -> bytes:
        from core.state import state_to_bytes

        return state_to_bytes(state, self._config_hash, meta={"version": version, "last": last})

    def _history_ids(self, messages: list[Any]) -> list[int]:
        from core.template import render_turn

        return self._tok.encode("".join(render_turn(m.role, m.text) for m in messages))

    def _conversation_state(self, conversation_id: int, *, before: int, reply: ReplyState | None = None):
        """The state to answer from and the adapter version it belongs to (generation lock held).

        The saved state if it fits (catching up on messages written after it), else the history
        re-read with the active adapter, logged.
        """
        from core.errors import StateMismatch
        from core.model import zero_state
        from core.state import state_from_bytes

        if conversation_id < 0:
            with self._lock:
                temp = self._temporary[conversation_id]
                history = [m for m in temp.messages if m.id > before]  # temporary ids count down
                state, version, last = temp.state, temp.version, temp.last
            if state is not None and self.learning.usable(version):
                missing = [m for m in history if m.id < last]
                if missing:
                    self._use_adapter(version)
                    state = self._read(self._history_ids(missing), state)
                return state, version
            version = self.learning.active_version()
            self._use_adapter(version)
            return (self._read(self._history_ids(history), None) if history else None), version

        history = [m for m in self.store.list_messages(conversation_id) if m.id < before]
        saved = self.store.load_state(conversation_id)
        reason = "it has no saved state"
        if saved is not None:
            config_hash, _, tag_version = saved.tag.partition(":")
            version = int(tag_version) or None if tag_version.isdigit() else None
            if config_hash != self._config_hash:
                reason = "the model changed since its state was saved"
            elif not self.learning.usable(version):
                reason = f"adapter version {version} that made its state is no longer in use"
            else:
                try:
                    state, header = state_from_bytes(saved.data, zero_state(self._model.cfg), self._config_hash)
                except StateMismatch as exc:
                    reason = f"its saved state does not fit ({exc})"
                else:
                    last = int(header["meta"].get("last", 0))
                    missing = [m for m in history if m.id > last]
                    if missing:
                        self._use_adapter(version)
                        state = self._read(self._history_ids(missing), state)
                        self._log_state(conversation_id, f"caught up on {len(missing)} messages written after its state")
                    return state, version
        if not history:
            return None, self.learning.active_version()
        version = self.learning.active_version()
        self._use_adapter(version)
        ids = self._history_ids(history)
        t0 = time.perf_counter()
        state = self._read(ids, None)
        if reply is not None:
            reply.reread = True
        self._log_state(
            conversation_id,
            f"re-read {len(history)} messages ({len(ids)} tokens, {time.perf_counter() - t0:.2f} s) because {reason}",
        )
        return state, version

    def _log_state(self, conversation_id: int, what: str) -> None:
        detail = f"conversation {conversation_id}: {what}"
        try:
            self.store.log_event("state", {"message": detail, "conversation": conversation_id})
        except Exception:
            log.exception("could not log a state event")
        self._emit("state", detail, {"conversation": conversation_id})

    def _pin(self, conversation_id: int, version: int | None) -> None:
        pins = dict(self.store.get_setting(PINS, {}))
        pins[str(conversation_id)] = {"version": version, "at": time.time()}
        self.store.set_setting(PINS, pins)

    def _unpin(self, conversation_id: int) -> None:
        pins = dict(self.store.get_setting(PINS, {}))
        if pins.pop(str(conversation_id), None) is not None:
            self.store.set_setting(PINS, pins)

    def next_logits(self, conversation_id: int, text: str, *, with_memory: bool = True):
        """The logits (V,) the model gives for the first reply token if `text` were sent now.

        Nothing is stored. For tests and benchmarks: it shows exactly what the saved state holds.
        """
        from core.template import render_memory, render_turn

        self._ensure_model()
        with self._gen_lock:
            state, version = self._conversation_state(conversation_id, before=2**62)
            self._use_adapter(version)
            memory = self._recall(text, conversation_id) if with_memory else []
            prompt = render_memory(memory) + render_turn("user", text) + render_turn("assistant", "", close=False)
            import torch

            with torch.inference_mode():
                logits, _ = self._model(torch.tensor([self._tok.encode(prompt)]), state)
            return logits[0, -1].clone()

    # --- recall and memories ---------------------------------------------------------------

    def _recall(self, text: str, conversation_id: int) -> list[str]:
        k = int(self.settings.get("recall.k"))
        if k <= 0:
            return []
        exclude = conversation_id if conversation_id > 0 else None
        # The index holds every message, and replies that repeat the question's words can fill
        # the best hits (a session of "You left your notebook on ..." pushed out "I put my
        # notebook in the biscuit tin"), so look further down the ranking until k are found.
        want = 3 * k
        while True:
            hits = self.store.recall(text, want, exclude_conversation=exclude)
            snippets: list[str] = []
            for hit in hits:
                if hit.kind == "message" and not self._tells_something(hit):
                    continue
                if hit.text.strip() and hit.text not in snippets:
                    snippets.append(hit.text)
                if len(snippets) == k:
                    return snippets
            if len(hits) < want or want >= 100 * k:
                return snippets
            want *= 4

    def _tells_something(self, hit) -> bool:
        """The user's own statements only: a reply may be wrong, and a question or a bare "hi"
        tells nothing (a greeting matched by "Hi! What's my name?" pushed out facts)."""
        if hit.text.rstrip().endswith("?") or len(hit.text.split()) < 3:
            return False
        try:
            return self.store.get_message(hit.id).role == "user"
        except RecordNotFound:
            return False

    def _warm_recall(self) -> None:
        try:
            self.store.build_recall_index()
        except Exception:  # locked or closed meanwhile: the first recall builds it instead
            log.debug("recall index warm-up skipped", exc_info=True)

    def memories(self) -> list[MemoryInfo]:
        return [MemoryInfo(m.id, m.text, _dt(m.created)) for m in self.store.list_memories()]

    def add_memory(self, text: str) -> MemoryInfo:
        if not text or not text.strip():
            raise ValueError("a memory needs some text")
        with self.store.transaction():
            memory = self.store.add_memory(text)
            self.learning.enqueue_memory(memory.id)
        self.learning.after_commit()
        return MemoryInfo(memory.id, memory.text, _dt(memory.created))

    def edit_memory(self, memory_id: int, text: str) -> None:
        """Change a memory: what the old text taught is unlearned, the new text is learned."""
        self.learning.forget(lambda: self.store.unlearn(memory_ids=[memory_id]), "memory edited")
        with self.store.transaction():
            self.store.edit_memory(memory_id, text)
            self.learning.enqueue_memory(memory_id)
        self.learning.after_commit()

    def delete_memory(self, memory_id: int) -> None:
        self.learning.forget(lambda: self.store.delete_memory(memory_id), "memory deleted")

    def memory_count(self) -> int:
        return int(self.store.stats()["memories"])

    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        return [SearchHit(h.kind, h.id, h.conversation_id, h.text, h.score) for h in self.store.recall(query, k)]

    # --- learning --------------------------------------------------------------------------

    def learning_status(self) -> LearningStatus:
        sched = self.learning
        active = sched.active_version()
        events = self.store.list_events(limit=1)
        last = events[-1].detail.get("message", events[-1].kind) if events else ""
        if sched.disabled_reason:
            last = sched.disabled_reason
        if sched.busy == "unlearning":
            state = "unlearning"
        elif sched.paused:
            state = "paused"
        elif sched.busy == "learning":
            state = "learning"
        else:
            accepted = [i.version for i in self.store.list_adapter_versions() if i.metrics.get("accepted", True)]
            state = "rolled back" if accepted and active != accepted[-1] else "idle"
        return LearningStatus(state, active, len(sched.pending()), str(last))

    def pause_learning(self) -> None:
        self.learning.pause()

    def resume_learning(self) -> None:
        self.learning.resume()

    def adapter_versions(self) -> list[AdapterVersionInfo]:
        infos = self.store.list_adapter_versions()
        active = self.learning.active_version()
        reasons = kept_reasons(
            infos,
            active,
            self.learning.pinned_versions(int(self.settings.get("learning.keep_pinned"))),
            int(self.settings.get("learning.keep_recent")),
            int(self.settings.get("learning.keep_days")),
        )
        result = []
        for i in infos:
            m = i.metrics
            result.append(
                AdapterVersionInfo(
                    version=i.version,
                    created_at=_dt(i.created),
                    personal_loss=_num(m.get("personal_loss")),
                    anchor_loss=_num(m.get("anchor_loss")),
                    base_anchor_loss=_num(m.get("base_anchor_loss")),
                    accepted=bool(m.get("accepted", True)),
                    kept_reason=reasons.get(i.version, "to be pruned"),
                    kind=str(m.get("kind", "update")),
                    active=i.version == active,
                )
            )
        return result

    def rollback(self, version: int | None) -> None:
        """Make a kept version the active one (0 or None: the base model)."""
        self.learning.rollback(version)

    def learning_log(self, limit: int = 100) -> list[LearningEvent]:
        return [
            LearningEvent(_dt(e.time), e.kind, str(e.detail.get("message", e.kind)))
            for e in self.store.list_events(limit=limit)
        ]

    def on_learning_event(self, callback: Callable[[LearningEvent], None]) -> None:
        self._listeners.append(callback)

    def _emit(self, kind: str, detail: str, data: dict) -> None:
        event = LearningEvent(datetime.now(), kind, detail)
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # an interface's bug must not stop learning
                log.exception("learning event listener failed")

    def wait_for_learning(self, timeout: float | None = None) -> bool:
        """Wait until every queued learning job is done; False on timeout or if learning is paused."""
        return self.learning.wait_idle(timeout)

    # --- the whole store -------------------------------------------------------------------

    def export(self, path: Path | str, export_passphrase: str, *, plaintext: bool = False, progress: ProgressFn | None = None):
        """Write everything to one encrypted file (or a readable directory with `plaintext`)."""
        if progress:
            progress(0, 1)
        if plaintext:
            result = export_plaintext(self.store, Path(path))
        else:
            result = export_to(self.store, Path(path), export_passphrase)
        if progress:
            progress(1, 1)
        return result

    def import_(self, path: Path | str, export_passphrase: str, *, merge: bool = False, progress: ProgressFn | None = None):
        """Restore an export (replace, or `merge`); learning picks up the imported state."""
        if progress:
            progress(0, 1)
        counts = self.learning.replaced(lambda: import_from(self.store, Path(path), export_passphrase, merge=merge))
        self.settings.forget_cache()
        with self._gen_lock:
            self._gen_version = _UNSET
        self._current = None
        if progress:
            progress(1, 1)
        return counts

    def reset(self) -> list[str]:
        """Destroy everything (keys shredded, rows deleted); the session is closed afterwards."""
        self._closing.set()
        self.learning.stop()
        with self._gen_lock:
            warnings = self.store.reset()
            self._closed = True
        return warnings

    def change_passphrase(self, old: str, new: str) -> None:
        self.store.change_passphrase(old, new)


class _AnyEvent:
    """Looks like one `threading.Event` to the generator: set when any of its events is."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


_UNSET = object()
