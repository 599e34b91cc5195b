"""Row values in and out of envelopes, bound to their table, column and row.

The one place where the data key meets the database: everything the store writes goes through
`seal` / `seal_json`, everything it reads through `open` / `open_json`, and a value that fails
to open becomes a `CorruptRecord` naming its table, row and column.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from memory.crypto import Cipher, EnvelopeError, associated_data
from memory.errors import CorruptRecord

_SETTINGS_ID_INFO = b"assistant|settings-id|v1"
_INTEGRITY_INFO = b"assistant|integrity|v1"


def dump_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON (NaN and infinities allowed: training metrics can hold them)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class RowCodec:
    """Seals and opens row values under the data key."""

    __slots__ = ("_cipher", "_integrity_key", "_name_key")

    def __init__(self, data_key: bytes) -> None:
        self._cipher = Cipher(data_key)
        # A subkey for naming settings rows, so the data key is only ever used with AES-GCM.
        self._name_key = hmac.new(data_key, _SETTINGS_ID_INFO, hashlib.sha256).digest()
        self._integrity_key = hmac.new(data_key, _INTEGRITY_INFO, hashlib.sha256).digest()

    @property
    def integrity_key(self) -> bytes:
        """The subkey of the whole-store manifest (`memory.integrity`)."""
        return self._integrity_key

    def seal(self, table: str, column: str, row: object, data: bytes, *, link: str | None = None) -> bytes:
        """The envelope of `data` for (table, column, row) (and `link`: see `associated_data`)."""
        # Padded to a bucket (`memory.crypto.padded_size`): a ciphertext does not tell a message's length.
        return self._cipher.seal(bytes(data), associated_data(table, column, row, link), pad=True)

    def open(self, table: str, column: str, row: object, envelope: object, *, link: str | None = None) -> bytes:
        """The bytes sealed for (table, column, row); `CorruptRecord` if they do not authenticate."""
        try:
            return self._cipher.open(envelope, associated_data(table, column, row, link))  # type: ignore[arg-type]
        except EnvelopeError as exc:
            raise CorruptRecord(table, row, column, str(exc)) from None

    def seal_json(self, table: str, row: object, obj: Any, column: str = "payload", *, link: str | None = None) -> bytes:
        """The envelope of `obj` as JSON."""
        return self.seal(table, column, row, dump_json(obj), link=link)

    def open_json(
        self, table: str, row: object, envelope: object, column: str = "payload", *, link: str | None = None
    ) -> dict[str, Any]:
        """The JSON object sealed for (table, column, row)."""
        data = self.open(table, column, row, envelope, link=link)
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise CorruptRecord(table, row, column, "does not hold valid JSON") from None
        if not isinstance(obj, dict):
            raise CorruptRecord(table, row, column, "does not hold a JSON object")
        return obj

    def setting_id(self, name: str) -> str:
        """The row id of a setting: a keyed hash of its name, so names are not stored in the clear."""
        return hmac.new(self._name_key, name.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
