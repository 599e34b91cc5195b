"""The optional OS-keyring slot: a random wrapping key kept by the operating system's keyring.

Only backends that keep secrets encrypted by the OS are accepted (Secret Service / libsecret,
KWallet, macOS Keychain, Windows Credential Locker). Plaintext file backends (`keyrings.alt`),
the `null` and `fail` backends and anything unknown are refused with `KeyringUnavailable`:
a wrapping key in a plaintext file would be a passphrase written on the disk.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from memory.errors import KeyringUnavailable

SERVICE = "assistant-vault"

SECURE_BACKEND_MODULES: frozenset[str] = frozenset(
    {
        "keyring.backends.SecretService",
        "keyring.backends.libsecret",
        "keyring.backends.kwallet",
        "keyring.backends.macOS",
        "keyring.backends.Windows",
    }
)
"""Modules whose backends store secrets encrypted by the OS. Anything else is refused."""


def default_backend() -> Any:
    """The keyring backend the `keyring` library would use on this machine."""
    import keyring

    return keyring.get_keyring()


def _leaves(backend: Any) -> list[Any]:
    """The concrete backends behind a (possibly chained) backend."""
    inner = getattr(backend, "backends", None)
    if type(backend).__module__ == "keyring.backends.chainer" and inner is not None:
        return [leaf for b in inner for leaf in _leaves(b)]
    return [backend]


def check_backend(backend: Any) -> None:
    """Raise `KeyringUnavailable` unless every backend involved keeps secrets encrypted by the OS."""
    leaves = _leaves(backend)
    if not leaves:
        raise KeyringUnavailable("no OS keyring is available on this machine")
    for leaf in leaves:
        kind = type(leaf)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if kind.__module__ not in SECURE_BACKEND_MODULES:
            raise KeyringUnavailable(
                f"the keyring backend {name} is not an OS-encrypted keyring (it may keep secrets in "
                "plaintext or not at all); refusing to store the key there"
            )


def store_secret(backend: Any, account: str, secret: bytes) -> None:
    """Put `secret` in the keyring under (`SERVICE`, `account`)."""
    from keyring.errors import KeyringError

    check_backend(backend)
    try:
        backend.set_password(SERVICE, account, base64.b64encode(secret).decode("ascii"))
    except KeyringError as exc:
        raise KeyringUnavailable(f"the OS keyring refused to store the key: {exc}") from exc


def load_secret(backend: Any, account: str) -> bytes:
    """The secret stored under (`SERVICE`, `account`); `KeyringUnavailable` if it is not there."""
    from keyring.errors import KeyringError

    check_backend(backend)
    try:
        text = backend.get_password(SERVICE, account)
    except KeyringError as exc:
        raise KeyringUnavailable(f"the OS keyring could not be read: {exc}") from exc
    if text is None:
        raise KeyringUnavailable("the OS keyring holds no key for this vault")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringUnavailable("the OS keyring's entry for this vault is garbled") from None


def delete_secret(backend: Any, account: str) -> None:
    """Remove the secret under (`SERVICE`, `account`); missing entries are fine."""
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        backend.delete_password(SERVICE, account)
    except PasswordDeleteError:
        return
    except KeyringError as exc:
        raise KeyringUnavailable(f"the OS keyring could not delete the key: {exc}") from exc
