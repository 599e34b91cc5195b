"""Send one message and stream the reply to stdout.

The message goes to a new conversation, or with --chat NAME to the conversation of that title
(or id), created if there is none. Before the reply, the assistant recalls related snippets from
your other conversations and memories. After it, the command learns from the exchange before
exiting (it says so on stderr): --no-learn skips that, and --temporary leaves nothing behind at
all (no conversation, nothing learned). Ctrl+C stops the reply; what was shown is kept, marked
cut.

The message is read from standard input when TEXT is left out or is "-" (at a terminal: type it,
then Ctrl+D). Prefer that for anything private: words given as TEXT on the command line can be
read by other processes (`ps`, /proc/PID/cmdline) and stay in your shell's history. The same holds
for a --chat NAME: it is visible in the process list too."""

from __future__ import annotations

import argparse
import sys

from ui.commands._unlock import UNLOCK_NOTE, add_passphrase_argument, report_damaged

EXAMPLES = f"""\
examples:
  assistant ask                       type the message, then Ctrl+D (nothing in argv)
  assistant ask --chat travel < question.txt
  assistant ask --temporary -         never stored, never learned from; the message from stdin
  assistant ask "hello"               quick, but TEXT is visible in the process list and history

{UNLOCK_NOTE}"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "text", nargs="*", metavar="TEXT",
        help='the message (several words are joined); left out or "-": read from standard input. '
        "TEXT is visible to other processes and in shell history: pipe anything private in",
    )  # fmt: skip
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--chat", metavar="NAME", default=None,
        help="continue (or start) the conversation with this title or id (NAME is visible in the process list)",
    )  # fmt: skip
    where.add_argument("--temporary", action="store_true", help="a temporary chat: nothing is stored or learned")
    parser.add_argument("--no-learn", action="store_true", help="do not learn from this exchange")
    parser.add_argument("--max-tokens", type=int, default=None, metavar="N", help="longest reply, in tokens")
    parser.add_argument("--temperature", type=float, default=None, metavar="T", help="sampling temperature (0: greedy)")
    parser.add_argument(
        "--memory-contrast", type=float, default=None, metavar="A",
        help="how much the recalled memory block's effect on each token is amplified (0: off; default: the setting "
        "sampling.memory_contrast, 0.5)",
    )  # fmt: skip
    parser.add_argument("--model", metavar="DIR", default=None, help="model folder: liquid or LFM2 (default: $ASSISTANT_MODEL, else the shipped model)")
    add_passphrase_argument(parser)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def read_message(words: list[str], stdin=None) -> str:
    """The message: TEXT joined, or standard input where TEXT is left out or is "-"."""
    stdin = stdin if stdin is not None else sys.stdin
    if words and words != ["-"]:
        return " ".join(words)
    if stdin is None:
        return ""
    if stdin.isatty():
        _say("message (end with Ctrl+D on a line of its own):")
    return stdin.read().strip()


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import threading

    from assistant.session import Session
    from assistant.unlock import store_passphrase

    text = read_message(args.text)
    if not text:
        _say("assistant ask: no message (give TEXT, or pipe it into standard input)")
        return 2
    creating = not Session.exists()
    passphrase = store_passphrase(args.passphrase_file, creating=creating)
    session = Session.open(passphrase, create=creating, model_dir=args.model)
    try:
        # the options first: a bad value is refused before any conversation exists
        options = {"max_tokens": args.max_tokens, "temperature": args.temperature, "memory_contrast": args.memory_contrast}
        try:
            sampling = dataclasses.replace(session.settings.sampling(), **{k: v for k, v in options.items() if v is not None})
        except ValueError as exc:  # out of range: SamplingSettings says which and why
            _say(f"assistant ask: {exc}")
            return 2
        if args.temporary:
            session.new_conversation(temporary=True)
        elif args.chat:
            conv = session.find_conversation(args.chat) or session.new_conversation(args.chat)
            session.select(conv.id)
        else:
            session.new_conversation()
        learn = not (args.no_learn or args.temporary)
        cancel = threading.Event()
        reply = session.send(text, cancel=cancel, settings=sampling, learn=learn)
        try:
            for piece in reply:
                sys.stdout.write(piece)
                sys.stdout.flush()
        except KeyboardInterrupt:
            reply.close()
            sys.stdout.write("\n")
            _say("(stopped: the reply was kept, marked cut)")
            return 130
        sys.stdout.write("\n")
        sys.stdout.flush()
        if reply.cut:
            _say("(the reply was cut)")
        reply.wait()
        for memory in reply.remembered:  # kept from the message: say so, and how to undo it
            _say(f"remembered: {memory.text} (to forget it: assistant memory forget {memory.id})")
        if learn and not reply.cut:
            status = session.learning_status()
            if session.learning.enabled() or status.pending:
                _say("learning from this exchange before exiting ...")
                if session.wait_for_learning():
                    _say(f"learned: {session.learning_status().last_event}")
                else:
                    _say(f"not learned now ({session.learning_status().state}); it stays queued for next time")
            else:
                _say(f"not learned: {status.last_event or status.state}")
        return 0
    finally:
        report_damaged(session.damaged_records())
        session.close()
