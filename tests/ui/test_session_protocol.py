"""The real session and the UI tests' fake both provide `SessionLike` (and their replies
`ReplyLike`, their settings `SettingsLike`): every member, with a signature the UI's calls fit.

`isinstance` against a runtime-checkable protocol only asks whether the names exist; this checks
each method's parameters too (names, kinds, which have defaults), so a fake that drifts from
the session (a method missing, renamed, or taking other arguments) fails here, not in a Pilot
test that happens to click the wrong button.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from assistant.session import Reply, Session
from assistant.session.protocol import ReplyLike, SessionLike, SettingsLike
from tests.ui.fake_session import FakeReply, FakeSession, FakeSettings, forget_all

_KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_POSITIONAL_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def protocol_members(protocol: type) -> dict[str, Any]:
    """The members a protocol declares: its methods and properties (and `__iter__`), by name."""
    members = {}
    for name, value in vars(protocol).items():
        if name.startswith("_") and name != "__iter__":
            continue
        if callable(value) or isinstance(value, property):
            members[name] = value
    for name in getattr(protocol, "__annotations__", {}):
        members.setdefault(name, None)  # a plain attribute
    return members


def signature_problems(name: str, wanted: inspect.Signature, have: inspect.Signature) -> list[str]:
    """Why a call that fits `wanted` might not fit `have` (both unbound, `self` first)."""
    problems = []
    wanted_params = list(wanted.parameters.values())[1:]
    have_params = list(have.parameters.values())[1:]
    have_by_name = {p.name: p for p in have_params}
    accepts_kwargs = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in have_params)
    for index, p in enumerate(wanted_params):
        q = have_by_name.get(p.name)
        if q is None:
            if not accepts_kwargs or p.kind in _POSITIONAL_KINDS:
                problems.append(f"{name}: no parameter {p.name!r}")
            continue
        if p.kind in _POSITIONAL_KINDS and (q.kind not in _POSITIONAL_KINDS or have_params.index(q) != index):
            problems.append(f"{name}: {p.name!r} is not positional at place {index + 1}")
        if p.kind == inspect.Parameter.KEYWORD_ONLY and q.kind not in _KEYWORD_KINDS:
            problems.append(f"{name}: {p.name!r} cannot be given by keyword")
        if p.default is not inspect.Parameter.empty and q.default is inspect.Parameter.empty:
            problems.append(f"{name}: {p.name!r} is optional in the protocol but required here")
    for q in have_params:
        if q.name not in {p.name for p in wanted_params} and q.kind not in _VARIADIC and q.default is inspect.Parameter.empty:
            problems.append(f"{name}: extra required parameter {q.name!r}")
    return problems


def conformance_problems(protocol: type, cls: type, instance: Any = None) -> list[str]:
    """Every way `cls` (and `instance`, for attributes set in `__init__`) falls short of `protocol`."""
    problems = []
    for name, declared in protocol_members(protocol).items():
        if isinstance(declared, property) or declared is None:  # data: a property or an attribute
            if hasattr(cls, name):
                if callable(inspect.getattr_static(cls, name)) and not isinstance(inspect.getattr_static(cls, name), property):
                    problems.append(f"{name}: a method, where the protocol has data")
            elif instance is None or not hasattr(instance, name):
                problems.append(f"{name}: missing")
            continue
        have = inspect.getattr_static(cls, name, None)
        if have is None:
            problems.append(f"{name}: missing")
            continue
        if isinstance(have, property) or not callable(getattr(cls, name)):
            problems.append(f"{name}: not a method")
            continue
        bound_static = isinstance(have, (staticmethod, classmethod))
        have_sig = inspect.signature(getattr(cls, name))
        if bound_static:  # give it a stand-in `self` so both sides line up
            params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *have_sig.parameters.values()]
            have_sig = have_sig.replace(parameters=params)
        problems += signature_problems(name, inspect.signature(declared), have_sig)
    return problems


def without(cls: type, name: str) -> type:
    """A copy of `cls` that lacks `name` (a fake that forgot a method)."""
    namespace = {k: v for k, v in vars(cls).items() if k not in (name, "__dict__", "__weakref__")}
    bases = tuple(b for b in cls.__bases__)
    return type(cls.__name__, bases, namespace)


# --- the fake --------------------------------------------------------------------------------


@pytest.fixture
def fake(tmp_path):
    session = FakeSession.open("pass", home=tmp_path / "fake", create=True)
    yield session
    session.close()
    forget_all()


def test_the_fake_session_provides_what_the_ui_needs(fake):
    assert conformance_problems(SessionLike, FakeSession, fake) == []


def test_the_fake_reply_and_settings_provide_what_the_ui_needs(fake):
    reply = fake.send("hello")
    assert conformance_problems(ReplyLike, FakeReply, reply) == []
    assert conformance_problems(SettingsLike, FakeSettings, fake.settings) == []
    assert "".join(reply) == reply.text and isinstance(reply.memory_used, list)


# --- the real session ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from tests.assistant.session_support import open_session, tiny_model_dir

    session = open_session(tmp_path_factory.mktemp("real"), tiny_model_dir(), learn=False)
    yield session
    session.close()


def test_the_real_session_provides_what_the_ui_needs(real):
    assert conformance_problems(SessionLike, Session, real) == []


def test_the_real_reply_and_settings_provide_what_the_ui_needs(real):
    from assistant.settings import Settings
    from tests.assistant.session_support import greedy

    real.new_conversation()
    reply = real.send("hello", settings=greedy(3))
    reply.wait()
    assert conformance_problems(ReplyLike, Reply, reply) == []
    assert conformance_problems(SettingsLike, Settings, real.settings) == []


# --- the check itself ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["search", "send", "on_learning_event", "current", "model_name"])
def test_a_fake_that_lacks_a_member_fails_the_check(name):
    complete = set(conformance_problems(SessionLike, FakeSession))  # no instance: its attributes look missing
    assert set(conformance_problems(SessionLike, without(FakeSession, name))) - complete == {f"{name}: missing"}


def test_a_fake_whose_signature_drifted_fails_the_check():
    class Drifted(FakeSession):
        def search(self, text: str) -> list:  # renamed its parameter, lost `k`
            return []

        def send(self, text: str, cancel: Any = None) -> Any:  # `cancel` positional-or-keyword is fine
            raise NotImplementedError

        def rename(self, conversation_id: int, title: str, why: str) -> None:  # one more required
            raise NotImplementedError

    problems = conformance_problems(SessionLike, Drifted)
    assert "search: no parameter 'query'" in problems and "search: no parameter 'k'" in problems
    assert "rename: extra required parameter 'why'" in problems
    assert not [p for p in problems if p.startswith("send")]


def test_a_reply_without_close_fails_the_check():
    assert "close: missing" in conformance_problems(ReplyLike, without(FakeReply, "close"))
