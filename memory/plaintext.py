"""A plaintext export: a new directory (0700) holding `export.json` (the encrypted export's
payload, readable) and one Markdown file per conversation (0600). Written only when asked for;
it cannot be imported (it has no authenticity)."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path

from memory.archive import PLAINTEXT_JSON, snapshot_to_json
from memory.errors import ExportPathError
from memory.files import DIR_MODE, FILE_MODE
from memory.records import Message, Snapshot

PLAINTEXT_MEMORIES = "memories.md"
PLAINTEXT_CONVERSATIONS = "conversations"
_CONVERSATION_FILE = re.compile(r"\d{5,}-[\w-]+\.md")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _slug(text: str) -> str:
    slug = re.sub(r"[^\w]+", "-", text.lower()).strip("-")
    return slug[:40] or "untitled"


def _create_private(dir_fd: int, name: str, text: str) -> None:
    """Create the new file `name` in the directory `dir_fd`, mode 0600; never through a symlink."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE, dir_fd=dir_fd)
    os.fchmod(fd, FILE_MODE)  # the umask can only have narrowed it; make it exactly 0600
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _make_private_dir(name: str | Path, dir_fd: int | None = None) -> int:
    """Create the new directory `name` (0700) and return an open descriptor of it."""
    os.mkdir(name, DIR_MODE, dir_fd=dir_fd)
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    os.fchmod(fd, DIR_MODE)  # ours, just made: exactly 0700 whatever the umask
    return fd


def _is_dir(name: str, dir_fd: int) -> bool:
    return stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)


def _clear_earlier_export(directory: Path) -> int:
    """Open an earlier plaintext export at `directory` and remove the files the exporter wrote.

    Refused (`ExportPathError`, nothing removed) unless `directory` is a real directory of this
    user, closed to others (0700), holding `export.json` and nothing but the exporter's own
    files; its mode is never changed. Returns an open descriptor of it.
    """
    try:
        fd = os.open(directory, _DIR_FLAGS)
    except OSError:
        raise ExportPathError(f"{directory} exists and is not a directory (choose another path)") from None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise ExportPathError(
                f"{directory} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}); a plaintext export is "
                "only written into a private directory: choose a path that does not exist (or chmod 700 it)"
            )
        names = set(os.listdir(fd))
        strangers = names - {PLAINTEXT_JSON, PLAINTEXT_MEMORIES, PLAINTEXT_CONVERSATIONS}
        strangers |= {n for n in names & {PLAINTEXT_JSON, PLAINTEXT_MEMORIES} if _is_dir(n, fd)}
        conversations: list[str] = []
        if PLAINTEXT_CONVERSATIONS in names:
            try:
                sub = os.open(PLAINTEXT_CONVERSATIONS, _DIR_FLAGS, dir_fd=fd)
            except OSError:  # a symlink or a file where the exporter makes a directory
                strangers.add(PLAINTEXT_CONVERSATIONS)
            else:
                try:
                    conversations = os.listdir(sub)
                    strangers |= {
                        f"{PLAINTEXT_CONVERSATIONS}/{n}"
                        for n in conversations
                        if not _CONVERSATION_FILE.fullmatch(n) or _is_dir(n, sub)
                    }
                finally:
                    os.close(sub)
        if PLAINTEXT_JSON not in names or strangers:
            what = (
                f"files the exporter did not write ({', '.join(sorted(strangers)[:3])})"
                if strangers
                else "no earlier plaintext export"
            )
            raise ExportPathError(
                f"{directory} holds {what}; a plaintext export replaces only an earlier plaintext export: "
                "choose a path that does not exist"
            )
        if PLAINTEXT_CONVERSATIONS in names:
            sub = os.open(PLAINTEXT_CONVERSATIONS, _DIR_FLAGS, dir_fd=fd)
            try:
                for name in conversations:
                    os.unlink(name, dir_fd=sub)
            finally:
                os.close(sub)
            os.rmdir(PLAINTEXT_CONVERSATIONS, dir_fd=fd)
        for name in names & {PLAINTEXT_JSON, PLAINTEXT_MEMORIES}:
            os.unlink(name, dir_fd=fd)
        return fd
    except BaseException:
        os.close(fd)
        raise


def write_plaintext_export(snap: Snapshot, directory: Path, *, overwrite: bool = False) -> list[Path]:
    """Write `export.json`, `memories.md` and `conversations/NNNNN-title.md` into a new directory.

    This is readable by anyone who can read the directory: only on the user's explicit request.

    `directory` must not exist yet (its parent must): it is created 0700 and its files 0600. An
    existing directory is never re-permissioned or written into, except that with `overwrite`
    an earlier plaintext export there is replaced: the exporter's own files are removed first,
    so no conversation deleted since lingers, and the directory must already be private and hold
    nothing else. No symlink is followed. Everything else is an `ExportPathError`.
    """
    directory = Path(directory)
    if not directory.parent.is_dir():
        raise ExportPathError(f"{directory.parent} is not a directory")
    if os.path.lexists(directory):
        if not overwrite:
            raise ExportPathError(
                f"{directory} exists already; a plaintext export is written into a new directory "
                "(choose a path that does not exist, or allow overwriting to replace an earlier plaintext export there)"
            )
        dir_fd = _clear_earlier_export(directory)
    else:
        try:
            dir_fd = _make_private_dir(directory)
        except FileExistsError:
            raise ExportPathError(f"{directory} appeared while the export was being written; choose another path") from None
    try:
        written = [directory / PLAINTEXT_JSON]
        _create_private(dir_fd, PLAINTEXT_JSON, json.dumps(snapshot_to_json(snap), indent=1, ensure_ascii=False) + "\n")
        by_conversation: dict[int, list[Message]] = {}
        for m in snap.messages:
            by_conversation.setdefault(m.conversation_id, []).append(m)
        conv_fd = _make_private_dir(PLAINTEXT_CONVERSATIONS, dir_fd)
        try:
            for c in snap.conversations:
                lines = [f"# {c.title or 'Untitled conversation'}", "", f"_{time.strftime('%Y-%m-%d %H:%M', time.localtime(c.created))}_", ""]
                for m in by_conversation.get(c.id, []):
                    lines += [f"**{m.role}**{' (interrupted)' if m.cut else ''}:", "", m.text, ""]
                name = f"{c.id:05d}-{_slug(c.title)}.md"
                _create_private(conv_fd, name, "\n".join(lines))
                written.append(directory / PLAINTEXT_CONVERSATIONS / name)
        finally:
            os.close(conv_fd)
        if snap.memories:
            _create_private(dir_fd, PLAINTEXT_MEMORIES, "# Memories\n\n" + "".join(f"- {m.text}\n" for m in snap.memories))
            written.append(directory / PLAINTEXT_MEMORIES)
    finally:
        os.close(dir_fd)
    return written
