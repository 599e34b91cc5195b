"""The chat template: how a conversation (with an optional memory block) is written as model text.

    <|memory|>- snippet one
    - snippet two<|end|><|user|>question<|end|><|assistant|>answer<|end|>

Turns follow each other with no separator. The memory block, when present, sits right before the
user turn it serves, so the recalled text is fresh when the question is read. The role tokens are
user-defined symbols of the tokenizer: each is one id, and user text can never contain one
(`clean_text` removes them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

USER = "<|user|>"
ASSISTANT = "<|assistant|>"
MEMORY = "<|memory|>"
END = "<|end|>"
ROLE_TOKENS = (USER, ASSISTANT, MEMORY, END)
ROLES = {"user": USER, "assistant": ASSISTANT, "memory": MEMORY}


def clean_text(text: str) -> str:
    """Remove role tokens from text that came from outside, so it cannot forge a turn."""
    for token in ROLE_TOKENS:
        text = text.replace(token, "")
    return text


def render_turn(role: str, text: str, *, close: bool = True) -> str:
    """One turn; `close=False` leaves it open for the model to continue (a generation prompt)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {sorted(ROLES)}")
    return ROLES[role] + clean_text(text) + (END if close else "")


def render_memory(snippets: Iterable[str]) -> str:
    """The memory block: one recalled snippet per line, each starting with '- '."""
    lines = [" ".join(clean_text(s).split()) for s in snippets]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    return MEMORY + "\n".join(f"- {line}" for line in lines) + END


def render_chat(
    messages: Sequence[tuple[str, str]],
    memory: Sequence[str] | None = None,
    *,
    add_generation_prompt: bool = True,
) -> str:
    """Render (role, text) turns; the memory block goes right before the last user turn."""
    last_user = max((i for i, (role, _) in enumerate(messages) if role == "user"), default=None)
    parts: list[str] = []
    for i, (role, text) in enumerate(messages):
        if i == last_user and memory:
            parts.append(render_memory(memory))
        parts.append(render_turn(role, text))
    if add_generation_prompt:
        parts.append(render_turn("assistant", "", close=False))
    return "".join(parts)
