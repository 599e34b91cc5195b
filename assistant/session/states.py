"""State keeping: each conversation's recurrent state, saved, resumed, caught up or re-read.

After every turn a stored conversation's state is saved (encrypted) with the id of the last
message it read, under the tag `<config hash>:<version>`: the model and the adapter version
that made it. The tag is the one record of that version (the state's own header keeps only the
last message read). A saved state is continued while it fits the model and its version stays in
the active lineage; otherwise the history is re-read once with the active adapter, logged.

The versions saved states were made with are pinned (`AdapterVersions.pin`, the owner of the
pins), so pruning keeps them while those conversations are recent.

Every method that reads runs the model: call it with the generation lock held.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from assistant.session.reply import ReplyState
from assistant.session.runtime import ModelRuntime

if TYPE_CHECKING:
    from assistant.learning import LearningScheduler
    from assistant.store import Store

log = logging.getLogger(__name__)

Emit = Callable[[str, str, dict], None]


def parse_tag(tag: str) -> tuple[str, int | None]:
    """(config hash, adapter version) from a saved state's tag (version None: the base model)."""
    config_hash, _, version = tag.partition(":")
    return config_hash, (int(version) or None if version.isdigit() else None)


class StateKeeper:
    """Saves, resumes and re-reads conversations' states; keeps their versions pinned."""

    def __init__(self, store: Store, runtime: ModelRuntime, learning: LearningScheduler, emit: Emit) -> None:
        self.store = store
        self.runtime = runtime
        self.learning = learning
        self._emit = emit

    # --- saving ---------------------------------------------------------------------------------

    def tag(self, version: int | None) -> str:
        """What a state made now with `version` is saved under."""
        return f"{self.runtime.config_hash}:{version or 0}"

    def to_bytes(self, state: Any, last: int) -> bytes:
        """A state as saved: its tensors and the id of the last message it read."""
        from core.state import state_to_bytes

        return state_to_bytes(state, self.runtime.config_hash, meta={"last": last})

    def pin(self, conversation_id: int, version: int | None) -> None:
        """Keep `version` while the conversation's state made with it is recent (in the save's transaction)."""
        self.learning.versions.pin(conversation_id, version)

    def unpin(self, conversation_id: int) -> None:
        self.learning.versions.unpin(conversation_id)

    # --- resuming -------------------------------------------------------------------------------

    def resume_saved(
        self, conversation_id: int, history: Sequence[Any], reply: ReplyState | None = None
    ) -> tuple[Any, int | None]:
        """A stored conversation's state to answer from, and the adapter version it belongs to.

        `history`: its messages before the turn. The saved state if it fits (catching up on
        messages written after it), else the history re-read with the active adapter, logged
        (and `reply.reread` set).
        """
        from core.errors import StateMismatch
        from core.model import zero_state
        from core.state import state_from_bytes

        from assistant.store import CorruptRecord

        runtime = self.runtime
        reason = "it has no saved state"
        try:
            saved = self.store.load_state(conversation_id)
        except CorruptRecord as exc:  # a damaged state costs only itself: the history is re-read
            saved, reason = None, f"its saved state is damaged ({exc})"
        if saved is not None:
            config_hash, version = parse_tag(saved.tag)
            if config_hash != runtime.config_hash:
                reason = "the model changed since its state was saved"
            elif not self.learning.usable(version):
                reason = f"adapter version {version} that made its state is no longer in use"
            else:
                try:
                    state, header = state_from_bytes(saved.data, zero_state(runtime.model.cfg), runtime.config_hash)
                except StateMismatch as exc:
                    reason = f"its saved state does not fit ({exc})"
                else:
                    # Message ids are random (memory.chats): the history's order, not the ids, says what came after.
                    last = int(header["meta"].get("last", 0))
                    at = next((i for i, m in enumerate(history) if m.id == last), None)
                    if at is None:
                        reason = "the message its state ended with is not in the history"
                    else:
                        missing = list(history[at + 1 :])
                        if missing:
                            runtime.use_adapter(version)
                            state = runtime.read(runtime.history_ids(missing), state)
                            self.log(conversation_id, f"caught up on {len(missing)} messages written after its state")
                        return state, version
        if not history:
            return None, self.learning.active_version()
        version = self.learning.active_version()
        runtime.use_adapter(version)
        ids = runtime.history_ids(history)
        t0 = time.perf_counter()
        state = runtime.read(ids, None)
        if reply is not None:
            reply.reread = True
        self.log(
            conversation_id,
            f"re-read {len(history)} messages ({len(ids)} tokens, {time.perf_counter() - t0:.2f} s) because {reason}",
        )
        return state, version

    def resume_held(
        self, state: Any, version: int | None, unread: Sequence[Any], history: Sequence[Any]
    ) -> tuple[Any, int | None]:
        """A state held in memory (a temporary chat's), and the adapter version it belongs to.

        Continued while its version is usable (catching up on `unread`, the messages after the
        last one it read), else `history` re-read with the active adapter. Not logged: nothing
        of a temporary chat is stored.
        """
        runtime = self.runtime
        if state is not None and self.learning.usable(version):
            if unread:
                runtime.use_adapter(version)
                state = runtime.read(runtime.history_ids(unread), state)
            return state, version
        version = self.learning.active_version()
        runtime.use_adapter(version)
        return (runtime.read(runtime.history_ids(history), None) if history else None), version

    def log(self, conversation_id: int, what: str) -> None:
        """Record a state event in the learning log (and tell the listeners)."""
        detail = f"conversation {conversation_id}: {what}"
        try:
            self.store.log_event("state", {"message": detail, "conversation": conversation_id})
        except Exception:
            log.exception("could not log a state event")
        self._emit("state", detail, {"conversation": conversation_id})
