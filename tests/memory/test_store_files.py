"""Private files: atomic writes and shredding never follow a symlink or use a guessable name."""

from __future__ import annotations

import os
import stat

from memory.files import atomic_write, shred


def test_atomic_write_ignores_a_symlink_planted_at_the_old_temporary_name(tmp_path):
    """Regression: atomic_write used `.NAME.<pid>.tmp`, predictable, and opened it without O_EXCL,
    so a symlink planted there redirected the secret bytes into the link's target."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    target = tmp_path / "vault.json"
    (tmp_path / f".vault.json.{os.getpid()}.tmp").symlink_to(victim)
    atomic_write(target, b"secret key file")
    assert victim.read_bytes() == b"untouched"
    assert target.read_bytes() == b"secret key file"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not target.is_symlink()


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "file"
    atomic_write(target, b"one")
    atomic_write(target, b"two", shred_old=True)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    assert target.read_bytes() == b"two"


def test_shred_removes_a_symlink_without_touching_its_target(tmp_path):
    """Regression: shred opened the path without O_NOFOLLOW and overwrote whatever a symlink named."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"the user's file")
    link = tmp_path / "vault.json"
    link.symlink_to(victim)
    shred(link)
    assert not os.path.lexists(link)
    assert victim.read_bytes() == b"the user's file"


def test_shred_overwrites_through_every_hard_link(tmp_path):
    path = tmp_path / "vault.json"
    path.write_bytes(b"wrapped key " * 10)
    link = tmp_path / "link"
    link.hardlink_to(path)
    shred(path)
    assert not path.exists()
    assert link.stat().st_size == 120 and b"wrapped key" not in link.read_bytes()
