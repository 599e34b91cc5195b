"""Sentence vectors of messages and memories: computed once, sealed in the `vectors` table, opened
into the recall index only.

A vector can be inverted back into much of its text, so it is kept like the text: one AES-GCM
envelope per row (`RowCodec.seal`, bound to the table, column and row id "message:<id>" or
"memory:<id>"), never written anywhere in the clear, and deleted with its message or memory by
triggers in the database itself (`migrations.m006_meaning_vectors`), whichever path deletes it.

The embedder (`memory.embed`) is given by the application (`Store.use_embedder`); without one,
recall is BM25 alone and texts written meanwhile get their vectors later (`fill_vectors`).
An edit of a text replaces its vector in the same transaction, or drops it where there is no
embedder, so a vector never describes a text that is no longer there.

Envelope payload: a JSON header line {"model", "dim"} then `dim` little-endian float32s.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from memory.codec import dump_json
from memory.errors import CorruptRecord, StoreClosed, VaultLocked

if TYPE_CHECKING:
    from memory.codec import RowCodec
    from memory.embed import Embedder
    from memory.recall import RecallIndex

log = logging.getLogger(__name__)

TABLE = "vectors"
FILL_BATCH = 32
QUERY_CACHE = 8
_loading = threading.Lock()


def row_id(kind: str, ident: int) -> str:
    """The `vectors` row id of a message or memory."""
    return f"{kind}:{int(ident)}"


def pack(model: str, vector: np.ndarray) -> bytes:
    """The bytes sealed for one vector."""
    vector = np.asarray(vector, dtype="<f4").reshape(-1)
    return dump_json({"model": model, "dim": len(vector)}) + b"\n" + vector.tobytes()


def unpack(data: bytes, table_row: str) -> tuple[str, np.ndarray]:
    """(model, vector) from `pack`'s bytes; `CorruptRecord` if they do not hold one."""
    header, sep, floats = data.partition(b"\n")
    try:
        meta = json.loads(header.decode("utf-8")) if sep else None
        model, dim = meta["model"], int(meta["dim"])  # type: ignore[index]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise CorruptRecord(TABLE, table_row, "blob", "does not hold a vector") from None
    if len(floats) != 4 * dim:
        raise CorruptRecord(TABLE, table_row, "blob", f"holds {len(floats)} bytes for {dim} floats")
    return str(model), np.frombuffer(floats, dtype="<f4").astype(np.float32)


