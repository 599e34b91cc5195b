"""The tokenizer of an LFM2 checkpoint (`tokenizer.json`) speaking the assistant's chat template.

The rest of the program writes conversations with the project's role markers (core/template.py):

    <|memory|>- snippet<|end|><|user|>question<|end|><|assistant|>answer<|end|>

`encode` turns each marker into the checkpoint's own ChatML form (the one its chat template
renders; the template is not executed, only checked to be ChatML):

    <|user|>       ->  "\\n<|im_start|>user\\n"
    <|assistant|>  ->  "\\n<|im_start|>assistant\\n"
    <|memory|>     ->  "\\n<|im_start|>system\\nRelevant notes from memory:\\n"   (a system turn)
    <|end|>        ->  "<|im_end|>"

so between turns the ids are exactly the template's `<|im_end|>\\n<|im_start|>role\\n`. The newline
sits before `<|im_start|>` rather than after `<|im_end|>` because generation stops on (and the
state ends with) `<|im_end|>`: the next turn is encoded separately, and a full re-read must give
the same ids as the turn-by-turn state. The cost is one extra "\\n" at the very start of a
conversation (after `<|startoftext|>`, which the model reads at the start of a fresh state, see
core/lfm2.py). Text from outside never yields a special token: special-token strings in it are
encoded as plain text.

`role_ids` maps the project's markers to the ids of the role words ("user", "assistant",
"system") that follow `<|im_start|>`, and `end_id` is `<|im_end|>`: the learner's per-role loss
weights (core/learner.py) then work unchanged. (A role word written at the start of a line
inside a message is the same id and can switch the learner's role early; the effect is confined
to loss weights within that message.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from core.errors import ModelFilesError
from core.template import ASSISTANT, END, MEMORY, USER, render_chat

IM_START, IM_END, BOS = "<|im_start|>", "<|im_end|>", "<|startoftext|>"
MEMORY_HEADER = "Relevant notes from memory:\n"
ROLE_WORDS = {USER: "user", ASSISTANT: "assistant", MEMORY: "system"}
_MARKERS = re.compile("(" + "|".join(re.escape(m) for m in (USER, ASSISTANT, MEMORY, END)) + ")")


class Lfm2Tokenizer:
    """`tokenizers.Tokenizer` plus the mapping from the project's role markers to ChatML."""

    def __init__(self, tokenizer, chat_template: str | None = None) -> None:
        self.tk = tokenizer
        self.tk.encode_special_tokens = True  # "<|im_end|>" typed by a user stays text
        ids = {t: tokenizer.token_to_id(t) for t in (IM_START, IM_END)}
        missing = [t for t, i in ids.items() if i is None]
        if missing:
            raise ModelFilesError(f"tokenizer.json lacks the chat tokens {missing}")
        if chat_template is not None and IM_START not in chat_template:
            raise ModelFilesError("the checkpoint's chat template is not ChatML (<|im_start|>); it is not supported")
        self.im_start, self.end_id = ids[IM_START], ids[IM_END]
        self.bos_id = tokenizer.token_to_id(BOS)
        self.chat_template = chat_template
        self.role_ids: dict[str, int] = {}
        for marker, word in ROLE_WORDS.items():
            self.role_ids[marker] = self._plain(word)[0]  # one token in LFM2's vocabulary; else its first
        self.role_ids[END] = self.end_id
        nl = self._plain("\n")
        self._open = {
            USER: nl + [self.im_start] + self._plain("user\n"),
            ASSISTANT: nl + [self.im_start] + self._plain("assistant\n"),
            MEMORY: nl + [self.im_start] + self._plain("system\n" + MEMORY_HEADER),
            END: [self.end_id],
        }

    @classmethod
    def load(cls, folder: str | Path) -> "Lfm2Tokenizer":
        from tokenizers import Tokenizer as HfTokenizer

        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise ModelFilesError(f"tokenizer file not found: {path}")
        try:
            tk = HfTokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises its own Exception subclass
            raise ModelFilesError(f"{path} is not a tokenizers file: {exc}") from None
        return cls(tk, _chat_template(folder))

    @property
    def vocab_size(self) -> int:
        return self.tk.get_vocab_size(with_added_tokens=True)

    def _plain(self, text: str) -> list[int]:
        return self.tk.encode(text, add_special_tokens=False).ids if text else []

    def encode(self, text: str) -> list[int]:
        """Ids of text written with the project's role markers (see the module doc)."""
        ids: list[int] = []
        for part in _MARKERS.split(text):
            ids += self._open[part] if part in self._open else self._plain(part)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tk.decode(list(ids), skip_special_tokens=True)

    def encode_chat(
        self, messages: Sequence[tuple[str, str]], memory: Sequence[str] | None = None, *, add_generation_prompt: bool = True
    ) -> list[int]:
        """A conversation from its start (the start token is the model's business: see core/lfm2.py)."""
        return self.encode(render_chat(messages, memory, add_generation_prompt=add_generation_prompt))


def _chat_template(folder: Path) -> str | None:
    """The checkpoint's chat template: `chat_template.jinja` or `tokenizer_config.json`'s field."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    cfg = folder / "tokenizer_config.json"
    if cfg.is_file():
        try:
            template = json.loads(cfg.read_text(encoding="utf-8")).get("chat_template")
        except (OSError, ValueError) as exc:
            raise ModelFilesError(f"{cfg} is not valid JSON: {exc}") from None
        if isinstance(template, list):  # named templates: the default one
            template = next((t.get("template") for t in template if t.get("name") == "default"), None)
        return template if isinstance(template, str) else None
    return None
