"""The envelope and the key derivation (memory/crypto.py)."""

from __future__ import annotations

import pytest

from memory.crypto import (
    DESIGN_KDF,
    ENVELOPE_OVERHEAD,
    ENVELOPE_VERSION,
    NONCE_BYTES,
    Cipher,
    EnvelopeError,
    KdfParams,
    associated_data,
    derive_key,
    random_key,
)

AD = associated_data("messages", "payload", 7)


def test_envelope_round_trips_and_has_the_designed_layout():
    cipher = Cipher(random_key())
    envelope = cipher.seal(b"hello", AD)
    assert envelope[0] == ENVELOPE_VERSION
    assert len(envelope) == len(b"hello") + ENVELOPE_OVERHEAD
    assert cipher.open(envelope, AD) == b"hello"


def test_envelope_is_bound_to_table_column_and_row():
    cipher = Cipher(random_key())
    envelope = cipher.seal(b"hello", AD)
    for other in (
        associated_data("messages", "payload", 8),
        associated_data("memories", "payload", 7),
        associated_data("messages", "blob", 7),
    ):
        with pytest.raises(EnvelopeError):
            cipher.open(envelope, other)


@pytest.mark.parametrize("position", [0, 1, NONCE_BYTES, NONCE_BYTES + 1, -1])
def test_any_flipped_bit_fails_to_open(position):
    cipher = Cipher(random_key())
    envelope = bytearray(cipher.seal(b"some secret text", AD))
    envelope[position] ^= 0x01
    with pytest.raises(EnvelopeError):
        cipher.open(bytes(envelope), AD)


def test_truncated_envelope_fails_to_open():
    cipher = Cipher(random_key())
    envelope = cipher.seal(b"some secret text", AD)
    for size in (0, 5, ENVELOPE_OVERHEAD - 1, len(envelope) - 1):
        with pytest.raises(EnvelopeError):
            cipher.open(envelope[:size], AD)


def test_another_key_fails_to_open():
    envelope = Cipher(random_key()).seal(b"x", AD)
    with pytest.raises(EnvelopeError):
        Cipher(random_key()).open(envelope, AD)


def test_nonces_never_repeat_over_10000_encryptions():
    cipher = Cipher(random_key())
    nonces = {cipher.seal(b"same text", AD)[1 : 1 + NONCE_BYTES] for _ in range(10_000)}
    assert len(nonces) == 10_000


NONCE_WRITER = """
import sys
from memory.crypto import NONCE_BYTES, Cipher, associated_data
key, count = bytes.fromhex(sys.argv[1]), int(sys.argv[2])
cipher = Cipher(key)
ad = associated_data("messages", "payload", 7)
for _ in range(count):
    print(cipher.seal(b"same text", ad)[1 : 1 + NONCE_BYTES].hex())
"""


def test_nonces_never_repeat_across_processes_sharing_a_key():
    """Regression guard (issue 18): one process cannot catch a nonce counter or generator that
    restarts per process; several processes encrypting under the same key, started afresh and
    forked from a parent that has encrypted already, must never repeat a nonce between them."""
    import multiprocessing
    import subprocess
    import sys
    from pathlib import Path

    key, count = random_key(), 2_000
    root = Path(__file__).resolve().parents[2]
    writers = [
        subprocess.Popen([sys.executable, "-c", NONCE_WRITER, key.hex(), str(count)], cwd=root,
                         stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    per_process = [writer.communicate(timeout=120)[0].split() for writer in writers]
    assert [writer.returncode for writer in writers] == [0] * 4

    cipher = Cipher(key)
    cipher.seal(b"before the fork", AD)  # any generator state is now set, and inherited
    fork = multiprocessing.get_context("fork")
    with fork.Pool(2) as pool:
        per_process += pool.map(_forked_nonces, [(key, count)] * 2, chunksize=1)

    assert [len(nonces) for nonces in per_process] == [count] * 6
    assert all(len(bytes.fromhex(n)) == NONCE_BYTES for n in per_process[0][:3])
    every = [n for nonces in per_process for n in nonces]
    assert len(set(every)) == len(every)


def _forked_nonces(job: tuple[bytes, int]) -> list[str]:
    key, count = job
    cipher = Cipher(key)
    return [cipher.seal(b"same text", AD)[1 : 1 + NONCE_BYTES].hex() for _ in range(count)]


def test_default_kdf_parameters_are_the_designs():
    """Design section 5: Argon2id t=3, m=64 MiB, p=4 (RFC 9106's second recommendation)."""
    assert (DESIGN_KDF.time_cost, DESIGN_KDF.memory_kib, DESIGN_KDF.lanes) == (3, 65536, 4)
    assert KdfParams() == DESIGN_KDF
    assert DESIGN_KDF.to_json() == {"name": "argon2id", "time_cost": 3, "memory_kib": 65536, "lanes": 4}


def test_kdf_parameters_out_of_bounds_are_refused():
    with pytest.raises(ValueError, match="time_cost"):
        KdfParams(time_cost=0)
    with pytest.raises(ValueError, match="memory_kib"):
        KdfParams(memory_kib=7, lanes=1)
    with pytest.raises(ValueError, match="argon2id"):
        KdfParams.from_json({"name": "scrypt"})
    with pytest.raises(ValueError, match="integer"):
        KdfParams.from_json({"name": "argon2id", "time_cost": "3", "memory_kib": 8, "lanes": 1})


def test_derived_key_depends_on_passphrase_salt_and_parameters():
    fast = KdfParams(time_cost=1, memory_kib=8, lanes=1)
    salt = bytes(16)
    key = derive_key("pass", salt, fast)
    assert len(key) == 32
    assert key == derive_key("pass", salt, fast)
    assert key != derive_key("pasS", salt, fast)
    assert key != derive_key("pass", bytes(15) + b"\x01", fast)
    assert key != derive_key("pass", salt, KdfParams(time_cost=2, memory_kib=8, lanes=1))


def test_passphrase_is_unicode_normalised():
    """The same typed text unlocks whether the keyboard produced composed or decomposed accents."""
    fast = KdfParams(time_cost=1, memory_kib=8, lanes=1)
    assert derive_key("caf\u00e9", bytes(16), fast) == derive_key("cafe\u0301", bytes(16), fast)
