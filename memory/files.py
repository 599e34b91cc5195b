"""Private files: directories 0700, files 0600, atomic replacement and best-effort shredding.

Nothing here follows a symbolic link where it writes or overwrites: temporary files get
unpredictable names from `tempfile.mkstemp` (created `O_EXCL`), and files that are overwritten
are opened with `O_NOFOLLOW`.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it 0700.

    For the store's own directories only: it tightens the mode of a directory that exists.
    Never call it on a directory the user chose (see `memory.archive.write_plaintext_export`).
    """
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def touch_private(path: Path) -> None:
    """Create an empty file with mode 0600 if it does not exist; tighten its mode if it does."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry change (a rename or an unlink) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _open_regular(path: Path, flags: int) -> int | None:
    """`path` opened with `flags` without following a symlink, or None if it is absent, a symlink
    or not a regular file (`O_NONBLOCK`: a FIFO planted there cannot block the caller)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):  # a symlink, a directory, a FIFO
            return None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _overwrite(fd: int) -> None:
    """Overwrite the whole open file with random bytes and flush it."""
    size = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    while size > 0:
        chunk = min(size, 1 << 20)
        _write_all(fd, os.urandom(chunk))
        size -= chunk
    os.fsync(fd)


def atomic_write(path: Path, data: bytes, *, shred_old: bool = False) -> None:
    """Write `data` to `path` (mode 0600) so a reader sees the old file or the new one, never half.

    The bytes go to a new temporary file beside `path` (same filesystem, never `TMPDIR`; an
    unpredictable name created exclusively, so no symlink is followed), are flushed, and the file
    is renamed over `path`.

    With `shred_old=True` the file being replaced is opened before the rename and, once the new
    file is in place, overwritten with random bytes through that handle, so a hard link to it (or
    its blocks, on a filesystem that overwrites in place) no longer holds the old content. Used
    for the key file, whose old copies hold the data key wrapped under an old passphrase.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, FILE_MODE)
        _write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    old = _open_regular(path, os.O_WRONLY) if shred_old else None
    try:
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)
        if old is not None:  # only now: until the rename, the old file is the valid one
            _overwrite(old)
    finally:
        if old is not None:
            os.close(old)


def shred(path: Path) -> None:
    """Overwrite a file with random bytes, flush, and delete it.

    A symlink is removed without touching what it points to. Best effort: on copy-on-write
    filesystems and SSDs the old blocks may survive the overwrite. The store relies on shredding
    only for the small key file, whose loss makes every record unreadable (crypto-shredding); see
    `memory.vault`.
    """
    fd = _open_regular(path, os.O_WRONLY)
    if fd is not None:
        try:
            _overwrite(fd)
        finally:
            os.close(fd)
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)
