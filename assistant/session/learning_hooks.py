"""The session's side of learning: the scheduler it runs, what the interfaces are shown of it,
and the listeners of its events.

The scheduler itself (`assistant.learning`) trains in the background; this part turns its
state, its versions and its log into records, and passes its events on to the interfaces
(`on_learning_event` callbacks run on the learning worker's thread).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assistant.adapter_versions import kept_reasons
from assistant.session.records import AdapterVersionInfo, LearningEvent, LearningStatus, local_time

if TYPE_CHECKING:
    from assistant.learning import LearningScheduler
    from assistant.settings import Settings
    from assistant.store import Store

log = logging.getLogger(__name__)

Listener = Callable[[LearningEvent], None]


class LearningHooks:
    """Owns the learning scheduler of a session and reports on it."""

    def __init__(
        self, store: Store, settings: Settings, resources: Callable[[], Any], generating: threading.Event
    ) -> None:
        from assistant.learning import LearningScheduler  # with torch: not at import

        self.store = store
        self.settings = settings
        self._listeners: list[Listener] = []
        self.scheduler: LearningScheduler = LearningScheduler(
            store, settings, resources, emit=self.emit, generating=generating
        )

    # --- events ---------------------------------------------------------------------------------

    def listen(self, callback: Listener) -> None:
        self._listeners.append(callback)

    def emit(self, kind: str, detail: str, data: dict) -> None:
        """Tell every listener (on the caller's thread); a listener's failure stops nothing."""
        event = LearningEvent(datetime.now(), kind, detail)
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # an interface's bug must not stop learning
                log.exception("learning event listener failed")

    # --- what the interfaces show ---------------------------------------------------------------

    def status(self) -> LearningStatus:
        sched = self.scheduler
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

    def versions(self) -> list[AdapterVersionInfo]:
        infos = self.store.list_adapter_versions()
        active = self.scheduler.active_version()
        reasons = kept_reasons(
            infos,
            active,
            self.scheduler.pinned_versions(int(self.settings.get("learning.keep_pinned"))),
            int(self.settings.get("learning.keep_recent")),
            int(self.settings.get("learning.keep_days")),
        )
        result = []
        for i in infos:
            m = i.metrics
            result.append(
                AdapterVersionInfo(
                    version=i.version,
                    created_at=local_time(i.created),
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

    def log(self, limit: int = 100) -> list[LearningEvent]:
        return [
            LearningEvent(local_time(e.time), e.kind, str(e.detail.get("message", e.kind)))
            for e in self.store.list_events(limit=limit)
        ]


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
