"""Ciphertext lengths are padded to buckets (issue 16): a row's envelope tells its bucket, not the
exact length of the message in it."""

from __future__ import annotations

import pytest

from memory.codec import RowCodec
from memory.crypto import PADDED_VERSION, Cipher, EnvelopeError, padded_size


def payload_length(store, message_id: int) -> int:
    (payload,) = store._db.conn.execute("SELECT payload FROM messages WHERE id = ?", [message_id]).fetchone()
    return len(payload)


def test_messages_of_different_lengths_have_envelopes_of_one_length(store):
    """Regression (issue 16): ciphertext lengths revealed exact message lengths."""
    conv = store.add_conversation("c")
    lengths = {payload_length(store, store.add_message(conv.id, "user", "x" * n).id) for n in (1, 17, 60, 150)}
    assert len(lengths) == 1
    longer = store.add_message(conv.id, "user", "y" * 400)
    assert payload_length(store, longer.id) > lengths.pop()  # the next bucket
    assert store.get_message(longer.id).text == "y" * 400


@pytest.mark.parametrize("n, bucket", [(0, 256), (248, 256), (249, 512), (40_000, 65_536), (65_529, 131_072), (200_000, 262_144)])
def test_buckets(n, bucket):
    assert padded_size(n) == bucket and padded_size(n) >= n + 8


def test_envelopes_written_before_padding_still_open():
    key = bytes(32)
    codec = RowCodec(key)
    legacy = Cipher(key).seal(b'{"text":"old"}', b"messages|payload|1")
    assert codec.open("messages", "payload", 1, legacy) == b'{"text":"old"}'
    padded = codec.seal("messages", "payload", 1, b'{"text":"new"}')
    assert padded[0] == PADDED_VERSION and codec.open("messages", "payload", 1, padded) == b'{"text":"new"}'


def test_a_padded_envelope_relabelled_as_unpadded_fails():
    cipher = Cipher(bytes(32))
    padded = cipher.seal(b"secret", b"ad", pad=True)
    with pytest.raises(EnvelopeError):
        cipher.open(bytes((1,)) + padded[1:], b"ad")
