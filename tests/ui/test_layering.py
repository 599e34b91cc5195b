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
