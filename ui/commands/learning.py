"""Show, pause, resume or roll back what the assistant learned.

The assistant learns from each finished exchange in the background (a small adapter on top of
the model); every update is checked against general text and rolled back if it would make the
model worse at ordinary language. Versions are kept (the recent ones and one a day) so you can
go back to any of them: `rollback 0` returns to the model as shipped.

  status        the learning state, the active version, pending work and the kept versions
  pause         stop learning (exchanges made while paused are never learned)
  resume        learn again
  rollback V    make kept version V the active one (new conversations use it)
  log           the learning log (updates, rejections, rollbacks, unlearning)"""

from __future__ import annotations

import argparse
import json

from ui.commands._unlock import UNLOCK_NOTE, add_passphrase_argument

ACTIONS = ("status", "pause", "resume", "rollback", "log")

EXAMPLES = f"""\
examples:
  assistant learning
  assistant learning pause
  assistant learning rollback 12
  assistant learning log --limit 20

{UNLOCK_NOTE}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=ACTIONS, default="status", help="what to do (default: status)")
    parser.add_argument("version", nargs="?", type=int, metavar="VERSION", help="for rollback: the version (0: the base model)")
    parser.add_argument("--limit", type=int, default=30, help="log: how many events (default 30)")
    parser.add_argument("--json", action="store_true", help="status: print JSON")
    add_passphrase_argument(parser)


def _loss(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def run(args: argparse.Namespace) -> int:
    import sys

    from assistant.session import Session
    from assistant.unlock import store_passphrase

    if args.action == "rollback" and args.version is None:
        print("assistant learning rollback: which version? (see `assistant learning`)", file=sys.stderr)
        return 2
    session = Session.open(store_passphrase(args.passphrase_file), learn=False)
    try:
        if args.action == "pause":
            session.pause_learning()
            print("learning paused")
        elif args.action == "resume":
            session.resume_learning()
            print("learning resumed")
        elif args.action == "rollback":
            session.rollback(args.version or None)
            print(f"rolled back to {'the base model' if not args.version else f'version {args.version}'}")
        elif args.action == "log":
            for event in session.learning_log(limit=args.limit):
                print(f"{event.at:%Y-%m-%d %H:%M:%S}  {event.kind:<10}  {event.detail}")
        else:
            status = session.learning_status()
            versions = session.adapter_versions()
            if args.json:
                print(json.dumps({
                    "state": status.state, "version": status.version, "pending": status.pending,
                    "last_event": status.last_event,
                    "versions": [{"version": v.version, "created": v.created_at.isoformat(timespec="seconds"),
                                  "personal_loss": v.personal_loss, "anchor_loss": v.anchor_loss,
                                  "base_anchor_loss": v.base_anchor_loss, "accepted": v.accepted,
                                  "kept": v.kept_reason, "active": v.active} for v in versions],
                }, indent=2))
                return 0
            active = "the base model" if status.version is None else f"version {status.version}"
            print(f"learning: {status.state} · using {active} · {status.pending} pending")
            if status.last_event:
                print(f"last: {status.last_event}")
            if versions:
                print(f"\n{'version':>7}  {'created':<16}  {'personal':>8}  {'anchor':>7}  {'drift':>6}  kept")
            for v in versions:
                drift = "-"
                if v.anchor_loss is not None and v.base_anchor_loss:
                    drift = f"{100 * (v.anchor_loss / v.base_anchor_loss - 1):+.1f}%"
                mark = "*" if v.active else " "
                kept = v.kept_reason if v.accepted else f"rejected by the gate ({v.kept_reason})"
                print(f"{mark}{v.version:>6}  {v.created_at:%Y-%m-%d %H:%M}  {_loss(v.personal_loss):>8}  "
                      f"{_loss(v.anchor_loss):>7}  {drift:>6}  {kept}")
        return 0
    finally:
        session.close()