class VectorMixin:
    """`use_embedder`, the vectors written beside each indexed text, and `fill_vectors`."""

    _embedder: Embedder | None = None
    _embedder_loader: Callable[[], Embedder | None] | None = None
    fill_in_background = True
    """Whether building the recall index starts a thread that embeds the texts lacking vectors."""

    # Provided by StoreBase.
    _lock: Any
    _pending: Any
    _index: RecallIndex | None
    _index_generation: int

    def use_embedder(self, embedder: Embedder | Callable[[], Embedder | None] | None) -> None:
        """Recall by meaning with `embedder` (or with what the function `embedder` returns, loaded
        on first need: loading checks ~90 MB of weights); None: BM25 alone. The recall index is
        rebuilt on the next recall, with the vectors of the new model."""
        with self._lock:
            if embedder is None or hasattr(embedder, "embed"):
                self._embedder, self._embedder_loader = embedder, None  # type: ignore[assignment]
            else:
                self._embedder, self._embedder_loader = None, embedder  # type: ignore[assignment]
            self._index = None
            self._index_generation += 1
            self.__dict__.pop("_query_vectors", None)

    @property
    def embedder(self) -> Embedder | None:
        """The embedder in use (loaded now if it was given as a function), or None."""
        loader = self._embedder_loader
        if loader is not None:
            with _loading:
                if self._embedder_loader is loader:
                    try:
                        self._embedder = loader()
                    except Exception as exc:  # a broken model must not break the store: words only
                        log.warning("recall by meaning is off, recall uses words only: %s", exc)
                        self._embedder = None
                    self._embedder_loader = None
        return self._embedder

    def embed_query(self, text: str) -> np.ndarray | None:
        """The query's vector, or None without an embedder. The last few are kept (in memory
        only, forgotten at lock): the recall policy asks again, deeper, with the same text."""
        embedder = self.embedder
        if embedder is None:
            return None
        cache: dict[tuple[str, str], np.ndarray] = self.__dict__.setdefault("_query_vectors", {})
        key = (embedder.name, text)
        vector = cache.get(key)
        if vector is None:
            vector = embedder.embed([text])[0]
            if len(cache) >= QUERY_CACHE:
                cache.pop(next(iter(cache)))
            cache[key] = vector
        return vector

    def lock(self) -> None:
        """Forget the data key, the recall index and the queries' vectors."""
        super().lock()  # type: ignore[misc]
        self.__dict__.pop("_query_vectors", None)

    # --- writes, inside the caller's transaction ---------------------------------------------

    def _index_add(self, kind: str, ident: int, text: str, conversation_id: int | None, role: str | None = None) -> None:
        super()._index_add(kind, ident, text, conversation_id, role)  # type: ignore[misc]
        codec = self._require_codec()  # type: ignore[attr-defined]
        embedder = self.embedder
        key = row_id(kind, ident)
        if embedder is None:
            self._execute(f"DELETE FROM {TABLE} WHERE id = ?", [key])  # type: ignore[attr-defined]
            return
        vector = embedder.embed([text])[0]
        self._put_vector(codec, key, embedder.name, vector)
        self._pending.index.append(lambda index: index.set_vector((kind, ident), vector))

    def _put_vector(self, codec: RowCodec, key: str, model: str, vector: np.ndarray) -> None:
        sealed = codec.seal(TABLE, "blob", key, pack(model, vector))
        self._execute(f"INSERT OR REPLACE INTO {TABLE} (id, blob) VALUES (?, ?)", [key, sealed])  # type: ignore[attr-defined]

    # --- reads -------------------------------------------------------------------------------

    def _vector_rows(self) -> list[tuple[Any, ...]]:
        """Every sealed vector row (read under the store's lock)."""
        return self._execute(f"SELECT id, blob FROM {TABLE}").fetchall()  # type: ignore[attr-defined]

    def _open_vectors(self, codec: RowCodec, rows: list[tuple[Any, ...]], index: RecallIndex) -> None:
        """Put the stored vectors of the current model into `index` (others are left for `fill_vectors`)."""
        embedder = self._embedder if self._embedder_loader is None else self.embedder
        model = embedder.name if embedder is not None else None
        for key, blob in rows:
            kind, _, ident = str(key).partition(":")
            try:
                name, vector = unpack(codec.open(TABLE, "blob", key, blob), key)
            except CorruptRecord as exc:
                log.info("a damaged vector was left out: %s", exc)
                continue
            if name == model and ident.lstrip("-").isdigit():
                index.set_vector((kind, int(ident)), vector)

    # --- the texts that lack a vector ----------------------------------------------------------

    def fill_vectors(self, batch: int = FILL_BATCH) -> int:
        """Embed every indexed text that has no vector of the current model, store and index them;
        how many were written. Embedding runs outside the store's lock, a batch at a time; a text
        deleted or edited meanwhile is skipped (its own write took care of it)."""
        embedder = self.embedder
        if embedder is None:
            return 0
        with self._lock:
            index = self._index
            if index is None:
                return 0
            missing = [key for key in index.keys() if not index.has_vector(key)]
        done = 0
        for start in range(0, len(missing), batch):
            with self._lock:
                if self._index is not index:
                    return done  # locked, restored or rebuilt meanwhile
                todo = [(key, index.text(key)) for key in missing[start : start + batch]]
            todo = [(key, text) for key, text in todo if text is not None]
            if not todo:
                continue
            vectors = embedder.embed([text for _, text in todo])
            with self.transaction():  # type: ignore[attr-defined]
                codec = self._require_codec()  # type: ignore[attr-defined]
                if self._index is not index:
                    return done
                for (key, text), vector in zip(todo, vectors, strict=True):
                    if index.text(key) != text or index.has_vector(key):
                        continue  # edited or deleted meanwhile: its own write took care of it
                    self._put_vector(codec, row_id(*key), embedder.name, vector)
                    index.set_vector(key, vector)
                    done += 1
        return done

    def _fill_in_background(self) -> None:
        def run() -> None:
            try:
                self.fill_vectors()
            except (VaultLocked, StoreClosed):
                pass  # locked or closed meanwhile: the next unlock goes on
            except Exception:
                log.exception("embedding the texts that lack vectors failed")

        threading.Thread(target=run, name="fill-vectors", daemon=True).start()
