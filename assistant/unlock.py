"""Where a passphrase comes from: a file, an environment variable, or the person at the terminal.

In order: `--passphrase-file FILE` (its first line), then `$ASSISTANT_PASSPHRASE`, then an
interactive prompt (asked twice when a vault is being created). The export passphrase follows
the same rules with `--export-passphrase-file` and `$ASSISTANT_EXPORT_PASSPHRASE`, and a new
passphrase (for `passwd`) with `--new-passphrase-file` and `$ASSISTANT_NEW_PASSPHRASE`.

The file and the variable exist for scripts and tests (as in restic and borg), and both carry a
risk: a variable can be read by other processes of the same user (`/proc/PID/environ`) and may
end up in shell history or logs; a file lies on the disk in plaintext. Keep such a file 0600 on
an encrypted disk, and prefer the prompt wherever a person is present.
"""

from __future__ import annotations

import getpass
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError

ENV_PASSPHRASE = "ASSISTANT_PASSPHRASE"
ENV_EXPORT_PASSPHRASE = "ASSISTANT_EXPORT_PASSPHRASE"
ENV_NEW_PASSPHRASE = "ASSISTANT_NEW_PASSPHRASE"

RISK_NOTE = (
    "A passphrase in an environment variable can be read by other processes of the same user, and a "
    "passphrase file lies on the disk in plaintext: use them for scripts, keep the file 0600, and "
    "prefer the prompt wherever a person is present."
)

Prompt = Callable[[str], str]


class PassphraseError(AssistantError):
    """A passphrase could not be obtained."""


class PassphraseRequired(PassphraseError):
    """No passphrase was given and there is no terminal to ask at."""


class PassphraseMismatch(PassphraseError):
    """The two entries of a new passphrase differ."""


@dataclass(frozen=True)
class Source:
    """One kind of passphrase: what it is called, its command-line option and its variable."""

    what: str
    option: str
    env: str


STORE = Source("passphrase", "--passphrase-file", ENV_PASSPHRASE)
EXPORT = Source("export passphrase", "--export-passphrase-file", ENV_EXPORT_PASSPHRASE)
NEW = Source("new passphrase", "--new-passphrase-file", ENV_NEW_PASSPHRASE)


def read_passphrase_file(path: str | Path) -> str:
    """The first line of `path`, without its line ending. An empty passphrase is refused, and so
    is a file that other users can read or change (group or others have any permission on it):
    like ssh with a private key, rather than a warning that scrolls past in a script's log."""
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISREG(mode) and mode & 0o077:
                raise PassphraseError(
                    f"the passphrase file {path} is open to other users (mode {mode & 0o777:04o}): "
                    f"make it private with `chmod 600 {path}`"
                )
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise PassphraseError(f"cannot read the passphrase file {path}: {exc}") from None
    passphrase = text.splitlines()[0] if text else ""
    if not passphrase:
        raise PassphraseError(f"the passphrase file {path} is empty")
    return passphrase


def resolve(
    source: Source,
    file: str | Path | None = None,
    *,
    confirm: bool = False,
    prompt: Prompt | None = None,
    interactive: bool | None = None,
) -> str:
    """A passphrase of kind `source`: from `file`, else its variable, else asked (twice if `confirm`)."""
    if file is not None:
        return read_passphrase_file(file)
    value = os.environ.get(source.env)
    if value:
        return value
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    if not interactive:
        raise PassphraseRequired(
            f"no {source.what} given: pass {source.option} FILE or set {source.env} (or run in a terminal)"
        )
    ask = prompt or getpass.getpass
    first = ask(f"{source.what.capitalize()}: ")
    if not first:
        raise PassphraseError(f"the {source.what} must not be empty")
    if confirm and ask(f"Repeat the {source.what}: ") != first:
        raise PassphraseMismatch(f"the two {source.what} entries differ; nothing was changed")
    return first


def store_passphrase(
    file: str | Path | None = None,
    *,
    creating: bool = False,
    prompt: Prompt | None = None,
    interactive: bool | None = None,
) -> str:
    """The store's passphrase (asked twice when `creating` a vault interactively)."""
    return resolve(STORE, file, confirm=creating, prompt=prompt, interactive=interactive)


def export_passphrase(
    file: str | Path | None = None,
    *,
    confirm: bool = False,
    prompt: Prompt | None = None,
    interactive: bool | None = None,
) -> str:
    """An export's passphrase (asked twice when writing an export interactively)."""
    return resolve(EXPORT, file, confirm=confirm, prompt=prompt, interactive=interactive)


def new_passphrase(
    file: str | Path | None = None, *, prompt: Prompt | None = None, interactive: bool | None = None
) -> str:
    """A new store passphrase for `passwd` (asked twice interactively)."""
    return resolve(NEW, file, confirm=True, prompt=prompt, interactive=interactive)
