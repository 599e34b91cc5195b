"""Change the store's passphrase.

Only the key file changes: the data key is re-wrapped under the new passphrase (with a new salt)
and no record is re-encrypted, so this is quick whatever the store's size. Exports keep their
own passphrases.

The replaced key file is overwritten, but earlier copies of the data directory (backups,
filesystem snapshots, a copy on another disk) still open with the old passphrase: they hold the
same data key wrapped under it, and that key also decrypts what is written from now on. If the
old passphrase may be known, destroy those copies, or give the store a new data key: export,
reset, then import."""

from __future__ import annotations

import argparse

from ui.commands._unlock import UNLOCK_NOTE, add_passphrase_argument

EXAMPLES = f"""\
examples:
  assistant passwd
  assistant passwd --passphrase-file old.txt --new-passphrase-file new.txt

{UNLOCK_NOTE}
  The new passphrase may likewise come from --new-passphrase-file FILE or ASSISTANT_NEW_PASSPHRASE."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_passphrase_argument(parser)
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
    store = open_store()
    try:
        if not store.has_vault:
            raise VaultMissing(f"there is no store in {store.directory} yet, so there is no passphrase to change")
        old = store_passphrase(args.passphrase_file)
        store.unlock(old)  # check the current passphrase before asking for a new one
        new = new_passphrase(args.new_passphrase_file)
        store.change_passphrase(old, new)
    finally:
        store.close()
    print("passphrase changed")
    return 0
