"""The interfaces depend on `assistant` only: no module under ui/ imports `core` or `memory`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package, forbidden", [
    ("ui", {"core", "memory"}),
    ("core", {"memory", "assistant", "ui"}),
    ("memory", {"core", "assistant", "ui", "torch"}),
    ("assistant", {"ui"}),
])
def test_dependencies_point_one_way(package, forbidden):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & forbidden)
        for path in (ROOT / package).rglob("*.py")
        if imported_packages(path) & forbidden
    }
    assert offenders == {}


MAX_MODULE_LINES = 600
"""No module outside the offline pipeline (core/training/) and the tests is longer than this."""


def test_no_module_outside_the_training_pipeline_is_over_600_lines():
    """STYLE.md: a module does one thing, and its name says which; a long one is split by job."""
    training = ROOT / "core" / "training"
    too_long = {
        str(path.relative_to(ROOT)): lines
        for package in ("assistant", "core", "memory", "ui", "models")
        for path in sorted((ROOT / package).rglob("*.py"))
        if not path.is_relative_to(training)
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}


# --- the runtime never imports the offline pipeline (core/training/) ---------------------------

TRAINING = "core.training"
RUNTIME = ("core", "memory", "assistant/session*", "assistant/learning*", "ui/app.py", "ui/screens", "ui/widgets")
"""What runs when the assistant answers. The offline commands (`assistant/training.py` behind the
`train` and `data` commands, `assistant/bench/`) may import `core.training`, inside functions."""


def imported_modules(source: str, package: str) -> set[str]:
    """Every module an import statement in `source` names, inside functions too; relative imports
    resolved against `package`; `from a import b` names both `a` and `a.b` (b may be a module)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def imports_training(source: str, package: str) -> bool:
    return any(name == TRAINING or name.startswith(TRAINING + ".") for name in imported_modules(source, package))


def runtime_modules() -> list[Path]:
    paths = []
    for pattern in RUNTIME:
        for match in sorted(ROOT.glob(pattern)):
            paths += [match] if match.is_file() else sorted(match.rglob("*.py"))
    return [path for path in paths if not path.is_relative_to(ROOT / "core" / "training")]


def test_the_runtime_never_imports_the_training_pipeline():
    paths = runtime_modules()
    assert ROOT / "core" / "learner.py" in paths and ROOT / "ui" / "app.py" in paths
    offenders = [
        str(path.relative_to(ROOT))
        for path in paths
        if imports_training(path.read_text(encoding="utf-8"), ".".join(path.relative_to(ROOT).parts[:-1]))
    ]
    assert offenders == []


@pytest.mark.parametrize("source", [
    "from core.training import dialogues",
    "import core.training.pretrain",
    "from core import training",
    "from .training.data import build_corpus",
    "from . import training",
    "def later():\n    from core.training.baseline import TransformerLM\n",
])
def test_the_scan_sees_every_form_of_a_training_import(source):
    assert imports_training(source, "core")


def test_the_scan_lets_the_runtime_import_its_own_modules():
    assert not imports_training("from core.precision import use_bf16\nfrom . import learner\nimport core.model", "core")
