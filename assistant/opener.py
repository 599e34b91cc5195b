"""Opening the session for an interface: a passphrase (or the OS keyring) in, an unlocked `Session` out.

`SessionOpener` is the terminal app's default opener; the app's tests give it a fake one with the
same methods. The session module (and the model code behind it) is imported only when a session
is opened or looked for, never at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant import paths


@dataclass
class SessionOpener:
    """Opens the real session of one data directory: `opener(passphrase, create=...)`.

    `home` and `model_dir` default to the data directory and the shipped model; `kdf` (the
    store's Argon2id parameters for a new vault) defaults to the store's own choice.
    """

    home: Path | None = None
    model_dir: Path | None = None
    kdf: Any = None

    def exists(self) -> bool:
        """Whether a vault exists (so the app asks to unlock rather than to create)."""
        from assistant.session import Session

        return bool(Session.exists(self.home))

    def __call__(self, passphrase: str, *, create: bool = False) -> Any:
        """The unlocked session (raises `WrongPassphrase`, `InstanceLocked`, `VaultMissing` ...)."""
        from assistant.session import Session

        kwargs: dict[str, Any] = {"home": self.home, "model_dir": self.model_dir, "create": create}
        if self.kdf is not None:
            kwargs["kdf"] = self.kdf
        return Session.open(passphrase, **kwargs)

    # --- the OS keyring -----------------------------------------------------------------------

    def keyring_status(self) -> tuple[bool, str]:
        """Whether a key may be kept in the OS keyring here, and if not, why not."""
        from memory.errors import KeyringUnavailable
        from memory.keyring_slot import check_backend, default_backend

        try:
            check_backend(default_backend())
        except KeyringUnavailable as exc:
            return False, str(exc)
        return True, "an OS-encrypted keyring is available"

    def has_keyring_slot(self) -> bool:
        """Whether the vault has a key in the OS keyring (reads the key file; unlocks nothing)."""
        from memory.errors import StoreError
        from memory.vault import Vault

        try:
            return bool(Vault(Path(self.home) if self.home is not None else paths.data_dir()).has_keyring_slot)
        except StoreError:
            return False

    def open_with_keyring(self) -> Any:
        """The session, unlocked with the key the OS keyring holds (no passphrase)."""
        from assistant.session import Session

        return Session.open_with_keyring(home=self.home, model_dir=self.model_dir)

    def enable_keyring(self, session: Any, passphrase: str) -> None:
        """Add an OS-keyring slot to the session's vault (after the passphrase created it)."""
        session.enable_keyring(passphrase)
