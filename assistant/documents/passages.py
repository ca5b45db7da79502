"""Paragraphs → passages: the retrievable pieces, each within one role, one section and one page."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..voices import Role
from .paragraphs import Paragraph, sentence_spans


@dataclass(frozen=True)
class Passage:
    """A retrievable piece of one document; never spans two roles or two sections."""

    source: str
    line_start: int
    line_end: int
    role: Role
    section: str | None
    text: str
    title: str | None = None
    id: str = field(default="")
    page: int | None = None  # 1-based page of paged formats (PDF); a passage never spans two pages

    def __post_init__(self) -> None:
        if not self.id:
            digest = hashlib.sha256(
                f"{self.source}\n{self.line_start}\n{self.role}\n{self.section}\n{self.text}".encode()
            ).hexdigest()
            object.__setattr__(self, "id", digest[:32])

    def metadata(self) -> dict[str, str | int]:
        """Chroma-friendly metadata (no None values; `page` only for paged formats)."""
        meta: dict[str, str | int] = {
            "source": self.source,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "role": self.role,
            "section": self.section or "",
            "title": self.title or "",
        }
        if self.page is not None:
            meta["page"] = self.page
        return meta

    @classmethod
    def from_metadata(cls, text: str, meta: dict, id: str = "") -> Passage:
        """Inverse of `metadata()`."""
        return cls(
            source=str(meta["source"]),
            line_start=int(meta["line_start"]),
            line_end=int(meta["line_end"]),
            role=meta["role"],
            section=meta.get("section") or None,
            title=meta.get("title") or None,
            text=text,
            id=id,
            page=int(meta["page"]) if meta.get("page") else None,
        )


def _pieces(paragraph: Paragraph, max_chars: int) -> Iterable[str]:
    """A paragraph, or runs of its sentences of at most `max_chars`, each an exact slice of it."""
    text = paragraph.text
    if len(text) <= max_chars:
        yield text
        return
    first: tuple[int, int] | None = None
    last = 0
    for a, b in sentence_spans(text):
        if first is not None and b - first[0] > max_chars:
            yield text[first[0] : last]
            first = None
        if first is None:
            first = (a, b)
        last = b
    if first is not None:
        yield text[first[0] : last]


def chunk(
    source: str,
    paragraphs: Sequence[Paragraph],
    roles: Sequence[Role],
    sections: Sequence[str | None],
    title: str | None,
    min_chars: int = 200,
    max_chars: int = 700,
    pages: Sequence[int | None] | None = None,
) -> list[Passage]:
    """Group paragraphs into passages: short ones merge forward, long ones split at sentences.

    A heading opens its section's first passage so that section names are retrievable too; a passage never
    spans two roles, two sections or (with `pages`, one per paragraph) two pages.
    """
    page_of = list(pages) if pages is not None else [None] * len(paragraphs)
    passages: list[Passage] = []
    buffer: list[tuple[int, Paragraph, str]] = []  # (paragraph index, paragraph, text): no list.index()

    def flush() -> None:
        if not buffer:
            return
        i, first, _ = buffer[0]
        last = buffer[-1][1]
        passages.append(
            Passage(
                source=source,
                line_start=first.line_start,
                line_end=last.line_end,
                role=roles[i],
                section=sections[i],
                title=title,
                text="\n".join(text for _, _, text in buffer),
                page=page_of[i],
            )
        )
        buffer.clear()

    for i, paragraph in enumerate(paragraphs):
        if buffer:
            j = buffer[0][0]
            if roles[j] != roles[i] or sections[j] != sections[i] or page_of[j] != page_of[i]:
                flush()
        pieces = list(_pieces(paragraph, max_chars))
        if len(pieces) > 1:
            flush()
            for piece in pieces:
                buffer.append((i, paragraph, piece))
                flush()
            continue
        size = sum(len(t) + 1 for _, _, t in buffer)
        if buffer and size + len(paragraph.text) > max_chars:
            flush()
        buffer.append((i, paragraph, paragraph.text))
        if not paragraph.heading_level and sum(len(t) + 1 for _, _, t in buffer) >= min_chars:
            flush()
    flush()
    return passages
