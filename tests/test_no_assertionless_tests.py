"""Every test can fail: an AST scan of tests/ for test functions that assert nothing (issue 18).

A test function passes the scan when its body (nested functions included) holds
- an `assert` statement, `pytest.raises` / `pytest.warns` / `pytest.fail`, or a `raise` of its
  own (a failure it signals itself), or
- a call to a helper whose name starts with `assert` / `check_` / `expect_` (`self.assertEqual`
  too), or to a function defined anywhere in the test tree whose own body passes the scan, or
- a fixture parameter that is such a function of the test tree (a fixture that asserts).
Anything else is a test that passes whatever the code does, unless "does not raise" is its whole
point: those are named in ALLOWED with the reason.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

EXPECTING = {"raises", "warns", "fail", "deprecated_call"}
"""`pytest.<name>` calls that are an expectation in themselves."""

HELPER_PREFIXES = ("assert", "check_", "expect_")

ALLOWED: dict[str, str] = {}
"""test id -> why "runs without raising" is what the test means to show. Empty for now: the two
tests the scan found (the import fuzzers) were made to assert instead."""

def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""

def _is_pytest_expectation(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr in EXPECTING
            and isinstance(func.value, ast.Name) and func.value.id == "pytest")

def _direct_check(function: ast.AST) -> bool:
    """Whether the body holds an assert or a pytest expectation, without following calls."""
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call) and _is_pytest_expectation(node):
            return True
        if isinstance(node, ast.Raise):  # `raise AssertionError(...)` / a failure of its own
            return True
    return False

def _called_names(function: ast.AST) -> set[str]:
    return {_call_name(node) for node in ast.walk(function) if isinstance(node, ast.Call)} - {""}

def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    args = function.args
    return {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}

def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node

def _test_functions(tree: ast.Module):
    """(test id suffix, node) for module-level `test_*` functions and `test_*` methods of classes."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test"):
                    yield f"{node.name}::{item.name}", item

def checking_helpers(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """For each file, the names it may call that check something: a function of its own that
    checks, directly or through another such function, or, for a name it does not define, one
    whose every definition elsewhere in the test tree checks (a fixpoint over the call graph)."""
    local: dict[str, dict[str, list[ast.AST]]] = {}
    for path, tree in trees.items():
        for function in _functions(tree):
            local.setdefault(path, {}).setdefault(function.name, []).append(function)
    everywhere: dict[str, list[ast.AST]] = {}
    for defs in local.values():
        for name, functions in defs.items():
            everywhere.setdefault(name, []).extend(functions)

    found: set[ast.AST] = {f for functions in everywhere.values() for f in functions if _direct_check(f)}

    def resolve() -> dict[str, set[str]]:
        anywhere = {name for name, functions in everywhere.items() if all(f in found for f in functions)}
        names = {}
        for path in trees:
            own = local.get(path, {})
            names[path] = {n for n, functions in own.items() if all(f in found for f in functions)} | (anywhere - own.keys())
        return names

    changed = True
    while changed:
        changed = False
        names = resolve()
        for path in trees:
            for functions in local.get(path, {}).values():
                for function in functions:
                    if function not in found and _called_names(function) & names[path]:
                        found.add(function)
                        changed = True
    return resolve()


def checks_something(function: ast.FunctionDef | ast.AsyncFunctionDef, helpers: set[str]) -> bool:
    if _direct_check(function):
        return True
    called = _called_names(function)
    if any(name.startswith(HELPER_PREFIXES) for name in called):
        return True
    # A checking helper called by name or passed as a fixture (a fixture function that asserts).
    return bool((called | _parameters(function)) & helpers)


def assertionless(sources: dict[str, str]) -> list[str]:
    """The ids (`path::name`) of the test functions in `sources` (path -> text) that check nothing.
    Helpers are looked up across all of `sources`, as they are across the test tree."""
    trees = {path: ast.parse(text, filename=path) for path, text in sources.items()}
    helpers = checking_helpers(trees)
    found = []
    for path, tree in trees.items():
        if not Path(path).name.startswith("test_"):
            continue
        for name, function in _test_functions(tree):
            if not checks_something(function, helpers[path]):
                found.append(f"{path}::{name}")
    return sorted(found)


@functools.cache
def tree_sources() -> dict[str, str]:
    """Every Python file of the test tree, by path from the repository root."""
    return {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
            for path in sorted(TESTS.rglob("*.py"))}


# --- the check itself -----------------------------------------------------------------------------

@functools.cache
def found_in_tree() -> tuple[str, ...]:
    return tuple(assertionless(tree_sources()))


def test_every_test_function_asserts_or_expects_an_error():
    found = found_in_tree()
    unexplained = [test_id for test_id in found if test_id not in ALLOWED]
    assert unexplained == [], "tests that cannot fail (assert something, or allow-list with a reason)"


def test_the_allow_list_names_only_tests_that_exist_and_still_need_it():
    """An entry outlives its test or its reason: a renamed test, or one that now asserts."""
    found = set(found_in_tree())
    assert sorted(set(ALLOWED) - found) == []
    assert all(reason.strip() for reason in ALLOWED.values())


# --- the scanner, on planted sources --------------------------------------------------------------

PLANTED = '''
import pytest

def check_reply(reply):
    assert reply

def helper_that_asserts(x):
    check_reply(x)

def helper_that_does_nothing(x):
    return x

@pytest.fixture
def verified():
    assert True

def test_nothing():
    x = 1 + 1

def test_calls_only_a_quiet_helper():
    helper_that_does_nothing(3)

def test_asserts():
    assert 1 + 1 == 2

def test_expects_an_error():
    with pytest.raises(ValueError):
        int("x")

def test_through_a_helper_of_a_helper():
    helper_that_asserts(1)

def test_through_a_named_checker():
    expect_thing(1)

def test_through_a_fixture(verified):
    pass

async def test_async_without_assert():
    await something()

def test_nested_function_asserts():
    def inner():
        assert True
    inner()

class TestGroup:
    def test_method_without_assert(self):
        self.x = 1

    def test_method_with_unittest_style(self):
        self.assertEqual(1, 1)
'''

def test_the_scan_finds_a_planted_assertionless_test():
    found = assertionless({"tests/test_planted.py": PLANTED})
    assert found == [
        "tests/test_planted.py::TestGroup::test_method_without_assert",
        "tests/test_planted.py::test_async_without_assert",
        "tests/test_planted.py::test_calls_only_a_quiet_helper",
        "tests/test_planted.py::test_nothing",
    ]

def test_a_planted_assertionless_test_fails_the_check():
    sources = tree_sources() | {"tests/test_planted.py": "def test_planted():\n    print('hi')\n"}
    assert "tests/test_planted.py::test_planted" in assertionless(sources)

def test_helpers_in_support_modules_count_but_are_not_scanned_as_tests():
    sources = {
        "tests/support.py": "def test_like_helper():\n    pass\n\ndef verify(x):\n    assert x\n",
        "tests/test_uses.py": "from .support import verify\n\ndef test_it():\n    verify(1)\n",
    }
    assert assertionless(sources) == []
