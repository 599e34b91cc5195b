"""The envelope and the key derivation: the only two cryptographic operations the store uses.

Envelope (AES-256-GCM, one per stored value):

    version (1 byte) | nonce (12 bytes, random) | ciphertext + tag (16 bytes)

The associated data names where the value lives (`table|column|row id`), so a ciphertext copied
into another row, column or table fails to authenticate. Nonces are random: with 96 bits the
chance of a repeat stays negligible far beyond the number of values one person's store holds.

Key derivation: Argon2id (RFC 9106's second recommendation: t=3, m=64 MiB, p=4, 16-byte salt).
The parameters are stored beside every wrapped key, so they can be raised later.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from memory.errors import StoreError

ENVELOPE_VERSION = 1
PADDED_VERSION = 2
"""An envelope whose plaintext is `length (8 bytes, big-endian) | data | zeros` up to a bucket
(`padded_size`), so its ciphertext's length tells only the bucket, not the exact length. The store's
rows use it; the key file and exports (one value each) do not."""
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
SALT_BYTES = 16
ENVELOPE_OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES

# Bounds for parameters read from files (a key file or an export): refuse values that would take
# minutes or gigabytes before the passphrase could even be checked (nothing is authenticated
# before the key is derived). The design's t=3, m=64 MiB, p=4 sit well inside (RFC 9106's first
# recommendation, t=1 at 2 GiB, is refused: it is not what this program writes).
MAX_TIME_COST = 10
MAX_MEMORY_KIB = 1024 * 1024  # 1 GiB
MAX_LANES = 16


class EnvelopeError(StoreError):
    """An envelope failed to open (bad version, too short, or failed authentication).

    The store turns this into `CorruptRecord`, which names the table and row.
    """


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters. The defaults are the design's; tests pass cheaper ones explicitly."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    lanes: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.time_cost <= MAX_TIME_COST:
            raise ValueError(f"time_cost must be in 1..{MAX_TIME_COST}, got {self.time_cost}")
        if not 1 <= self.lanes <= MAX_LANES:
            raise ValueError(f"lanes must be in 1..{MAX_LANES}, got {self.lanes}")
        if not 8 * self.lanes <= self.memory_kib <= MAX_MEMORY_KIB:
            raise ValueError(
                f"memory_kib must be in {8 * self.lanes}..{MAX_MEMORY_KIB} for {self.lanes} lanes, got {self.memory_kib}"
            )

    def to_json(self) -> dict[str, object]:
        """The parameters as stored in a key file or an export header."""
        return {"name": "argon2id", **asdict(self)}

    @classmethod
    def from_json(cls, obj: object) -> KdfParams:
        """Read parameters written by `to_json`; raises `ValueError` naming what is wrong."""
        if not isinstance(obj, dict) or obj.get("name") != "argon2id":
            raise ValueError("key derivation must be an object with name 'argon2id'")
        values = {}
        for field in ("time_cost", "memory_kib", "lanes"):
            value = obj.get(field)
            if type(value) is not int:
                raise ValueError(f"key derivation field {field!r} must be an integer")
            values[field] = value
        return cls(**values)


DESIGN_KDF = KdfParams()
"""The design's parameters (section 5): t=3, m=64 MiB, p=4."""

FAST_KDF_FOR_TESTS = KdfParams(time_cost=1, memory_kib=8, lanes=1)
"""Cheap parameters that keep test suites fast. Never use them for a real vault."""


def normalize_passphrase(passphrase: str) -> bytes:
    """The bytes a passphrase stands for: NFC-normalised UTF-8, so the same typed text always unlocks."""
    if not isinstance(passphrase, str):
        raise TypeError("a passphrase must be a str")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def derive_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    """A 32-byte key from a passphrase with Argon2id."""
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    if len(salt) != SALT_BYTES:
        raise ValueError(f"salt must be {SALT_BYTES} bytes, got {len(salt)}")
    kdf = Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=params.time_cost,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(normalize_passphrase(passphrase))


def random_key() -> bytes:
    """A fresh random 32-byte key."""
    return os.urandom(KEY_BYTES)


def random_salt() -> bytes:
    """A fresh random 16-byte salt."""
    return os.urandom(SALT_BYTES)


def associated_data(table: str, column: str, row: object, link: str | None = None) -> bytes:
    """The associated data binding a value to its place: `table|column|row id`.

    `link` names a plaintext reference the value must stay with (a message's conversation:
    `conversation_id=3`), appended as `|link`, so changing that reference fails authentication too.
    """
    base = f"{table}|{column}|{row}"
    return (base if link is None else f"{base}|{link}").encode()


class Cipher:
    """AES-256-GCM envelopes under one key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a key must be {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, ad: bytes, *, pad: bool = False) -> bytes:
        """Encrypt `plaintext` into an envelope bound to `ad` (padded to its bucket with `pad`)."""
        nonce = os.urandom(NONCE_BYTES)
        if not pad:
            return bytes((ENVELOPE_VERSION,)) + nonce + self._aead.encrypt(nonce, plaintext, ad)
        body = len(plaintext).to_bytes(8, "big") + plaintext
        body += bytes(padded_size(len(plaintext)) - len(body))
        # The version byte is in the associated data too: a padded envelope relabelled as plain fails.
        return bytes((PADDED_VERSION,)) + nonce + self._aead.encrypt(nonce, body, ad + b"|padded")

    def open(self, envelope: bytes, ad: bytes) -> bytes:
        """Decrypt an envelope made by `seal` with the same `ad`; raises `EnvelopeError`."""
        if not isinstance(envelope, (bytes, bytearray, memoryview)):
            raise EnvelopeError(f"an envelope must be bytes, got {type(envelope).__name__}")
        envelope = bytes(envelope)
        if len(envelope) < ENVELOPE_OVERHEAD:
            raise EnvelopeError(f"envelope too short ({len(envelope)} bytes)")
        if envelope[0] not in (ENVELOPE_VERSION, PADDED_VERSION):
            raise EnvelopeError(f"unknown envelope version {envelope[0]}")
        padded = envelope[0] == PADDED_VERSION
        nonce = envelope[1 : 1 + NONCE_BYTES]
        try:
            body = self._aead.decrypt(nonce, envelope[1 + NONCE_BYTES :], ad + b"|padded" if padded else ad)
        except InvalidTag:
            raise EnvelopeError("authentication failed") from None
        if not padded:
            return body
        n = int.from_bytes(body[:8], "big")
        if len(body) < 8 or n > len(body) - 8:
            raise EnvelopeError("padded envelope with a bad length")
        return body[8 : 8 + n]


def is_envelope(value: object) -> bool:
    """Whether a stored value has the shape of an envelope (for audits; says nothing of authenticity)."""
    return isinstance(value, bytes) and len(value) >= ENVELOPE_OVERHEAD and value[0] in (ENVELOPE_VERSION, PADDED_VERSION)


_SMALLEST_BUCKET = 256
_LARGE = 64 * 1024


def padded_size(n: int) -> int:
    """The bucket a plaintext of `n` bytes (with its 8-byte length) is padded to: the next power of
    two from 256 bytes up to 64 KiB, then the next multiple of 64 KiB (at most 2x, or +64 KiB)."""
    size = n + 8
    if size <= _LARGE:
        return max(_SMALLEST_BUCKET, 1 << (size - 1).bit_length())
    return -(-size // _LARGE) * _LARGE
