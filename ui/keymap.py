"""The user's key bindings: `keys.json` in the data directory, read by the app and checked by `doctor`.

The file holds a JSON object of binding id -> key(s), e.g. `{"chat.new": "ctrl+n"}` (F1 lists the
ids). It is read, never written: a file that does not parse is reported and the default keys are
used, so the user's file stays theirs to fix.
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant import paths
from assistant.doctor import Check

KEYS_FILE = "keys.json"
"""The key-binding file in the data directory: a JSON object of binding id -> key(s)."""


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


def check_keys(home: Path | None = None) -> list[Check]:
    """`assistant doctor`'s look at the key-binding file, if the user wrote one."""
    path = keys_file(home)
    if not path.exists():
        return []
    keymap, problems = load_keymap(path)
    if problems:
        return [Check("key bindings", "warn", problem, f"edit {path}") for problem in problems]
    return [Check("key bindings", "ok", f"{path} ({len(keymap)} rebound)")]
