"""Print a conversation, or list the conversations.

Without CHAT, lists every conversation (id, last change, messages, title). With CHAT (a title or
an id), prints its messages in order; a reply that was interrupted is marked [cut]."""

from __future__ import annotations

import argparse
import json

from ui.commands._unlock import UNLOCK_NOTE, add_passphrase_argument, report_damaged

EXAMPLES = f"""\
examples:
  assistant history
  assistant history travel
  assistant history 12 --json

{UNLOCK_NOTE}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("chat", nargs="?", metavar="CHAT", help="the conversation's title or id")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_passphrase_argument(parser)


def run(args: argparse.Namespace) -> int:
    from assistant.session import Session
    from assistant.unlock import store_passphrase

    session = Session.open(store_passphrase(args.passphrase_file), learn=False)
    try:
        return _show(session, args)
    finally:
        report_damaged(session.damaged_records())
        session.close()


def _show(session, args: argparse.Namespace) -> int:
    import sys

    if args.chat is None:
        convs = session.conversations()
        if args.json:
            print(json.dumps([
                {"id": c.id, "title": c.title, "updated": c.updated_at.isoformat(timespec="seconds"),
                 "messages": c.message_count} for c in convs
            ], indent=2))
        elif not convs:
            print("no conversations yet")
        for c in convs if not args.json else []:
            print(f"{c.id:>5}  {c.updated_at:%Y-%m-%d %H:%M}  {c.message_count:>4} msgs  {c.title or '(untitled)'}")
        return 0
    conv = session.find_conversation(args.chat)
    if conv is None:
        print(f"assistant history: no conversation called {args.chat!r} (see `assistant history`)", file=sys.stderr)
        return 1
    messages = session.messages(conv.id)
    if args.json:
        print(json.dumps({
            "id": conv.id, "title": conv.title,
            "messages": [{"id": m.id, "role": m.role, "text": m.text, "cut": m.cut,
                          "created": m.created_at.isoformat(timespec="seconds")} for m in messages],
        }, indent=2, ensure_ascii=False))
        return 0
    print(f"# {conv.title or '(untitled)'}  (conversation {conv.id})\n")
    for m in messages:
        who = "you" if m.role == "user" else "assistant"
        print(f"{who} · {m.created_at:%Y-%m-%d %H:%M}{'  [cut]' if m.cut else ''}")
        print(m.text if m.text else "(empty)")
        print()
    return 0
