"""One running instance per data directory: an exclusive `flock` on a lock file.

The lock belongs to the open file, so it is released when the holder closes it, exits or is
killed; a stale lock file left behind by a crash never blocks the next start.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from memory.errors import InstanceLocked
from memory.files import FILE_MODE

LOCK_FILE = "store.lock"


class InstanceLock:
    """The data directory's instance lock. `acquire` raises `InstanceLocked` if another holds it."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock without waiting."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (process {holder})" if holder.isdigit() else ""
            raise InstanceLocked(
                f"another assistant is already running with the data directory {self.path.parent}{who}; "
                "close it first"
            ) from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self, remove: bool = False) -> None:
        """Give the lock up; with `remove=True` the lock file is deleted first (used by reset)."""
        if self._fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        fd, self._fd = self._fd, None
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
