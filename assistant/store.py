"""The application's door to the encrypted store: the data directory's store, opened and unlocked.

Interfaces (`ui`) use this module and never import `memory` themselves. The store's types and
errors are re-exported here for them:

    with unlocked_store(passphrase_file=args.passphrase_file) as store:
        store.list_conversations()

Where no vault exists yet, unlocking creates one with the passphrase given (asked twice at a
terminal), so `ASSISTANT_PASSPHRASE=... assistant export x.enc` works on a fresh machine too.
Nothing is written to a fresh data directory until that passphrase is in hand, and `import_file`
reads and verifies the export before it opens or creates the store: a failure leaves no store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assistant import paths
from assistant.unlock import Prompt, store_passphrase
from memory.archive import read_export, write_export
from memory.plaintext import write_plaintext_export
from memory.crypto import DESIGN_KDF, KdfParams
from memory.embed import load_default_embedder
from memory.errors import (
    CorruptRecord,
    ExportAuthError,
    ExportFormatError,
    ExportPathError,
    ExportVersionError,
    InstanceLocked,
    KeyringUnavailable,
    StoreError,
    VaultLocked,
    VaultMissing,
    WrongPassphrase,
)
from memory.records import Conversation, Deletion, Memory, Message, Snapshot, Snippet
from memory.store import STORE_FILE, Store, reset_directory
from memory.vault import VAULT_FILE

__all__ = [
    "Conversation",
    "CorruptRecord",
    "Deletion",
    "ExportAuthError",
    "ExportFormatError",
    "ExportPathError",
    "ExportVersionError",
    "InstanceLocked",
    "KeyringUnavailable",
    "Memory",
    "Message",
    "Snapshot",
    "Snippet",
    "Store",
    "StoreError",
    "VaultLocked",
    "VaultMissing",
    "WrongPassphrase",
    "export_plaintext",
    "export_to",
    "import_file",
    "import_from",
    "open_store",
    "read_export_file",
    "repair_store",
    "reset_data",
    "store_exists",
    "unlock_store",
    "unlocked_store",
    "vault_exists",
    "verify_store",
]


def _directory(directory: Path | None) -> Path:
    return Path(directory) if directory is not None else paths.data_dir(create=True)


def store_exists(directory: Path | None = None) -> bool:
    """Whether the data directory holds a store (a key file or a database)."""
    root = Path(directory) if directory is not None else paths.data_dir()
    return (root / VAULT_FILE).exists() or (root / STORE_FILE).exists()


def vault_exists(directory: Path | None = None) -> bool:
    """Whether the data directory holds a key file (checked without creating anything)."""
    root = Path(directory) if directory is not None else paths.data_dir()
    return (root / VAULT_FILE).exists()


def open_store(directory: Path | None = None, *, passphrase: str | None = None, accept_damage: bool = False) -> Store:
    """The data directory's store, open and still locked (raises `InstanceLocked` if in use);
    unlocked where `passphrase` is given and a key file exists (a wrong one writes nothing).

    Recall fuses BM25 with the default sentence-embedding model (`memory.embed`, loaded on the
    first recall or write), or uses BM25 alone, with a one-line notice, where it is not installed."""
    store = Store.open(_directory(directory), passphrase=passphrase, accept_damage=accept_damage)
    store.use_embedder(load_default_embedder)
    return store


def unlock_store(
    store: Store,
    *,
    passphrase_file: str | Path | None = None,
    create: bool = True,
    kdf: KdfParams = DESIGN_KDF,
    prompt: Prompt | None = None,
    interactive: bool | None = None,
    accept_damage: bool = False,
) -> bool:
    """Unlock `store` with a passphrase from the file, the environment or the terminal.

    Where no vault exists and `create` is true, a new one is made (the passphrase is asked twice
    at a terminal). Returns whether a vault was created. `accept_damage`: see `Store.unlock`.
    """
    if store.is_unlocked:
        return False
    if store.has_vault:
        store.unlock(store_passphrase(passphrase_file, prompt=prompt, interactive=interactive), accept_damage=accept_damage)
        return False
    if not create:
        raise VaultMissing(f"there is no store in {store.directory} yet")
    passphrase = store_passphrase(passphrase_file, creating=True, prompt=prompt, interactive=interactive)
    store.create(passphrase, kdf=kdf)
    return True


@contextmanager
def unlocked_store(
    passphrase_file: str | Path | None = None,
    *,
    create: bool = True,
    directory: Path | None = None,
    kdf: KdfParams = DESIGN_KDF,
    prompt: Prompt | None = None,
    interactive: bool | None = None,
    accept_damage: bool = False,
) -> Iterator[Store]:
    """Open and unlock the data directory's store for the duration of a `with` block.

    In a data directory without a store nothing is written before the passphrase is in hand
    (with `create=False`, nothing at all: `VaultMissing`).
    """
    root = Path(directory) if directory is not None else paths.data_dir()
    new_passphrase = passphrase = None
    if not (root / VAULT_FILE).exists():
        if not create:
            raise VaultMissing(f"there is no store in {root} yet")
        if not (root / STORE_FILE).exists():  # a brand-new store: ask before any file is made
            new_passphrase = store_passphrase(passphrase_file, creating=True, prompt=prompt, interactive=interactive)
    else:  # checked against the key file before anything is opened: a wrong one writes nothing
        passphrase = store_passphrase(passphrase_file, prompt=prompt, interactive=interactive)
    store = open_store(directory, passphrase=passphrase, accept_damage=accept_damage)
    try:
        if new_passphrase is not None and not store.has_vault:
            store.create(new_passphrase, kdf=kdf)
        else:
            unlock_store(
                store, passphrase_file=passphrase_file, create=create, kdf=kdf, prompt=prompt,
                interactive=interactive, accept_damage=accept_damage,
            )
        yield store
    finally:
        store.close()


def export_to(
    store: Store,
    path: Path,
    passphrase: str,
    *,
    overwrite: bool = False,
    kdf: KdfParams = DESIGN_KDF,
    skipped: list[CorruptRecord] | None = None,
) -> dict[str, int]:
    """Write an encrypted export of everything readable in `store` to `path`; returns the counts
    exported. Damaged records are left out and added to `skipped`."""
    snapshot = store.snapshot(skipped=skipped)
    write_export(snapshot, Path(path), passphrase, kdf=kdf, overwrite=overwrite)
    return snapshot.counts()


def export_plaintext(
    store: Store, directory: Path, *, overwrite: bool = False, skipped: list[CorruptRecord] | None = None
) -> list[Path]:
    """Write a readable export (JSON and Markdown) into `directory`; returns the files written."""
    return write_plaintext_export(store.snapshot(skipped=skipped), Path(directory), overwrite=overwrite)


def import_from(store: Store, path: Path, passphrase: str, *, merge: bool = False) -> dict[str, int]:
    """Restore an export into `store` (replace, or `merge`); on any failure nothing changes."""
    return store.restore(read_export_file(path, passphrase), merge=merge)


def read_export_file(path: Path, passphrase: str) -> Snapshot:
    """Read an export and check its version, authenticity, shape and content (states, adapters
    and settings as the program would load them: `assistant.import_check`); touches no store."""
    from assistant.import_check import check_snapshot

    snapshot = read_export(Path(path), passphrase)
    check_snapshot(snapshot)
    return snapshot


def import_file(
    path: Path,
    export_passphrase: str,
    *,
    merge: bool = False,
    passphrase_file: str | Path | None = None,
    directory: Path | None = None,
    kdf: KdfParams = DESIGN_KDF,
    prompt: Prompt | None = None,
    interactive: bool | None = None,
) -> dict[str, int]:
    """`assistant import`: verify the export, then open (creating if needed) the store and restore it.

    The export is read and checked completely before the store is opened, so a bad export leaves
    the data directory as it was (empty, on a fresh machine). If the store was created here and
    the restore still fails, it is reset again.
    """
    snapshot = read_export_file(path, export_passphrase)
    created = not vault_exists(directory)
    with unlocked_store(
        passphrase_file, directory=directory, kdf=kdf, prompt=prompt, interactive=interactive
    ) as store:
        try:
            return store.restore(snapshot, merge=merge)
        except BaseException:
            if created:
                store.reset()
            raise


@dataclass
class Verification:
    """What `assistant verify` found: whole-store problems (sentences) and damaged records."""

    problems: list[str]
    damaged: list[CorruptRecord]

    @property
    def sound(self) -> bool:
        return not self.problems and not self.damaged


def verify_store(store: Store) -> Verification:
    """The full check of an unlocked store (opened with `accept_damage`): SQLite's page check,
    the whole-store manifest (`memory.integrity`), and every record's envelope."""
    problems = [str(p) for p in store.integrity_problems]
    problems += [str(p) for p in store.check_integrity() if str(p) not in problems]
    damaged = store.verify()
    for exc in store.skipped.values():
        if (exc.table, exc.row) not in {(d.table, d.row) for d in damaged}:
            damaged.append(exc)
    return Verification(problems, damaged)


def repair_store(store: Store, damaged: list[CorruptRecord]) -> int:
    """Drop the damaged records and record the store as it is now as sound; how many were dropped."""
    return store.drop_damaged(damaged)


def reset_data(directory: Path | None = None) -> list[str]:
    """Destroy the data directory's store (keys shredded, rows deleted, files removed); returns warnings."""
    root = Path(directory) if directory is not None else paths.data_dir()
    return reset_directory(root)
