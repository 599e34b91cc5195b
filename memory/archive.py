"""Export and import: one versioned, authenticated, encrypted file holding the whole store.

File layout (version 1):

    ASSISTANT-EXPORT\\n                       magic line
    {"format": "assistant-export", ...}\\n    header: JSON on one line (version, KDF, salt)
    <envelope>                                AES-256-GCM envelope (`memory.crypto`) of the
                                              zlib-compressed JSON payload

The key is Argon2id of the export passphrase (its own passphrase, not the store's) with the
header's parameters and salt. The associated data is the magic line plus the header line, so
any change to the header fails authentication like a change to the payload. Reading checks,
in order: magic, header, format version, KDF bounds, authenticity, then the payload's shape
and references; only then does `import_export` touch the store, in one transaction. Every
failure is an `ExportFormatError` (`ExportVersionError`, `ExportAuthError`); nothing else
escapes the reader.

A plaintext export (`memory.plaintext.write_plaintext_export`) writes the same payload readable.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from memory.codec import dump_json
from memory.crypto import DESIGN_KDF, Cipher, EnvelopeError, KdfParams, derive_key, random_salt
from memory.errors import ExportAuthError, ExportFormatError, ExportPathError, ExportVersionError
from memory.facts import memory_from_payload, memory_payload
from memory.files import atomic_write
from memory.records import (
    AdapterVersion,
    Conversation,
    LogEvent,
    Memory,
    Message,
    RecurrentState,
    ReplayItem,
    Snapshot,
    Sources,
)

if TYPE_CHECKING:
    from memory.store import Store

MAGIC = b"ASSISTANT-EXPORT\n"
EXPORT_FORMAT = "assistant-export"
EXPORT_VERSION = 1
PAYLOAD_FORMAT = "assistant-store"
MAX_HEADER_BYTES = 4096
# Tighter than a vault's bounds: an export may come from anywhere.
MAX_EXPORT_TIME_COST = 16
MAX_EXPORT_MEMORY_KIB = 1024 * 1024  # 1 GiB
# The decompressed payload's limit: far above a real store (messages, states, adapters), far below
# what a few kilobytes of crafted zlib data could otherwise expand to in memory.
MAX_PAYLOAD_BYTES = 1024 * 1024 * 1024  # 1 GiB
PLAINTEXT_JSON = "export.json"  # what marks a plaintext export directory (memory/plaintext.py)

T = TypeVar("T")


# === the payload: snapshot <-> JSON ===========================================================


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sources_json(sources: Sources, with_replay: bool) -> dict[str, list[int]]:
    obj = {"messages": sorted(sources.message_ids), "memories": sorted(sources.memory_ids)}
    if with_replay:
        obj["replay_items"] = sorted(sources.replay_ids)
    return obj


def snapshot_to_json(snap: Snapshot) -> dict[str, Any]:
    """The payload object of an export (bytes as base64)."""
    return {
        "format": PAYLOAD_FORMAT,
        "version": EXPORT_VERSION,
        "exported": time.time(),
        "conversations": [
            {"id": c.id, "title": c.title, "created": c.created, "updated": c.updated} for c in snap.conversations
        ],
        "messages": [
            {
                "id": m.id,
                "conversation_id": m.conversation_id,
                "role": m.role,
                "text": m.text,
                "created": m.created,
                "cut": m.cut,
            }
            for m in snap.messages
        ],
        "states": [
            {
                "conversation_id": s.conversation_id,
                "tag": s.tag,
                "updated": s.updated,
                "data": _b64(s.data),
                # What else the state read (None: unknown), so forgetting reaches it after an import.
                "read": None if s.read is None else _sources_json(s.read, with_replay=False),
            }
            for s in snap.states
        ],
        "adapter_versions": [
            {
                "version": a.version,
                "metrics": a.metrics,
                "created": a.created,
                "parent": a.parent,
                "seen": _sources_json(a.seen, with_replay=True),
                "data": _b64(a.data),
            }
            for a in snap.adapter_versions
        ],
        "replay_items": [
            {"id": r.id, "text": r.text, "created": r.created, "sources": _sources_json(r.sources, with_replay=False)}
            for r in snap.replay_items
        ],
        "memories": [{"id": m.id, **memory_payload(m)} for m in snap.memories],
        "settings": snap.settings,
        "learning_log": [{"id": e.id, "kind": e.kind, "detail": e.detail, "time": e.time} for e in snap.learning_log],
    }


class _Fields:
    """Typed access to one JSON object of the payload; every mismatch is an `ExportFormatError`."""

    def __init__(self, obj: object, where: str) -> None:
        if not isinstance(obj, dict):
            raise ExportFormatError(f"{where}: expected an object")
        self.obj = obj
        self.where = where

    def _get(self, name: str) -> Any:
        if name not in self.obj:
            raise ExportFormatError(f"{self.where}: missing field {name!r}")
        return self.obj[name]

    def _fail(self, name: str, expected: str) -> ExportFormatError:
        return ExportFormatError(f"{self.where}.{name}: expected {expected}")

    def int(self, name: str) -> int:
        value = self._get(name)
        if type(value) is not int:
            raise self._fail(name, "an integer")
        return value

    def id(self, name: str) -> int:
        value = self.int(name)
        if not 0 < value < 2**63:
            raise self._fail(name, "a positive 64-bit id")
        return value

    def optional_id(self, name: str) -> int | None:
        return None if self._get(name) is None else self.id(name)

    def num(self, name: str) -> float:
        value = self._get(name)
        if type(value) not in (int, float):
            raise self._fail(name, "a number")
        try:
            return float(value)
        except OverflowError:
            raise self._fail(name, "a number in range") from None

    def str(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str):
            raise self._fail(name, "a string")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # JSON can spell lone surrogates; UTF-8 cannot store them
            raise self._fail(name, "valid Unicode text") from None
        return value

    def bool(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise self._fail(name, "true or false")
        return value

    def dict(self, name: str) -> dict[str, Any]:
        value = self._get(name)
        if not isinstance(value, dict):
            raise self._fail(name, "an object")
        return value

    def list(self, name: str) -> list[Any]:
        value = self._get(name)
        if not isinstance(value, list):
            raise self._fail(name, "a list")
        return value

    def bytes(self, name: str) -> bytes:
        value = self.str(name)
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self._fail(name, "base64 data") from None

    def ids(self, name: str) -> frozenset[int]:
        values = self.list(name)
        if not all(type(v) is int and 0 < v < 2**63 for v in values):
            raise self._fail(name, "a list of positive 64-bit ids")
        return frozenset(values)


def _records(payload: _Fields, name: str, parse: Callable[[_Fields], T]) -> list[T]:
    return [parse(_Fields(item, f"{name}[{n}]")) for n, item in enumerate(payload.list(name))]


def _memory(f: _Fields) -> Memory:
    """A memory with every field it carries (source, slot, supersession, uses), each type-checked."""
    ident = f.id("id")
    f.str("text"), f.num("created"), f.num("updated")  # the fields every export has, checked by type
    for name in ("conversation_id", "message_id", "superseded_by"):
        if f.obj.get(name) is not None:
            f.id(name)
    for name in ("said_at", "superseded_at"):
        if f.obj.get(name) is not None:
            f.num(name)
    try:
        return memory_from_payload(ident, f.obj)
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportFormatError(f"{f.where}: {exc}") from None


def _unique(items: list[Any], key: Callable[[Any], int], what: str) -> set[int]:
    seen: set[int] = set()
    for item in items:
        ident = key(item)
        if ident in seen:
            raise ExportFormatError(f"{what}: id {ident} appears twice")
        seen.add(ident)
    return seen


def _check_json_values(value: Any, where: str) -> None:
    """Settings, metrics and log details must be JSON the store can write back (string keys)."""
    try:
        dump_json(value)
    except (TypeError, ValueError, RecursionError):
        raise ExportFormatError(f"{where}: not storable JSON") from None


def snapshot_from_json(obj: object) -> Snapshot:
    """Parse and check a payload object; raises `ExportFormatError` naming the first problem."""
    payload = _Fields(obj, "payload")
    if payload.obj.get("format") != PAYLOAD_FORMAT:
        raise ExportFormatError("payload: not an assistant store export")
    if payload.obj.get("version") != EXPORT_VERSION:
        raise ExportVersionError(f"payload version {payload.obj.get('version')!r} is not supported")

    def sources(f: _Fields, name: str, with_replay: bool) -> Sources:
        s = _Fields(f.dict(name), f"{f.where}.{name}")
        return Sources(s.ids("messages"), s.ids("memories"), s.ids("replay_items") if with_replay else frozenset())

    snap = Snapshot()
    snap.conversations = _records(
        payload, "conversations", lambda f: Conversation(f.id("id"), f.str("title"), f.num("created"), f.num("updated"))
    )
    snap.messages = _records(
        payload,
        "messages",
        lambda f: Message(
            f.id("id"), f.id("conversation_id"), f.str("role"), f.str("text"), f.num("created"), f.bool("cut")
        ),
    )
    snap.states = _records(
        payload,
        "states",
        lambda f: RecurrentState(
            f.id("conversation_id"),
            f.bytes("data"),
            f.str("tag"),
            f.num("updated"),
            # Exports written before this was carried have no "read": unknown, as null is.
            None if f.obj.get("read") is None else sources(f, "read", with_replay=False),
        ),
    )
    snap.adapter_versions = _records(
        payload,
        "adapter_versions",
        lambda f: AdapterVersion(
            f.id("version"),
            f.dict("metrics"),
            f.num("created"),
            f.optional_id("parent"),
            sources(f, "seen", with_replay=True),
            f.bytes("data"),
        ),
    )
    snap.replay_items = _records(
        payload,
        "replay_items",
        lambda f: ReplayItem(f.id("id"), f.str("text"), f.num("created"), sources(f, "sources", with_replay=False)),
    )
    snap.memories = _records(payload, "memories", _memory)
    snap.settings = payload.dict("settings")
    snap.learning_log = _records(
        payload, "learning_log", lambda f: LogEvent(f.id("id"), f.str("kind"), f.dict("detail"), f.num("time"))
    )

    conversations = _unique(snap.conversations, lambda c: c.id, "conversations")
    _unique(snap.messages, lambda m: m.id, "messages")
    _unique(snap.states, lambda s: s.conversation_id, "states")
    _unique(snap.adapter_versions, lambda a: a.version, "adapter_versions")
    _unique(snap.replay_items, lambda r: r.id, "replay_items")
    _unique(snap.memories, lambda m: m.id, "memories")
    _unique(snap.learning_log, lambda e: e.id, "learning_log")
    for n, m in enumerate(snap.messages):
        if m.conversation_id not in conversations:
            raise ExportFormatError(f"messages[{n}]: conversation {m.conversation_id} is not in the export")
        if not m.role:
            raise ExportFormatError(f"messages[{n}].role: must not be empty")
    for n, s in enumerate(snap.states):
        if s.conversation_id not in conversations:
            raise ExportFormatError(f"states[{n}]: conversation {s.conversation_id} is not in the export")
    for n, a in enumerate(snap.adapter_versions):
        _check_json_values(a.metrics, f"adapter_versions[{n}].metrics")
    for n, e in enumerate(snap.learning_log):
        _check_json_values(e.detail, f"learning_log[{n}].detail")
    _check_json_values(snap.settings, "settings")
    return snap


# === the file =================================================================================


def _header(params: KdfParams, salt: bytes) -> bytes:
    header = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "cipher": "aes-256-gcm",
        "compression": "zlib",
        "kdf": params.to_json(),
        "salt": _b64(salt),
    }
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"


def encode_export(snap: Snapshot, passphrase: str, *, kdf: KdfParams = DESIGN_KDF) -> bytes:
    """The bytes of an encrypted export of `snap` under `passphrase`."""
    if not passphrase:
        raise ValueError("the export passphrase must not be empty")
    salt = random_salt()
    header = _header(kdf, salt)
    plaintext = zlib.compress(dump_json(snapshot_to_json(snap)), 6)
    envelope = Cipher(derive_key(passphrase, salt, kdf)).seal(plaintext, MAGIC + header)
    return MAGIC + header + envelope


def _parse_header(data: bytes) -> tuple[bytes, KdfParams, bytes, bytes]:
    """(header line, KDF parameters, salt, envelope) of an export's bytes."""
    if not data.startswith(MAGIC):
        raise ExportFormatError("not an assistant export (the file does not start with the export signature)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        raise ExportFormatError("the export's header is truncated or garbled")
    line = data[len(MAGIC) : end + 1]
    try:
        header = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ExportFormatError("the export's header is garbled (not JSON)") from None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise ExportFormatError("the export's header does not name the assistant export format")
    version = header.get("version")
    if version != EXPORT_VERSION or type(version) is not int:
        raise ExportVersionError(
            f"the export has format version {version!r}; this program reads version {EXPORT_VERSION}"
        )
    if header.get("cipher") != "aes-256-gcm" or header.get("compression") != "zlib":
        raise ExportFormatError("the export names a cipher or compression this program does not know")
    try:
        params = KdfParams.from_json(header.get("kdf"))
    except ValueError as exc:
        raise ExportFormatError(f"the export's header is invalid: {exc}") from None
    if params.time_cost > MAX_EXPORT_TIME_COST or params.memory_kib > MAX_EXPORT_MEMORY_KIB:
        raise ExportFormatError("the export asks for key-derivation costs beyond this program's limits")
    salt_text = header.get("salt")
    try:
        salt = base64.b64decode(salt_text, validate=True) if isinstance(salt_text, str) else b""
    except (binascii.Error, ValueError):
        salt = b""
    if len(salt) != 16:
        raise ExportFormatError("the export's header has no valid 16-byte salt")
    return line, params, salt, data[end + 1 :]


def decode_export(data: bytes, passphrase: str, *, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> Snapshot:
    """Check and decrypt an export's bytes. Raises only `ExportFormatError` (and its subclasses).

    The decompressed payload may not exceed `max_payload_bytes`.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise ExportFormatError("an export must be read as bytes")
    data = bytes(data)
    line, params, salt, envelope = _parse_header(data)
    if not envelope:
        raise ExportFormatError("the export is truncated (no encrypted payload after the header)")
    try:
        key = derive_key(passphrase, salt, params)
        plaintext = Cipher(key).open(envelope, MAGIC + line)
    except EnvelopeError:
        raise ExportAuthError(
            "the export does not authenticate: the export passphrase is wrong, or the file was modified or truncated"
        ) from None
    try:
        obj = json.loads(_decompress(plaintext, max_payload_bytes).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ExportFormatError("the export's payload is not readable (compressed JSON expected)") from None
    return snapshot_from_json(obj)


def _decompress(data: bytes, limit: int) -> bytes:
    """zlib-decompress `data`, refusing to produce more than `limit` bytes (a decompression bomb)."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit + 1)
    if not inflater.unconsumed_tail:  # all input taken: what zlib still buffers is at most a window
        out += inflater.flush()
    if len(out) > limit or inflater.unconsumed_tail:
        raise ExportFormatError(f"the export's payload expands beyond {limit} bytes, more than this program reads")
    if not inflater.eof or inflater.unused_data:
        raise ExportFormatError("the export's payload is not readable (compressed data truncated or followed by junk)")
    return out


def write_export(snap: Snapshot, path: Path, passphrase: str, *, kdf: KdfParams = DESIGN_KDF, overwrite: bool = False) -> int:
    """Write an encrypted export file (mode 0600, atomically); returns its size in bytes."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ExportPathError(f"{path} exists already (choose another path, or allow overwriting)")
    if not path.parent.is_dir():
        raise ExportPathError(f"{path.parent} is not a directory")
    data = encode_export(snap, passphrase, kdf=kdf)
    atomic_write(path, data)
    return len(data)


def read_export(path: Path, passphrase: str) -> Snapshot:
    """Read and check an export file (see `decode_export`)."""
    path = Path(path)
    if path.is_dir():
        if (path / PLAINTEXT_JSON).exists():
            raise ExportFormatError(f"{path} is a plaintext export, which cannot be imported (it has no authenticity)")
        raise ExportFormatError(f"{path} is a directory, not an export file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ExportPathError(f"{path} does not exist") from None
    return decode_export(data, passphrase)


def export_store(store: Store, path: Path, passphrase: str, *, kdf: KdfParams = DESIGN_KDF, overwrite: bool = False) -> dict[str, int]:
    """Write an encrypted export of everything in `store`; returns the counts exported."""
    snap = store.snapshot()
    write_export(snap, path, passphrase, kdf=kdf, overwrite=overwrite)
    return snap.counts()


def import_export(store: Store, path: Path, passphrase: str, *, merge: bool = False) -> dict[str, int]:
    """Restore an export into `store` (replace, or `merge`); returns the counts imported.

    The file is read, authenticated and checked completely before the store is touched, and the
    store changes in one transaction: on any failure it is left exactly as it was.
    """
    snap = read_export(path, passphrase)
    return store.restore(snap, merge=merge)


# === plaintext ================================================================================
