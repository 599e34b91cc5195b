"""Check the whole store, list what is damaged, and (with --repair) drop it.

Checked: SQLite's own check of every page; the store's manifest (a keyed record of every table's
rows and a write counter, kept in the database and in the key file), which notices a database
rolled back to an older copy, rows deleted or changed outside the assistant, and an edited
manifest; and every record's encryption, which notices a damaged or moved value. The exit status
is 1 if anything is wrong.

With --repair, after confirmation (or --yes): damaged records are dropped (a damaged message,
memory, state, setting, adapter version or log event is deleted as if you had deleted it; a
conversation whose title is damaged keeps its messages under a stand-in title), and the store as
it is then is recorded as sound, so it opens again. Take an export first if you may want to go
back: a repair cannot be undone. A store that is missing or empty cannot be repaired: restore a
backup or start over with `assistant reset`."""

from __future__ import annotations

import argparse
import sys

from ui.commands._confirm import typed_confirmation
from ui.commands._unlock import UNLOCK_NOTE, add_passphrase_argument

CONFIRM_WORD = "repair"

EXAMPLES = f"""\
examples:
  assistant verify
  assistant verify --repair          asks you to type "{CONFIRM_WORD}"
  assistant verify --repair --yes    for scripts

{UNLOCK_NOTE}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repair", action="store_true", help="drop the damaged records and accept the store as it is then")
    parser.add_argument("--yes", action="store_true", help="with --repair: do not ask for confirmation (for scripts)")
    add_passphrase_argument(parser)


def run(args: argparse.Namespace) -> int:
    from assistant.store import repair_store, unlocked_store, verify_store

    with unlocked_store(args.passphrase_file, create=False, accept_damage=True) as store:
        found = verify_store(store)
        if found.sound:
            print("the store is sound: every page reads, the manifest matches, every record opens")
            return 0
        for problem in found.problems:
            print(f"problem: {problem}")
        for exc in found.damaged:
            print(f"damaged: {exc}")
        if not args.repair:
            print("\nnothing was changed; `assistant verify --repair` drops the damaged records and accepts the rest", file=sys.stderr)
            return 1
        if not args.yes:
            status = typed_confirmation(
                "assistant verify: refusing to repair without confirmation; run it in a terminal or pass --yes",
                f'Drop {len(found.damaged)} damaged records and accept the store as it is then? Type "{CONFIRM_WORD}": ',
                CONFIRM_WORD,
                "not repaired: nothing was changed",
            )
            if status is not None:
                return status
        dropped = repair_store(store, found.damaged)
        after = verify_store(store)
    print(f"repaired: {dropped} damaged record{'s' if dropped != 1 else ''} dropped; the store was recorded as it is now")
    for problem in after.problems:
        print(f"still: {problem}", file=sys.stderr)
    return 0 if after.sound else 1
