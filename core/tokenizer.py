"""The tokenizer: sentencepiece (BPE, byte fallback) with the role tokens as single ids.

Normalisation is the identity and no whitespace is added or removed, so `decode(encode(s)) == s`
for any text, including unusual Unicode (byte fallback covers what the vocabulary lacks).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import sentencepiece as spm

from core.errors import ModelFilesError
from core.template import END, ROLE_TOKENS, render_chat


class Tokenizer:
    """Wraps a sentencepiece model; knows the role tokens and the chat template."""

    def __init__(self, model_proto: bytes) -> None:
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.proto = model_proto
        missing = [t for t in ROLE_TOKENS if self.sp.piece_to_id(t) == self.sp.unk_id()]
        if missing:
            raise ModelFilesError(f"tokenizer lacks the role tokens {missing}")
        self.role_ids = {t: self.sp.piece_to_id(t) for t in ROLE_TOKENS}
        self.end_id = self.role_ids[END]

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        path = Path(path)
        if not path.is_file():
            raise ModelFilesError(f"tokenizer file not found: {path}")
        try:
            return cls(path.read_bytes())
        except RuntimeError as exc:
            raise ModelFilesError(f"{path} is not a sentencepiece model: {exc}") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.proto)

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.sp.decode(list(ids))

    def encode_chat(
        self, messages: Sequence[tuple[str, str]], memory: Sequence[str] | None = None, *, add_generation_prompt: bool = True
    ) -> list[int]:
        return self.encode(render_chat(messages, memory, add_generation_prompt=add_generation_prompt))


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 8192, *, max_sentence_length: int = 16384, seed_sentences: int = 2_000_000
) -> Tokenizer:
    """Train a BPE sentencepiece model in memory on `texts` (one document per item)."""

    def lines() -> Iterator[str]:
        for text in texts:
            for line in text.splitlines():
                if line.strip():
                    yield line[:max_sentence_length]

    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=lines(),
        model_writer=proto,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        user_defined_symbols=list(ROLE_TOKENS),
        normalization_rule_name="identity",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        character_coverage=0.9995,
        input_sentence_size=seed_sentences,
        shuffle_input_sentence=True,
        max_sentence_length=max_sentence_length,
        num_threads=2,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        unk_id=0,
        minloglevel=2,
    )
    return Tokenizer(proto.getvalue())
