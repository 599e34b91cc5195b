"""List, add, edit, forget or search the memories: what the assistant keeps about you.

The assistant keeps memories on its own from what you tell it (where you live, your people,
your plans); a newer statement about the same thing supersedes the older one, which stays,
marked superseded. Here you can see them all and change them.

  list          every memory: id, status, times used, where and when it was said, its text
  add [TEXT]    keep a new memory
  edit ID [TEXT]  change a memory's text (what the old text taught is unlearned)
  forget ID...  forget memories everywhere: the store, the recall index, what was learned
                from them and every conversation state that read them (asks first; --yes)
  search [QUERY]  the memories that match QUERY best

TEXT and QUERY are read from standard input when left out or "-" (at a terminal: type, then
Ctrl+D). Prefer that: words given on the command line can be read by other processes (`ps`,
/proc/PID/cmdline) and stay in your shell's history. Every action takes --json."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ui.commands._unlock import UNLOCK_NOTE, add_passphrase_argument, report_damaged

EXAMPLES = f"""\
examples:
  assistant memory list
  assistant memory add                 type the memory, then Ctrl+D (nothing in argv)
  echo "My train leaves at 7:40." | assistant memory add
  assistant memory edit 12 < new.txt
  assistant memory forget 12 --yes
  assistant memory search --json < query.txt

{UNLOCK_NOTE}"""

TEXT_HELP = 'left out or "-": read from standard input (TEXT on the command line is visible to other processes)'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", title="actions", required=True)

    def action(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(
            name, help=help_text, description=description, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        sub.add_argument("--json", action="store_true", help="print JSON instead of text")
        add_passphrase_argument(sub)
        return sub

    action("list", "list every memory", "List every memory: id, status, times used, where and when it was said, its text.")
    add = action("add", "keep a new memory", "Keep a new memory, read from standard input unless TEXT is given.")
    add.add_argument("text", nargs="*", metavar="TEXT", help=TEXT_HELP)
    edit = action("edit", "change a memory's text", "Change a memory's text; what the old text taught is unlearned.")
    edit.add_argument("id", type=int, metavar="ID", help="the memory's id (see `assistant memory list`)")
    edit.add_argument("text", nargs="*", metavar="TEXT", help=TEXT_HELP)
    forget = action(
        "forget", "forget memories everywhere",
        "Forget memories everywhere: the store, the recall index, what was learned from them and every "
        "conversation state that read them. Asks first unless --yes.",
    )  # fmt: skip
    forget.add_argument("ids", type=int, nargs="+", metavar="ID", help="the memories' ids (see `assistant memory list`)")
    forget.add_argument("--yes", action="store_true", help="do not ask (needed where there is no terminal to ask on)")
    search = action("search", "find the memories that match a query", "The memories that match QUERY best, best first.")
    search.add_argument("query", nargs="*", metavar="QUERY", help=TEXT_HELP)
    search.add_argument("--limit", type=int, default=10, metavar="N", help="how many at most (default 10)")


def memory_json(memory: Any, titles: dict[int, str]) -> dict[str, Any]:
    """One memory as the --json output gives it."""

    def stamp(value: Any) -> str | None:
        return None if value is None else value.isoformat(timespec="seconds")

    return {
        "id": memory.id,
        "text": memory.text,
        "status": memory.status,
        "times_used": memory.times_used,
        "slot": memory.slot,
        "conversation_id": memory.conversation_id,
        "conversation": titles.get(memory.conversation_id) if memory.conversation_id is not None else None,
        "said_at": stamp(memory.said_at),
        "created": stamp(memory.created_at),
        "superseded_by": memory.superseded_by,
        "superseded_at": stamp(memory.superseded_at),
    }


def memory_line(memory: Any, titles: dict[int, str]) -> str:
    """One memory as `list` prints it."""
    when = memory.said_at or memory.created_at
    where = "typed in" if memory.conversation_id is None else f"said in {titles.get(memory.conversation_id, 'a deleted conversation')!r}"
    status = memory.status if memory.superseded_by is None else f"superseded by {memory.superseded_by}"
    return f"{memory.id:>5}  {when:%Y-%m-%d}  used {memory.times_used:>3}x  {status:<10}  {memory.text}  ({where})"


def _text(words: list[str], what: str) -> str:
    from ui.commands.ask import read_message

    if (not words or words == ["-"]) and sys.stdin is not None and sys.stdin.isatty():
        print(f"{what} (end with Ctrl+D on a line of its own):", file=sys.stderr, flush=True)
        return sys.stdin.read().strip()
    return read_message(words).strip()


def run(args: argparse.Namespace) -> int:
    from assistant.session import Session
    from assistant.unlock import store_passphrase

    text = ""
    if args.action in ("add", "edit", "search"):
        words = args.query if args.action == "search" else args.text
        text = _text(words, "query" if args.action == "search" else "memory")
        if not text:
            print(f"assistant memory {args.action}: no text (give it on standard input)", file=sys.stderr)
            return 2
    session = Session.open(store_passphrase(args.passphrase_file), learn=False)
    try:
        return _act(session, args, text)
    finally:
        report_damaged(session.damaged_records())
        session.close()


def _act(session: Any, args: argparse.Namespace, text: str) -> int:
    titles = {c.id: c.title for c in session.conversations()}
    if args.action == "list":
        memories = session.memories()
        if args.json:
            print(json.dumps([memory_json(m, titles) for m in memories], indent=2, ensure_ascii=False))
        elif not memories:
            print("no memories yet")
        for memory in memories if not args.json else []:
            print(memory_line(memory, titles))
        return 0
    if args.action == "add":
        memory = session.add_memory(text)
        print(json.dumps(memory_json(memory, titles), indent=2, ensure_ascii=False) if args.json else f"kept memory {memory.id}")
        return 0
    if args.action == "edit":
        session.edit_memory(args.id, text)
        memory = next(m for m in session.memories() if m.id == args.id)
        print(json.dumps(memory_json(memory, titles), indent=2, ensure_ascii=False) if args.json else f"changed memory {args.id}")
        return 0
    if args.action == "search":
        found = session.search_memories(text, args.limit)
        if args.json:
            print(json.dumps([{**memory_json(m, titles), "score": round(score, 4)} for m, score in found], indent=2, ensure_ascii=False))
        elif not found:
            print("no memory matches")
        for memory, _score in found if not args.json else []:
            print(memory_line(memory, titles))
        return 0
    return _forget(session, args)


def _forget(session: Any, args: argparse.Namespace) -> int:
    from ui.commands._confirm import typed_confirmation

    known = {m.id: m for m in session.memories()}
    missing = [i for i in args.ids if i not in known]
    if missing:
        print(f"assistant memory forget: no memory {', '.join(map(str, missing))} (see `assistant memory list`)", file=sys.stderr)
        return 1
    if not args.yes:
        for ident in args.ids:
            print(f"{ident:>5}  {known[ident].text}")
        refused = typed_confirmation(
            "assistant memory forget: give --yes to forget without a terminal to confirm at",
            f'forget {"this memory" if len(args.ids) == 1 else f"these {len(args.ids)} memories"} everywhere? type "forget": ',
            "forget",
            "nothing forgotten",
        )
        if refused is not None:
            return refused
    for ident in dict.fromkeys(args.ids):
        session.delete_memory(ident)
    if args.json:
        print(json.dumps({"forgotten": list(dict.fromkeys(args.ids))}))
    else:
        count = len(set(args.ids))
        print(f"forgot {count} memor{'y' if count == 1 else 'ies'}; anything learned from them is unlearned "
              "(a retrain, if one is needed, runs when the assistant next learns)")
    return 0
