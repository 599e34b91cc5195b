"""The learning scheduler: a background worker that runs the learner on the user's exchanges.

Work is a queue of jobs kept in the store (setting "_learning.queue", encrypted), so it survives
a restart or a crash; a job leaves the queue in the same transaction that saves its result.

    {"id": 7, "kind": "exchange", "messages": [41, 42]}     learn from one finished exchange
    {"id": 8, "kind": "memory", "memory": 3}                learn from a memory the user added
    {"id": 9, "kind": "retrain", "reason": "..."}           unlearning: retrain from the buffer

The worker:
- trains on its own copy of the model (`core.learner.Learner`), never on the one that generates
  replies; an accepted adapter is saved as a numbered version and handed over as bytes, and the
  session loads it between replies. So generation and learning never touch the same tensors.
- runs with one torch thread and, before every optimiser step, waits while a reply is being
  generated: learning never delays a reply. `stop()` interrupts at the next step; the
  interrupted job stays queued and runs again at the next start.
- keeps versions: every update is recorded (rejected ones without weights, so the curve shows
  them); kept are the recent N accepted ones, the last one of each recent day, the active one and
  those that conversations' saved states were made with (see `Session` on pinning).

The active version (the one new conversations use) and its lineage (the versions it descends
from, which saved states may keep using) are settings too, changed in the same transactions;
`assistant.adapter_versions` reads and writes them, and holds the keeping policy.

Exact unlearning: a deletion goes through `forget()`, which runs the store's deletion (removing
replay items and the adapter versions that saw the deleted text) under the commit lock, bumps a
deletion counter so that work in flight is not saved, and queues a retrain. The retrain trains
a fresh adapter from the remaining buffer with the learning seed (`Learner.retrain`, a pure
function of buffer and seed), then deletes every older version: afterwards each kept version is
reproducible from what remains.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant.adapter_versions import PINS, AdapterVersions, kept_reasons
from core.learner import Learner, LearnerSettings
from core.template import render_memory, render_turn

__all__ = ["PINS", "Job", "LearningScheduler", "Stopped", "exchange_text", "kept_reasons", "memory_text"]

log = logging.getLogger(__name__)

QUEUE = "_learning.queue"
SEED = "_learning.seed"
SEEN = "_learning.exchanges_seen"
NEXT_JOB = "_learning.next_job"

Emit = Callable[[str, str, dict], None]
"""(kind, human-readable detail, data): every event the worker reports."""


class Stopped(Exception):
    """The worker was asked to stop (or pause) between two steps; the job stays queued."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    data: dict

    @classmethod
    def from_dict(cls, obj: dict) -> Job:
        return cls(int(obj["id"]), str(obj["kind"]), obj)


def exchange_text(user: str, reply: str) -> str:
    """How an exchange is kept in the replay buffer: the two turns, as the model reads them."""
    return render_turn("user", user) + render_turn("assistant", reply)


def memory_text(text: str) -> str:
    """How a memory is learned: as the model sees it in a memory block."""
    return render_memory([text])


