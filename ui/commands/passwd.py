"""Change the store's passphrase.

Only the key file changes: the data key is re-wrapped under the new passphrase (with a new salt)
and no record is re-encrypted, so this is quick whatever the store's size. Exports keep their
own passphrases.

The replaced key file is overwritten, but earlier copies of the data directory (backups,
filesystem snapshots, a copy on another disk) still open with the old passphrase: they hold the
same data key wrapped under it, and that key also decrypts what is written from now on. If the
old passphrase may be known, destroy those copies, or give the store a new data key with
--rekey: every record is re-encrypted under a new random key (with a progress bar; crash-safe:
an interruption leaves the old store or the new one, finished at the next unlock), and old
copies of store.db no longer open with the new key file. An OS-keyring slot is dropped by a
rekey (it wraps the old key): enable it again in the app."""

from __future__ import annotations

import argparse

from ui.commands._unlock import UNLOCK_NOTE, add_passphrase_argument

EXAMPLES = f"""\
examples:
  assistant passwd
  assistant passwd --passphrase-file old.txt --new-passphrase-file new.txt
  assistant passwd --rekey           a new data key, same passphrase

{UNLOCK_NOTE}
  The new passphrase may likewise come from --new-passphrase-file FILE or ASSISTANT_NEW_PASSPHRASE."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_passphrase_argument(parser)
    parser.add_argument(
        "--rekey", action="store_true",
        help="re-encrypt every record under a new data key (keeps the passphrase); old copies of store.db stop opening",
    )  # fmt: skip
    parser.add_argument(
        "--new-passphrase-file",
        metavar="FILE",
        default=None,
        help="read the new passphrase from FILE instead of asking (or set ASSISTANT_NEW_PASSPHRASE)",
    )


def run(args: argparse.Namespace) -> int:
    from assistant import paths
    from assistant.store import VaultMissing, open_store, vault_exists
    from assistant.unlock import new_passphrase, store_passphrase

    if not vault_exists():  # checked before opening, which would create the directory and database
        raise VaultMissing(f"there is no store in {paths.data_dir()} yet, so there is no passphrase to change")
    old = store_passphrase(args.passphrase_file)
    store = open_store(passphrase=old)  # the current passphrase is checked first: a wrong one writes nothing
    try:
        if not store.has_vault:
            raise VaultMissing(f"there is no store in {store.directory} yet, so there is no passphrase to change")
        if args.rekey:
            _rekey(store, old)
            print("rekeyed: every record is encrypted under a new data key")
            return 0
        new = new_passphrase(args.new_passphrase_file)
        store.change_passphrase(old, new)
    finally:
        store.close()
    print("passphrase changed")
    return 0


def _rekey(store, passphrase: str) -> None:
    import sys

    from tqdm import tqdm

    with tqdm(total=0, unit="records", desc="re-encrypting", file=sys.stderr, disable=None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        store.rekey(passphrase, progress)
