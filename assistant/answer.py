"""The values the assistant returns: `Answer`, its `Citation`s and the `Retrieved` passages."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from .documents import Passage
from .voices import LABEL as ROLE_LABEL


@dataclass(frozen=True)
class Retrieved:
    """A passage as retrieval ranked it."""

    passage: Passage
    score: float
    dense: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        p = self.passage
        return {
            "source": p.source,
            "line_start": p.line_start,
            "line_end": p.line_end,
            "role": p.role,
            "section": p.section,
            "score": round(float(self.score), 6),
        } | ({"page": p.page} if p.page is not None else {})


@dataclass(frozen=True)
class Citation:
    """A verified quote: `quote` occurs verbatim in lines `line_start`..`line_end` of `source`."""

    n: int
    source: str
    line_start: int
    line_end: int
    role: str
    section: str | None
    quote: str
    title: str | None = None  # the document's title, when it has one
    page: int | None = None  # 1-based page, for paged formats (PDF)
    speaker: str | None = None  # who says it, when more is known than the voice: "NarrowsNative", "Trevik"
    quoting: str | None = None  # the person whose words the quoted sentence reports: "Trump"

    def to_dict(self) -> dict[str, Any]:
        """The citation's fields; `title`, `page`, `speaker` and `quoting` only when known."""
        optional = ("title", "page", "speaker", "quoting")
        return {k: v for k, v in self.__dict__.items() if v is not None or k not in optional}

    @property
    def lines(self) -> str:
        return f"{self.line_start}" if self.line_start == self.line_end else f"{self.line_start}-{self.line_end}"


@dataclass(frozen=True)
class Removed:
    """A sentence of the streamed draft that grounding removed or rewrote, and why, so a window can show it."""

    text: str
    reason: str  # in words: "no sentence of the document supports it"
    replaced_by: str | None = None  # the sentence as kept, when it was rewritten rather than removed

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Answer:
    """An answer with its verified citations, the passages it was drawn from and how long it took."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[Retrieved] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    standalone_question: str | None = None
    error: str | None = None
    signals: dict[str, float] = field(default_factory=dict)  # what the refusal decision read (answering/refusal.py)
    refusal_reason: str | None = None  # why it is a refusal, in words
    removed: list[Removed] = field(default_factory=list)  # draft sentences grounding dropped or rewrote

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of `assistant ask --json`."""
        out: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [r.to_dict() for r in self.retrieved],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
        if self.standalone_question is not None:
            out["standalone_question"] = self.standalone_question
        if self.error is not None:
            out["error"] = self.error
        if self.signals:
            out["signals"] = {k: round(v, 4) for k, v in self.signals.items()}
        if self.refusal_reason is not None:
            out["refusal_reason"] = self.refusal_reason
        if self.removed:
            out["removed"] = [r.to_dict() for r in self.removed]
        return out

    def sources_markdown(self) -> str:
        """One line per citation: role, section, lines and the quote."""
        rows = []
        for c in self.citations:
            where = f" · {c.section}" if c.section else ""
            rows.append(
                f"[{c.n}] **{ROLE_LABEL.get(c.role, c.role)}**{where} · `{c.source}` lines {c.lines}: “{c.quote}”"
            )
        return "\n\n".join(rows)

    def _repr_markdown_(self) -> str:
        head = f"**Q:** {html.escape(self.question)}\n\n"
        body = f"*{self.answer}*" if self.refused else self.answer
        sources = self.sources_markdown()
        return head + body + (f"\n\n---\n{sources}" if sources else "")

    def __str__(self) -> str:
        return self.answer
