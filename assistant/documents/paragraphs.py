"""Lines → paragraphs and sentences, each an exact slice of the text with its 1-based lines."""

from __future__ import annotations

import bisect
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?P<closers>[\"”’)\]]*)\s+(?=[\"“‘(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class Paragraph:
    """A block of text with its inclusive 1-based line range in the source file."""

    text: str
    line_start: int
    line_end: int
    heading_level: int = 0  # >0 when the paragraph is a heading


def line_starts(lines: Sequence[str]) -> list[int]:
    """Character offset where each line begins in `"\\n".join(lines)` (to map offsets back to lines)."""
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    return starts


def line_at(starts: Sequence[int], offset: int) -> int:
    """The 1-based line that holds character `offset`."""
    return bisect.bisect_right(starts, offset)


def paragraphs_of(lines: Sequence[str], markdown: bool = False) -> list[Paragraph]:
    """Split lines into paragraphs.

    Files whose non-empty lines are long (median > 120 chars) hold one paragraph per line (as the seed does);
    hard-wrapped files hold paragraphs separated by blank lines. Markdown headings are always their own paragraph.
    """
    non_empty = [len(line) for line in lines if line.strip()]
    one_per_line = bool(non_empty) and statistics.median(non_empty) > 120
    out: list[Paragraph] = []
    block: list[tuple[int, str]] = []

    def flush() -> None:
        if block:
            text = "\n".join(t for _, t in block)
            out.append(Paragraph(text, block[0][0], block[-1][0]))
            block.clear()

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            flush()
            continue
        heading = _MD_HEADING.match(line) if markdown else None
        if heading:
            flush()
            out.append(Paragraph(line, number, number, heading_level=len(heading.group(1))))
            continue
        block.append((number, line))
        if one_per_line:
            flush()
    flush()
    return out


def _title_like(paragraph: Paragraph) -> bool:
    """A short, single-line paragraph that reads as a title (no sentence punctuation at its end)."""
    text = paragraph.text.strip()
    if paragraph.line_start != paragraph.line_end:
        return False
    words = text.split()
    if not (1 <= len(words) <= 12) or len(text) > 90 or text[-1] in ".,:;…" or "http" in text:
        return False
    return text[0].isupper() or text[0].isdigit()


def _looks_like_heading(paragraph: Paragraph, following: Paragraph | None) -> bool:
    """A short, single-line, title-like paragraph followed by real prose."""
    if following is None or not _title_like(paragraph):
        return False
    return len(following.text) >= max(100, 2 * len(paragraph.text.strip()))


_ABBREVIATION = re.compile(
    r"(\b(?:[A-Z]\.){1,3}|\b(?:Mr|Mrs|Ms|Dr|Prof|St|Sen|Rep|Gen|Gov|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec"
    r"|vs|etc|e\.g|i\.e|No|Inc|Ltd|Jr|Sr)\.)$"
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text` (abbreviations like "U.S." do not end one)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if _ABBREVIATION.search(text[start : match.start()]):
            continue
        end = match.end("closers")  # a closing quote or bracket belongs to the sentence it closes
        spans.append((start, end))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            out.append((a, b))
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, each an exact substring of it."""
    return [text[a:b] for a, b in sentence_spans(text)]
