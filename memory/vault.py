"""The vault: the key file that wraps the store's random 32-byte data key.

The key slots live in one small JSON file, `vault.json`, beside the database (not in a table):
unlocking never touches the database, changing the passphrase rewrites only this file
(atomically), and reset destroys it by overwriting and unlinking (crypto-shredding: without it
no record can be decrypted, whatever else survives on the disk).

Every rewrite (a passphrase change, a keyring slot added or removed) overwrites the replaced
file with random bytes through a handle opened before the rename, so the old wrapped key does
not survive in that file (nor in a hard link to it). Copies made elsewhere (backups, filesystem
snapshots) are out of reach: they still open with the passphrase they were made under.

    {"format": "assistant-vault", "version": 1, "id": "<random hex>",
     "slots": {"passphrase": {"kdf": {"name": "argon2id", "time_cost": 3, "memory_kib": 65536,
                                      "lanes": 4},
                              "salt": "<base64>", "wrapped": "<base64 envelope>"},
               "keyring":    {"wrapped": "<base64 envelope>"}}}        # optional

Each `wrapped` is a `memory.crypto` envelope of the data key under a wrapping key: Argon2id of
the passphrase for the passphrase slot, a random key held by the OS keyring for the keyring
slot. The envelope's associated data includes the slot's name and its parameters, so editing the
stored parameters makes unlocking fail instead of silently weakening anything.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any

from memory import keyring_slot
from memory.crypto import (
    DESIGN_KDF,
    Cipher,
    EnvelopeError,
    KdfParams,
    derive_key,
    random_key,
    random_salt,
)
from memory.errors import KeyringUnavailable, VaultCorrupt, VaultExists, VaultMissing, WrongPassphrase
from memory.files import atomic_write, shred

VAULT_FORMAT = "assistant-vault"
VAULT_VERSION = 1
VAULT_FILE = "vault.json"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise VaultCorrupt(f"key file: {what} must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VaultCorrupt(f"key file: {what} is not valid base64") from None


def _passphrase_ad(params: KdfParams) -> bytes:
    return b"vault|passphrase|" + json.dumps(params.to_json(), sort_keys=True).encode()


def _keyring_ad(vault_id: str) -> bytes:
    return f"vault|keyring|{vault_id}".encode()


class Vault:
    """The key slots of one data directory. Holds no key itself: methods return the data key."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / VAULT_FILE

    # --- reading and writing the file ----------------------------------------------------------

    @property
    def exists(self) -> bool:
        """Whether a key file exists."""
        return self.path.exists()

    def _read(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise VaultMissing(f"no key file at {self.path}: the store has not been created yet") from None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise VaultCorrupt(f"the key file {self.path} is not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != VAULT_FORMAT:
            raise VaultCorrupt(f"{self.path} is not an assistant key file")
        if doc.get("version") != VAULT_VERSION:
            raise VaultCorrupt(
                f"the key file {self.path} has version {doc.get('version')!r}; this program reads version {VAULT_VERSION}"
            )
        slots = doc.get("slots")
        if not isinstance(slots, dict) or not isinstance(slots.get("passphrase"), dict):
            raise VaultCorrupt(f"the key file {self.path} has no passphrase slot")
        if not isinstance(doc.get("id"), str):
            raise VaultCorrupt(f"the key file {self.path} has no id")
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        # shred_old: the replaced file holds the data key wrapped under the old passphrase or slots.
        atomic_write(self.path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode(), shred_old=True)

    @staticmethod
    def _passphrase_slot(passphrase: str, data_key: bytes, params: KdfParams) -> dict[str, Any]:
        salt = random_salt()
        wrapped = Cipher(derive_key(passphrase, salt, params)).seal(data_key, _passphrase_ad(params))
        return {"kdf": params.to_json(), "salt": _b64(salt), "wrapped": _b64(wrapped)}

    # --- the passphrase slot -------------------------------------------------------------------

    def create(self, passphrase: str, kdf: KdfParams = DESIGN_KDF) -> bytes:
        """Make a new random data key, wrap it under `passphrase`, write the key file; return the key."""
        if self.exists:
            raise VaultExists(f"a key file already exists at {self.path}")
        if not passphrase:
            raise ValueError("the passphrase must not be empty")
        data_key = random_key()
        doc = {
            "format": VAULT_FORMAT,
            "version": VAULT_VERSION,
            "id": os.urandom(16).hex(),
            "slots": {"passphrase": self._passphrase_slot(passphrase, data_key, kdf)},
        }
        self._write(doc)
        return data_key

    def kdf_params(self) -> KdfParams:
        """The Argon2id parameters of the passphrase slot."""
        slot = self._read()["slots"]["passphrase"]
        try:
            return KdfParams.from_json(slot.get("kdf"))
        except ValueError as exc:
            raise VaultCorrupt(f"key file: {exc}") from None

    def unlock(self, passphrase: str) -> bytes:
        """The data key, unwrapped with `passphrase`; `WrongPassphrase` if it does not fit."""
        slot = self._read()["slots"]["passphrase"]
        params = self.kdf_params()
        salt = _unb64(slot.get("salt"), "salt")
        wrapped = _unb64(slot.get("wrapped"), "wrapped key")
        if len(salt) != 16:
            raise VaultCorrupt("key file: the salt must be 16 bytes")
        try:
            return Cipher(derive_key(passphrase, salt, params)).open(wrapped, _passphrase_ad(params))
        except EnvelopeError:
            raise WrongPassphrase() from None

    def change_passphrase(self, old: str, new: str, kdf: KdfParams | None = None) -> None:
        """Re-wrap the data key under `new` (new salt; `kdf` or the current parameters).

        Only the key file changes; no record is re-encrypted.
        """
        if not new:
            raise ValueError("the new passphrase must not be empty")
        data_key = self.unlock(old)
        doc = self._read()
        doc["slots"]["passphrase"] = self._passphrase_slot(new, data_key, kdf or self.kdf_params())
        self._write(doc)

    # --- the integrity record (see `memory.integrity`) -------------------------------------------

    def integrity_record(self) -> tuple[int, bytes] | None:
        """(counter, seal) of the database as the key file last saw it, or None if never recorded."""
        entry = self._read().get("integrity")
        if entry is None:
            return None
        if not isinstance(entry, dict) or type(entry.get("counter")) is not int or not isinstance(entry.get("seal"), str):
            raise VaultCorrupt(f"the key file {self.path} has a malformed integrity record")
        try:
            return entry["counter"], bytes.fromhex(entry["seal"])
        except ValueError:
            raise VaultCorrupt(f"the key file {self.path} has a malformed integrity record") from None

    def record_integrity(self, counter: int, seal: bytes) -> None:
        """Remember the database's counter and seal (after each write transaction commits).

        The wrapped key is unchanged, so the replaced file need not be shredded.
        """
        doc = self._read()
        doc["integrity"] = {"counter": int(counter), "seal": seal.hex()}
        atomic_write(self.path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())

    # --- rekeying (see `memory.rekey`) --------------------------------------------------------

    @property
    def has_pending_rekey(self) -> bool:
        """Whether a rekey was begun and not finished (the key file has a `next` entry)."""
        return self.exists and isinstance(self._read().get("next"), dict)

    def begin_rekey(self, passphrase: str, data_key: bytes, sealed: tuple[int, bytes]) -> None:
        """Add the new key, wrapped under `passphrase`, and its database's counter and seal as `next`."""
        doc = self._read()
        doc["next"] = {
            "passphrase": self._passphrase_slot(passphrase, data_key, self.kdf_params()),
            "integrity": {"counter": int(sealed[0]), "seal": sealed[1].hex()},
        }
        self._write(doc)

    def unlock_next(self, passphrase: str) -> bytes:
        """The new key of a pending rekey."""
        slot = self._read()["next"]["passphrase"]
        params = KdfParams.from_json(slot.get("kdf"))
        try:
            return Cipher(derive_key(passphrase, _unb64(slot.get("salt"), "salt"), params)).open(
                _unb64(slot.get("wrapped"), "wrapped key"), _passphrase_ad(params)
            )
        except EnvelopeError:
            raise WrongPassphrase() from None

    def finish_rekey(self) -> None:
        """Make the pending key the passphrase slot's (the old wrapped key is overwritten); the
        keyring slot, which wraps the old key, is dropped."""
        doc = self._read()
        pending = doc.pop("next", None)
        if not isinstance(pending, dict):
            return
        doc["slots"] = {"passphrase": pending["passphrase"]}
        doc["integrity"] = pending["integrity"]
        self._write(doc)

    def abort_rekey(self) -> None:
        """Drop a pending rekey whose database never replaced the old one."""
        doc = self._read()
        if doc.pop("next", None) is not None:
            self._write(doc)

    # --- the keyring slot ----------------------------------------------------------------------

    @property
    def has_keyring_slot(self) -> bool:
        """Whether the key file has an OS-keyring slot."""
        return self.exists and isinstance(self._read()["slots"].get("keyring"), dict)

    def add_keyring_slot(self, data_key: bytes, backend: Any = None) -> None:
        """Keep a random wrapping key in the OS keyring and add a slot wrapping `data_key` with it.

        Refused (`KeyringUnavailable`) where the keyring backend is not OS-encrypted.
        """
        backend = backend if backend is not None else keyring_slot.default_backend()
        keyring_slot.check_backend(backend)
        doc = self._read()
        wrapping_key = random_key()
        keyring_slot.store_secret(backend, doc["id"], wrapping_key)
        doc["slots"]["keyring"] = {"wrapped": _b64(Cipher(wrapping_key).seal(data_key, _keyring_ad(doc["id"])))}
        self._write(doc)

    def unlock_with_keyring(self, backend: Any = None) -> bytes:
        """The data key, unwrapped with the key held by the OS keyring."""
        doc = self._read()
        slot = doc["slots"].get("keyring")
        if not isinstance(slot, dict):
            raise KeyringUnavailable("this vault has no keyring slot")
        backend = backend if backend is not None else keyring_slot.default_backend()
        wrapping_key = keyring_slot.load_secret(backend, doc["id"])
        if len(wrapping_key) != 32:
            raise KeyringUnavailable("the OS keyring's entry for this vault is garbled")
        try:
            return Cipher(wrapping_key).open(_unb64(slot.get("wrapped"), "keyring slot"), _keyring_ad(doc["id"]))
        except EnvelopeError:
            raise KeyringUnavailable("the OS keyring's key does not unlock this vault") from None

    def remove_keyring_slot(self, backend: Any = None) -> None:
        """Drop the keyring slot and delete its key from the OS keyring."""
        doc = self._read()
        if doc["slots"].pop("keyring", None) is None:
            return
        self._write(doc)
        backend = backend if backend is not None else keyring_slot.default_backend()
        keyring_slot.delete_secret(backend, doc["id"])

    # --- destruction ---------------------------------------------------------------------------

    def destroy(self, backend: Any = None) -> list[str]:
        """Crypto-shred: delete the keyring entry (if any) and overwrite and unlink the key file.

        Returns warnings (for example a keyring that could not be reached); the key file is
        destroyed whatever happens to the keyring entry.
        """
        warnings: list[str] = []
        # Temporary files of an interrupted atomic write also hold a wrapped key.
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            shred(leftover)
        if not self.exists:
            return warnings
        try:
            doc = self._read()
        except VaultCorrupt:
            doc = None
        if doc is not None and isinstance(doc["slots"].get("keyring"), dict):
            try:
                keyring_slot.delete_secret(
                    backend if backend is not None else keyring_slot.default_backend(), doc["id"]
                )
            except KeyringUnavailable as exc:
                warnings.append(f"the OS keyring entry could not be deleted: {exc}")
        shred(self.path)
        return warnings
