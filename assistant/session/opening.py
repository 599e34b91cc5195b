"""Opening a session's store: where it is, unlocking it (or creating it), and the OS keyring.

Whatever fails after the store was opened closes it again (`closed_on_failure`), so a wrong
passphrase or a model that does not load leaves no lock behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant import paths
from assistant.store import Store, VaultMissing, open_store
from memory.crypto import DESIGN_KDF, KdfParams


def data_directory(home: Path | None) -> Path:
    """`home`, or the user's data directory (created if need be)."""
    return Path(home) if home is not None else paths.data_dir(create=True)


def model_directory(model_dir: Path | None) -> Path:
    """`model_dir`, or the model folder in use (see `assistant.paths`)."""
    return Path(model_dir) if model_dir else paths.default_model_dir()


@contextmanager
def closed_on_failure(directory: Path, passphrase: str | None = None) -> Iterator[Store]:
    """The store of `directory`, opened (and unlocked, given the passphrase of an existing key
    file: a wrong one then writes nothing); closed again if the block raises."""
    store = open_store(directory, passphrase=passphrase)
    try:
        yield store
    except BaseException:
        store.close()
        raise


def unlock(store: Store, directory: Path, passphrase: str, *, create: bool, kdf: KdfParams | None) -> None:
    """Unlock with the passphrase (creating the vault if `create` and there is none).

    Raises the store's `WrongPassphrase` or `VaultMissing`."""
    if store.is_unlocked:
        return
    if store.has_vault:
        store.unlock(passphrase)
    elif create:
        store.create(passphrase, kdf=kdf or DESIGN_KDF)
    else:
        raise VaultMissing(f"there is no store in {directory} yet")

