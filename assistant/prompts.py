"""Prompt templates live in prompts/*.md; this loads them strictly (no missing or unused variables)."""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

from .errors import PromptError

#: The variables each template must use, exactly.
EXPECTED: dict[str, frozenset[str]] = {
    "system": frozenset(),
    "summary": frozenset(),
    "question": frozenset({"evidence", "question"}),
    "condense": frozenset({"history", "question"}),
    "baseline": frozenset({"context", "question"}),
}


@lru_cache(maxsize=32)
def load_prompt(prompts_dir: Path, name: str) -> str:
    """The text of prompts/NAME.md, checked against the variables it must use."""
    path = prompts_dir / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        raise PromptError(f"Prompt file {path} is missing; restore it from the repository.") from None
    try:
        used = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as exc:
        raise PromptError(f"{path}: malformed placeholder ({exc}); escape literal braces as {{{{ }}}}.") from None
    expected = EXPECTED.get(name, frozenset(used))
    if missing := expected - used:
        raise PromptError(f"{path} does not use the variable(s) {sorted(missing)}.")
    if unknown := used - expected:
        raise PromptError(f"{path} uses unknown variable(s) {sorted(unknown)}; allowed: {sorted(expected)}.")
    return text


def answer_prompt(prompts_dir: Path, system: str = "system") -> ChatPromptTemplate:
    """System instructions first (prompts/system.md, or prompts/summary.md for whole-document summaries), then
    the evidence and the question in the user message.

    Why this order: the system text is identical across calls, so llama.cpp reuses its evaluated prefix."""
    return ChatPromptTemplate.from_messages(
        [
            ("system", load_prompt(prompts_dir, system).replace("{", "{{").replace("}", "}}")),
            ("human", load_prompt(prompts_dir, "question")),
        ]
    )