class LearningScheduler:
    """Owns the learning queue, the learner, the active adapter version and version keeping."""

    def __init__(
        self,
        store: Any,
        settings: Any,
        resources: Callable[[], tuple[Any, Any, list[str] | None]],
        *,
        emit: Emit,
        generating: threading.Event,
    ) -> None:
        """`resources()` gives (base model, tokenizer, anchor documents or None); it is called
        only when learning runs, so a session that only reads history never loads the model."""
        self.store = store
        self.settings = settings
        self._resources = resources
        self.disabled_reason: str | None = None  # set when the model cannot learn (no anchor set)
        self._emit = emit
        self._generating = generating
        self._cond = threading.Condition()
        self._commit_lock = threading.RLock()  # deletions vs saving results
        self._thread: threading.Thread | None = None
        self._stop = False
        self._interrupt = False  # pause asked: leave the running job at the next step
        self._busy: str | None = None  # "learning" / "unlearning" while a job runs
        self._epoch = 0  # bumped by every deletion
        self._learner: Learner | None = None
        self._learner_key: tuple | None = None
        self.versions = AdapterVersions(store)
        self.step_hook: Callable[[], None] | None = None  # tests slow the worker down with this
        self._paused = bool(settings.get("learning.paused"))
        if store.get_setting(SEED) is None:
            store.set_setting(SEED, random.SystemRandom().randrange(2**31))

    # === lifecycle ===========================================================================

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="assistant-learning", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the worker at its next safe point (between steps) and wait for it."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # === state seen from outside =============================================================

    @property
    def seed(self) -> int:
        return int(self.store.get_setting(SEED))

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def busy(self) -> str | None:
        return self._busy

    def pending(self) -> list[Job]:
        return [Job.from_dict(obj) for obj in self.store.get_setting(QUEUE, [])]

    def active_version(self) -> int | None:
        """The adapter version new conversations use (None: the base model, nothing learned)."""
        return self.versions.active()

    def lineage(self) -> list[int]:
        return self.versions.lineage()

    def usable(self, version: int | None) -> bool:
        """Whether a state made with `version` may go on with it (see `AdapterVersions.usable`)."""
        return self.versions.usable(version)

    def learner_settings(self) -> LearnerSettings | None:
        return self.settings.learner()

    def enabled(self) -> bool:
        """Whether exchanges are learned from now (not paused, not "frozen", the model can learn)."""
        return not self._paused and self.disabled_reason is None and self.learner_settings() is not None

    def adapter_bytes(self, version: int) -> bytes:
        """The weights of a kept version (cached: the session swaps adapters between replies)."""
        return self.versions.weights(version)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty and nothing runs; False on timeout or when paused with work."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._busy is None and not self.pending():
                    return True
                if self._paused or self.disabled_reason or self._thread is None:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.1 if remaining is None else min(0.1, remaining))

    # === queueing ============================================================================

    def _push(self, kind: str, **data: Any) -> Job:
        """Append a job (call inside the transaction that makes its reason durable)."""
        with self.store.transaction():
            ident = int(self.store.get_setting(NEXT_JOB, 1))
            job = {"id": ident, "kind": kind, **data}
            self.store.set_setting(QUEUE, [*self.store.get_setting(QUEUE, []), job])
            self.store.set_setting(NEXT_JOB, ident + 1)
        return Job.from_dict(job)

    def _drop(self, job_id: int) -> None:
        queue = [j for j in self.store.get_setting(QUEUE, []) if int(j["id"]) != job_id]
        self.store.set_setting(QUEUE, queue)

    def enqueue_exchange(self, user_id: int, reply_id: int) -> Job | None:
        """Queue learning from a finished exchange (None if learning is off or paused)."""
        if not self.enabled():
            return None
        return self._push("exchange", messages=[int(user_id), int(reply_id)])

    def enqueue_memory(self, memory_id: int) -> Job | None:
        if not self.enabled():
            return None
        return self._push("memory", memory=int(memory_id))

    def after_commit(self) -> None:
        """Wake the worker once the transaction that queued a job has committed."""
        self.notify()

    # === deletions (exact unlearning) ========================================================

    def forget(self, delete: Callable[[], Any], what: str) -> Any:
        """Run a store deletion; if anything learned came from it, queue a retrain.

        Returns the store's `Deletion`.
        """
        with self._commit_lock:
            deletion = delete()
            self._epoch += 1
            learned = bool(deletion.adapter_versions or deletion.replay_items)
            if learned:
                lineage = [v for v in self.lineage() if v not in set(deletion.adapter_versions)]
                with self.store.transaction():
                    self.versions.set_lineage(lineage)
                    active = self.active_version()
                    if active is not None and active in deletion.adapter_versions:
                        # until the retrain is done, use the newest version that did not see it
                        self.versions.set_active(lineage[-1] if lineage else None)
                    if not any(j.kind == "retrain" for j in self.pending()):
                        self._push("retrain", reason=what)
                self.versions.forget_cached(deletion.adapter_versions)
                self._learner_key = None  # its optimiser moments may hold what was deleted
                self._log("unlearning", f"{what}: {len(deletion.adapter_versions)} adapter versions and "
                          f"{len(deletion.replay_items)} replay items removed; retraining from the buffer",
                          {"adapter_versions": list(deletion.adapter_versions),
                           "replay_items": list(deletion.replay_items)})
        self.notify()
        return deletion

    def replaced(self, change: Callable[[], Any]) -> Any:
        """Run a wholesale change of the store (an import) with results in flight discarded."""
        with self._commit_lock:
            result = change()
            self._epoch += 1
            self.versions.forget_cached()
            self._learner = None  # the seed and settings may have changed with the data
            self._learner_key = None
            self.settings.forget_cache()
            self._paused = bool(self.settings.get("learning.paused"))
        self.notify()
        return result

    # === pause, resume, rollback =============================================================

    def pause(self) -> None:
        self.settings.set("learning.paused", True)
        with self._cond:
            self._paused = True
            self._interrupt = True
            self._cond.notify_all()
        self._log("paused", "learning paused", {})

    def resume(self) -> None:
        self.settings.set("learning.paused", False)
        with self._cond:
            self._paused = False
            self._interrupt = False
            self._cond.notify_all()
        self._log("resumed", "learning resumed", {})

    def rollback(self, version: int | None) -> None:
        """Make `version` (None or 0: the base model) the active one. Nothing is deleted."""
        with self._commit_lock:
            if version in (None, 0):
                target, lineage = None, []
            else:
                info = self.store.list_adapter_versions(only=version)[0]  # RecordNotFound if not kept
                if not info.metrics.get("accepted", True):
                    raise ValueError(f"version {version} was rejected by the gate; it cannot be used")
                old = self.lineage()
                lineage = old[: old.index(version) + 1] if version in old else [version]
                target = version
            with self.store.transaction():
                self.versions.set_active(target)
                self.versions.set_lineage(lineage)
            self._epoch += 1  # an update in flight was trained from the old version: redo it
            self._learner_key = None
            self._log("rollback", f"rolled back to {'the base model' if target is None else f'version {target}'}",
                      {"version": target})

    # === the worker ==========================================================================

    def _run(self) -> None:
        import torch

        settings = self.learner_settings()
        torch.set_num_threads(settings.threads if settings else 1)
        while True:
            with self._cond:
                while not self._stop and (self._paused or self.disabled_reason or not self.pending()):
                    self._busy = None
                    self._cond.notify_all()
                    self._cond.wait(1.0)
                if self._stop:
                    self._busy = None
                    self._cond.notify_all()
                    return
                job = self.pending()[0]
                self._busy = "unlearning" if job.kind == "retrain" else "learning"
                self._interrupt = False
            try:
                self._process(job)
            except Stopped:
                self._learner_key = None  # the learner may be mid-way: reload before the next job
                continue
            except Exception as exc:  # a bad job must not stop learning for good: log and drop it
                log.exception("learning job %s failed", job)
                self._learner_key = None
                self._log("error", f"a learning job failed and was dropped: {exc}", {"job": job.data})
                with self.store.transaction():
                    self._drop(job.id)
            finally:
                with self._cond:
                    self._busy = None
                    self._cond.notify_all()

    def _yield(self) -> None:
        """Between steps: stop if asked, and let a reply being generated have the CPU."""
        if self.step_hook is not None:
            self.step_hook()
        while self._generating.is_set() and not (self._stop or self._interrupt):
            time.sleep(0.02)
        if self._stop or self._interrupt:
            raise Stopped()
        time.sleep(0)

    def _ready_learner(self) -> Learner | None:
        """The learner, holding the active version's adapter (reloaded when either changed)."""
        settings = self.learner_settings()
        if settings is None:
            return None
        active = self.active_version()
        key = _key(settings, active)
        if self._learner is None or self._learner.settings != settings:
            self._learner = self._new_learner(settings)
            self._learner_key = None
        if self._learner_key != key:
            self._learner.load(None if active is None else self.adapter_bytes(active), active)
            self._learner_key = key
        return self._learner

    def _new_learner(self, settings: LearnerSettings) -> Learner:
        model, tok, anchor = self._resources()
        if not anchor:
            from assistant.errors import LearningUnavailable

            raise LearningUnavailable(self.disabled_reason or "the model has no anchor set")
        return Learner(model, tok, anchor, settings, seed=self.seed)

    def _process(self, job: Job) -> None:
        if job.kind == "retrain":
            self._retrain(job)
        elif job.kind in ("exchange", "memory"):
            self._update(job)
        else:
            raise ValueError(f"unknown learning job kind {job.kind!r}")

    def _source(self, job: Job) -> tuple[str, list[int], list[int]] | None:
        """(text, message ids, memory ids) a job learns from, or None if it was deleted meanwhile."""
        from memory.errors import RecordNotFound

        try:
            if job.kind == "memory":
                memory = self.store.get_memory(int(job.data["memory"]))
                return memory_text(memory.text), [], [memory.id]
            user_id, reply_id = (int(i) for i in job.data["messages"])
            user, reply = self.store.get_message(user_id), self.store.get_message(reply_id)
            return exchange_text(user.text, reply.text), [user_id, reply_id], []
        except RecordNotFound:
            return None

    def _add_to_buffer(self, text: str, message_ids: list[int], memory_ids: list[int], rng: random.Random) -> int | None:
        """Reservoir sampling (Vitter's algorithm R): each exchange seen so far is in the buffer
        with the same probability, capacity / seen. Returns the new item's id, or None."""
        capacity = max(1, int(self.settings.get("learning.replay_capacity")))
        seen = int(self.store.get_setting(SEEN, 0)) + 1
        self.store.set_setting(SEEN, seen)
        ids = self.store.replay_ids()
        while len(ids) > capacity:  # the capacity was lowered: drop in id order (random ids: a uniform sample stays one)
            self.store.delete_replay_item(ids.pop(0))
        if len(ids) == capacity:
            slot = rng.randrange(seen)
            if slot >= capacity:
                return None
            self.store.delete_replay_item(ids[slot])
        return self.store.add_replay_item(text, message_ids=message_ids, memory_ids=memory_ids).id

    def _update(self, job: Job) -> None:
        epoch = self._epoch
        source = self._source(job)
        rng = random.Random(f"{self.seed}-job-{job.id}")
        if source is None:
            with self.store.transaction():
                self._drop(job.id)
            self._log("skipped", f"job {job.id}: its {job.kind} was deleted before it was learned", {"job": job.id})
            return
        text, message_ids, memory_ids = source
        retrain_queued = any(j.kind == "retrain" for j in self.pending())
        learner = None if retrain_queued else self._ready_learner()
        if learner is None:
            # A retrain will learn the whole buffer anyway (or learning is frozen): just keep it.
            with self._commit_lock:
                if epoch != self._epoch:
                    return
                with self.store.transaction():
                    if retrain_queued:
                        self._add_to_buffer(text, message_ids, memory_ids, rng)
                    self._drop(job.id)
            return
        settings = learner.settings
        ids = self.store.replay_ids()
        picked = sorted(rng.sample(ids, min(len(ids), settings.replay_k * settings.steps)))
        replay = self.store.list_replay_items(picked) if picked else []
        parent = self.active_version()
        result = learner.update([text], [r.text for r in replay], rng=rng, before_step=self._yield)
        metrics = {**result.metrics(), "kind": job.kind, "job": job.id}
        data = learner.adapter_bytes({"parent": parent}) if result.accepted else b""
        with self._commit_lock:
            if epoch != self._epoch:
                self._learner_key = None  # something was deleted meanwhile: do the job again
                return
            with self.store.transaction():
                self._add_to_buffer(text, message_ids, memory_ids, rng)
                info = self.store.add_adapter_version(
                    data,
                    metrics,
                    parent=parent,
                    seen_message_ids=message_ids,
                    seen_memory_ids=memory_ids,
                    seen_replay_ids=[r.id for r in replay],
                )
                if result.accepted:
                    self.versions.set_active(info.version)
                    self.versions.set_lineage([*self.lineage(), info.version])
                self._drop(job.id)
            if result.accepted:
                self.versions.remember(info.version, data)
                learner.version = info.version
                self._learner_key = _key(settings, info.version)
        if result.accepted:
            self._log("update", f"version {info.version}: personal loss {result.personal_loss:.3f}, anchor "
                      f"{result.anchor_loss:.4f} (base {result.base_anchor_loss:.4f}), {result.seconds * 1000:.0f} ms",
                      {"version": info.version, **metrics})
        else:
            self._log("rejected", f"update rolled back by the gate: anchor loss {result.anchor_loss:.4f} > "
                      f"{result.base_anchor_loss * (1 + settings.tolerance):.4f} (base {result.base_anchor_loss:.4f} "
                      f"+ {settings.tolerance:.0%})", {"version": info.version, **metrics})
        self._prune()

    def _retrain(self, job: Job) -> None:
        epoch = self._epoch
        settings = self.learner_settings()
        if settings is None:
            settings = LearnerSettings()  # unlearning must happen even when learning is frozen
        if self._learner is None or self._learner.settings != settings:
            self._learner = self._new_learner(settings)
        learner = self._learner
        self._learner_key = None
        items = self.store.list_replay_items()
        last_report = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - last_report[0] > 0.5:
                last_report[0] = now
                self._emit("progress", f"unlearning: retraining {done}/{total}", {"done": done, "total": total})

        self._emit("progress", f"unlearning: retraining from {len(items)} buffer items", {"done": 0, "total": len(items)})
        result = learner.retrain([i.text for i in items], self.seed, progress=progress, before_step=self._yield)
        metrics = {
            "accepted": True,
            "kind": "retrain",
            "personal_loss": result.personal_loss,
            "anchor_loss": result.anchor_loss,
            "base_anchor_loss": result.base_anchor_loss,
            "steps": result.steps,
            "rejected_steps": len(result.rejected),
            "seconds": result.seconds,
            "job": job.id,
        }
        data = learner.adapter_bytes({"retrain": True})
        with self._commit_lock:
            if epoch != self._epoch:
                return  # another deletion came in: the queued retrain runs again from the new buffer
            with self.store.transaction():
                info = self.store.add_adapter_version(data, metrics, seen_replay_ids=[i.id for i in items])
                for old in self.store.list_adapter_versions():
                    if old.version != info.version:
                        self.store.delete_adapter_version(old.version)
                self.versions.set_active(info.version)
                self.versions.set_lineage([info.version])
                self._drop(job.id)
            self.versions.forget_cached()
            self.versions.remember(info.version, data)
            learner.version = info.version
            self._learner_key = _key(settings, info.version)
        self._log("retrained", f"unlearning done: version {info.version} retrained from {len(items)} buffer items "
                  f"in {result.seconds:.1f} s; older versions deleted", {"version": info.version, **metrics})

    # === keeping versions ====================================================================

    def _prune(self) -> None:
        """Keep the recent N accepted versions, the last of each recent day, the active one and
        those pinned by recent conversations' states; delete the rest (a pruning, not an unlearning)."""
        keep_recent = int(self.settings.get("learning.keep_recent"))
        keep_days = int(self.settings.get("learning.keep_days"))
        keep_pinned = int(self.settings.get("learning.keep_pinned"))
        with self._commit_lock:
            self.versions.prune(keep_recent, keep_days, keep_pinned)

    def pinned_versions(self, limit: int) -> set[int]:
        """Versions the `limit` most recently saved conversation states were made with."""
        return self.versions.pinned(limit)

    # === events ==============================================================================

    def _log(self, kind: str, detail: str, data: dict) -> None:
        try:
            self.store.log_event(kind, {"message": detail, **data})
        except Exception:  # the store may be closing; the event still reaches listeners
            log.exception("could not log learning event %s", kind)
        self._emit(kind, detail, data)


def _key(settings: LearnerSettings, version: int | None) -> tuple:
    """What the learner's adapter must match: the settings it trains with and the version it holds."""
    return tuple(sorted(settings.to_dict().items())), version

