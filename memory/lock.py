"""One running instance per data directory: an exclusive `flock` on a lock file.

The lock belongs to the open file, so it is released when the holder closes it, exits or is
killed; a stale lock file left behind by a crash never blocks the next start.

Reset deletes the lock file while holding it. A second opener may have opened that file just
before the unlink and be granted its `flock` just after the release, while a third creates a new
file at the path and locks that: two holders. So `acquire` checks, once it holds the `flock`,
that its file is still the one at the path (same device and inode) and starts again if not.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from memory.errors import InstanceLocked
from memory.files import FILE_MODE

LOCK_FILE = "store.lock"
_MAX_ATTEMPTS = 100  # each retry means the file was replaced meanwhile: this never runs out in practice


class InstanceLock:
    """The data directory's instance lock. `acquire` raises `InstanceLocked` if another holds it."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def _locked_message(self, fd: int) -> str:
        holder = os.read(fd, 32).decode("ascii", "replace").strip()
        who = f" (process {holder})" if holder.isdigit() else ""
        return f"another assistant is already running with the data directory {self.path.parent}{who}; close it first"

    def _is_current(self, fd: int) -> bool:
        """Whether `fd` is still the file at `self.path` (not unlinked or replaced since it was opened)."""
        try:
            at_path = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (mine.st_dev, mine.st_ino) == (at_path.st_dev, at_path.st_ino)

    def acquire(self) -> None:
        """Take the lock without waiting."""
        if self._fd is not None:
            return
        for _ in range(_MAX_ATTEMPTS):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                message = self._locked_message(fd)
                os.close(fd)
                raise InstanceLocked(message) from None
            except BaseException:
                os.close(fd)
                raise
            if not self._is_current(fd):  # removed by a reset after we opened it: lock the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return
        raise InstanceLocked(f"the lock file {self.path} keeps being replaced; is another assistant resetting it?")

    def release(self, remove: bool = False) -> None:
        """Give the lock up; with `remove=True` the lock file is deleted first, while still held (reset)."""
        if self._fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        fd, self._fd = self._fd, None
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
