"""Documents → passages that remember their lines, their section and who is speaking.

A document is read as paragraphs. Each paragraph gets a *role*:

- ``editor``: an introductory note before the article's byline (``By Jane Doe, ...``, ``Interview by ...``,
  ``Story by ...``; a title heading above the note stays the author's), an ``Editor's note`` or a note signed
  ``— The editors`` at the top;
- ``author``: the byline, the title, the article body and its sign-off (``— Jane Doe is a ...``);
- ``commenter``: reader comments appended after the article.

Explicit markers decide the comment boundary first: a comments header (``Comments (29)``, ``12 comments``,
``Join the discussion``; a bare ``Comments`` only in an article) opens the comments wherever it is, two or
more signature lines (``Handle · 2 days ago``, ``Jane says:``, ``Reply to Handle:``) start them at the first,
and an author's sign-off ends the article. Without such a marker, comments are looked for only in documents
that read as an article (a byline or an editor's note; other documents are all ``author``) and are not
transcripts of speaker-labelled turns, by a change-point search over a per-paragraph "conversational
register" score (first person, questions and exclamations, URLs, very short lines, words the article never
used): the split that best separates a formal article from the chattier tail wins, if it clearly beats "no
comments at all".
A sidecar file ``<document>.segments.json`` overrides the detection, e.g.
``{"editor": [1, 2], "author": [3, 37], "commenter": [38, 95]}`` (inclusive 1-based line ranges).

Files are read by the loader of their format (`assistant/loaders.py`: .txt, .md, .html, .pdf); line numbers
are those of the text the loader extracts, which for .txt and .md are the file's own lines.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import DocumentError
from .loaders import SUPPORTED_SUFFIXES, extract
from .loaders import read_text as read_text  # re-exported: callers read documents through this module
from .loaders import split_lines as split_lines

Role = Literal["editor", "author", "commenter"]
ROLES: tuple[Role, ...] = ("editor", "author", "commenter")
# 5: a long paragraph split after a quotation keeps its closing quote mark;
# 6: roles also follow explicit markers (comment headers and signatures, sign-offs, "Interview by", signed notes)
CHUNKER_VERSION = 6

# Markdown emphasis may wrap any of the markers below ("*By Jane Doe*", "**Comments**").
_BYLINE = re.compile(
    r"^[*_]{0,2}(?:(?:[Ii]nterviews?|[Ss]tory|[Ww]ords|[Tt]ext|[Rr]eporting|[Ww]ritten)\s+by|[Bb]y|BY)\s+[A-Z][\w.\-’']+"
)
_EDITOR_MARK = re.compile(r"^[*_]{0,2}(editor[’']?s note|note from the editor)\b", re.IGNORECASE)
# A note the editors sign at its end: "... — The editors*", "— Eds."
_EDITORS_SIGNED = re.compile(r"[—–]\s*(?:the\s+)?(?:editors?|eds?\.)[*_]*\s*$", re.IGNORECASE)
# A header that opens a comment section whatever the document is: it names comments and nothing else.
_COMMENTS_HEADER = re.compile(
    r"^(?:#{1,6}\s+)?[*_]{0,2}(?:(?:reader|user)\s+comments|comments?\s*[(\[]\d[\d,]*[)\]]|\d[\d,]*\s+(?:comments?|replies)"
    r"|join the (?:discussion|conversation)|leave a (?:comment|reply))[*_]{0,2}\s*:?$",
    re.IGNORECASE,
)
# A bare "Comments" is also a manual's section about code comments: it opens comments only in an article.
_BARE_COMMENTS = re.compile(r"^(?:#{1,6}\s+)?[*_]{0,2}comments[*_]{0,2}\s*:?$", re.IGNORECASE)
# How comment systems sign a comment: "Handle · 2 days ago", "Jane says:" alone on its line, "Reply to Handle:".
_SIGNATURE = re.compile(
    r"^(?:\S[^·•\n]{0,40}\s[·•]\s(?:(?:\d+|an?|one)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago"
    r"|[A-Z][a-z]{2,8}\.?\s+\d{1,2},?\s+\d{4})\s*$"
    r"|[^\s:][^:\n]{0,40}\s(?:says|wrote):\s*$"
    r"|[Rr]eply(?:ing)? to @?[\w.\-]+(?:\s[\w.\-]+){0,2}:)",
    re.MULTILINE,
)
# A speaker-labelled turn of a transcript: "**TREVIK:** ...", "**Q:** ...", "Q: ...", "PELLAM: ...".
_SPEAKER_TURN = re.compile(r"^(?:\*\*[^*\n]{1,50}?(?::\*\*|\*\*:)|(?:Q|A|[A-Z][A-Z.’'\-]+(?: [A-Z][A-Z.’'\-]+)?):)\s")
# An author's sign-off closing an article: "— Jane Doe is a bookseller ..." (the verb keeps out a quotation's
# attribution, "— Mark Twain, 1897").
_SIGNOFF = re.compile(
    r"^[*_]{0,2}(?:—|--)\s?(?:[A-Z][\w.’'\-]*\s+){0,4}[A-Z][\w.’'\-]*\s+(?:is|was|writes|lives|teaches|works)\b"
)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?P<closers>[\"”’)\]]*)\s+(?=[\"“‘(\[]?[A-Z0-9])")
_FIRST_PERSON = re.compile(r"\b(I|I[’']m|I[’']ve|I[’']d|me|my|mine)\b")
_SECOND_PERSON = re.compile(r"\b(you|your|you[’']re)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z’'\-]+")
_STOP = frozenset(
    "the a an and or but of to in on for with as at by from is are was were be been it its this that these "
    "those their they them he she his her we our you your i me my not no so if than then there which who whom "
    "what when where why how can could would should may might will just about into over more most also only "
    "even very has have had do does did".split()
)


@dataclass(frozen=True)
class Paragraph:
    """A block of text with its inclusive 1-based line range in the source file."""

    text: str
    line_start: int
    line_end: int
    heading_level: int = 0  # >0 when the paragraph is a heading


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


@dataclass
class Document:
    """A parsed source file: its lines, paragraphs with roles and sections, and its passages."""

    source: str
    path: Path
    lines: list[str]
    title: str | None
    paragraphs: list[Paragraph]
    roles: list[Role]
    sections: list[str | None]
    passages: list[Passage]
    page_starts: tuple[int, ...] = ()  # 1-based line on which each page begins (PDF)
    digest: str = ""  # sha256 of the file and its sidecar: the manifest's per-file hash

    def text_of(self, line_start: int, line_end: int) -> str:
        """The exact source text of an inclusive 1-based line range."""
        return "\n".join(self.lines[line_start - 1 : line_end])

    def page_of(self, line: int) -> int | None:
        """The 1-based page that holds `line`, for paged formats; None otherwise."""
        return bisect.bisect_right(self.page_starts, line) or None if self.page_starts else None

    def where(self, line_start: int, line_end: int, dash: str = "-") -> str:
        """A reader's label for a line range: "lines 3-5", or "page 2, lines 3-5" counted within the page."""
        page = self.page_of(line_start)
        if page is not None:
            offset = self.page_starts[page - 1] - 1
            line_start, line_end = line_start - offset, line_end - offset
        lines = f"line {line_start}" if line_start == line_end else f"lines {line_start}{dash}{line_end}"
        return f"page {page}, {lines}" if page is not None else lines


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


def _tokens(text: str) -> list[str]:
    return [w.lower().strip("’'") for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 2]


def _register(text: str, vocabulary: set[str]) -> float:
    """How conversational a paragraph reads (0 = formal prose); see the module docstring."""
    words = max(len(text.split()), 1)
    score = min(20.0 * len(_FIRST_PERSON.findall(text)) / words, 2.0)
    score += min(text.count("?") + text.count("!"), 3) / 3
    score += 1.0 if re.search(r"https?://", text) else 0.0
    score += 1.0 if len(text) < 60 else 0.0
    score += 0.5 if _SECOND_PERSON.search(text) else 0.0
    score += 0.5 if re.search(r"\b[A-Z]{4,}\b", text) else 0.0
    score += 0.5 if text.startswith(">") else 0.0
    tokens = _tokens(text)
    if tokens:
        score += sum(1 for t in tokens if t not in vocabulary) / len(tokens)
    return score


def comment_start(paragraphs: Sequence[Paragraph], first: int, min_article: int = 4) -> int | None:
    """Index of the first comment paragraph in `paragraphs[first:]`, or None when there is no comment tail.

    Two-segment change point on the register score: the article segment and the comment segment each get
    their own mean; the split with the least squared error wins if it beats "no split" by a clear margin
    and the tail is the chattier side.
    """
    body = [i for i in range(first, len(paragraphs)) if not paragraphs[i].heading_level]
    if len(body) < min_article + 2:
        return None
    head = body[: max(min_article, len(body) // 3)]
    vocabulary: set[str] = set()
    for i in head:
        vocabulary.update(_tokens(paragraphs[i].text))
    scores = [_register(paragraphs[i].text, vocabulary) for i in body]
    total_sse = _sse(scores)
    best: tuple[float, int] | None = None
    for cut in range(min_article, len(scores) - 1):
        left, right = scores[:cut], scores[cut:]
        if statistics.fmean(right) <= statistics.fmean(left):
            continue
        sse = _sse(left) + _sse(right)
        if best is None or sse < best[0]:
            best = (sse, cut)
    if best is None:
        return None
    sse, cut = best
    # Accept only a split that explains a good share of the variance (a BIC-like margin).
    if total_sse - sse < max(0.15 * total_sse, 2.0):
        return None
    return body[cut]


def _sse(values: Sequence[float]) -> float:
    mean = statistics.fmean(values)
    return sum((v - mean) ** 2 for v in values)


def _load_sidecar(path: Path, n_lines: int) -> dict[Role, list[tuple[int, int]]] | None:
    sidecar = path.with_name(path.name + ".segments.json")
    if not sidecar.exists():
        return None
    try:
        raw = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DocumentError(f"{sidecar} is not valid JSON ({exc}); fix or delete it.") from None
    spans: dict[Role, list[tuple[int, int]]] = {}
    for role, ranges in raw.items():
        if role not in ROLES:
            raise DocumentError(f"{sidecar}: unknown role {role!r}; use one of {', '.join(ROLES)}.")
        if ranges and isinstance(ranges[0], int):
            ranges = [ranges]
        for start, end in ranges:
            if not (1 <= start <= end <= n_lines):
                raise DocumentError(f"{sidecar}: range {start}-{end} is outside lines 1-{n_lines}.")
            spans.setdefault(role, []).append((int(start), int(end)))
    return spans


def _leading_titles(paragraphs: Sequence[Paragraph], end: int) -> int:
    """How many paragraphs at the top, before `end`, are the article's title (headings or title-like lines)."""
    n = 0
    # A title above an intro is the article's own, not the editor's; "Editor's note" alone is a label, not a title.
    while (
        n < end
        and (paragraphs[n].heading_level or _title_like(paragraphs[n]))
        and not _EDITOR_MARK.match(paragraphs[n].text)
    ):
        n += 1
    return n


def _editor_note_end(paragraphs: Sequence[Paragraph], limit: int) -> int | None:
    """Index of the last paragraph of an editor's note at the top of a document without a byline, or None."""
    lead = _leading_titles(paragraphs, limit)
    if lead < len(paragraphs) and _EDITOR_MARK.match(paragraphs[lead].text):
        return lead
    # A note signed by the editors ("... — The editors") is theirs from the top down to the signature.
    return next((i for i in range(lead, limit) if _EDITORS_SIGNED.search(paragraphs[i].text)), None)


def explicit_comment_start(
    paragraphs: Sequence[Paragraph], first: int, article: bool, min_article: int = 4
) -> int | None:
    """Index of the first comment paragraph after `first` by an explicit marker (a header or signatures), or None."""
    candidates: list[int] = []
    body = 0
    for i in range(first, len(paragraphs)):
        if body >= min_article:  # comments follow an article body; a "Comments (3)" link in a page's header does not
            candidates.append(i)
        body += not paragraphs[i].heading_level
    signatures = [i for i in candidates if _SIGNATURE.match(paragraphs[i].text)]
    for i in candidates:
        text = paragraphs[i].text.strip()
        # A header is a hard boundary: everything from it on is comments.
        if _COMMENTS_HEADER.match(text):
            return i
        if _BARE_COMMENTS.match(text) and (article or any(j > i for j in signatures)):
            return i
    # Two signed comments make a comment tail; one such line could be a quotation in the article.
    return signatures[0] if len(signatures) >= 2 else None


def _is_transcript(paragraphs: Sequence[Paragraph]) -> bool:
    """Whether speaker-labelled turns make up a good share (a fifth or more) of the paragraphs."""
    turns = sum(1 for p in paragraphs if _SPEAKER_TURN.match(p.text))
    return turns >= 3 and 5 * turns >= len(paragraphs)


def assign_roles(
    paragraphs: Sequence[Paragraph], sidecar: dict[Role, list[tuple[int, int]]] | None = None
) -> tuple[list[Role], int | None]:
    """Role of every paragraph, and the index of the title paragraph (if any).

    Explicit markers decide first: a byline (what precedes it is an editor's intro, bar a title at the top), an
    editor's note, a comments header or signed comments, an author's sign-off (which ends the article). Without
    a comment marker, an article's comment tail is looked for by `comment_start`.
    """
    if sidecar is not None:
        roles: list[Role] = []
        for p in paragraphs:
            role: Role = "author"
            for name, ranges in sidecar.items():
                if any(a <= p.line_start <= b for a, b in ranges):
                    role = name
            roles.append(role)
        return roles, None
    limit = min(len(paragraphs), max(8, len(paragraphs) // 5))
    byline = next((i for i in range(limit) if _BYLINE.match(paragraphs[i].text)), None)
    roles = ["author"] * len(paragraphs)
    start = 0
    note_end = byline - 1 if byline is not None else _editor_note_end(paragraphs, limit)
    if note_end is not None:
        for i in range(_leading_titles(paragraphs, note_end + 1), note_end + 1):
            roles[i] = "editor"
        start = note_end + 1 if byline is None else byline + 1
    title = None
    if byline is not None and start < len(paragraphs):
        nxt = paragraphs[start + 1] if start + 1 < len(paragraphs) else None
        if paragraphs[start].heading_level or _looks_like_heading(paragraphs[start], nxt):
            title = start
            start += 1
    is_article = byline is not None or "editor" in roles
    cut = explicit_comment_start(paragraphs, start, is_article)
    # The last one, so that a page of several signed columns stays the authors'.
    signoff = max((i for i in range(start + 4, len(paragraphs)) if _SIGNOFF.match(paragraphs[i].text)), default=None)
    if cut is None and signoff is not None:
        cut = signoff + 1  # the author's sign-off ends the article: what follows it is not the author's
    # Only an article has an unmarked comment tail; in a manual, a report or a web page the chattier end
    # (lists, tables, FAQs) is still the author's. An interview reads conversational from its first turn,
    # so the register score cannot find its comments: only explicit markers can.
    elif cut is None and is_article and not _is_transcript(paragraphs[start:]):
        cut = comment_start(paragraphs, start)
    if cut is not None:
        for i in range(cut, len(paragraphs)):
            roles[i] = "commenter"
    return list(roles), title


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


def load_document(path: Path, root: Path, min_chars: int = 200, max_chars: int = 700) -> Document:
    """Parse one file under `root`, read by its format's loader, into a `Document` with roles and passages."""
    extracted = extract(path)
    lines = extracted.lines
    markdown = extracted.markdown
    paragraphs = paragraphs_of(lines, markdown=markdown)
    sidecar = _load_sidecar(path, len(lines))
    roles, title_index = assign_roles(paragraphs, sidecar)
    marked = list(paragraphs)
    for i, p in enumerate(paragraphs):
        if (
            roles[i] == "author"
            and i != title_index
            and not p.heading_level
            and not _BYLINE.match(p.text)  # "Interview by Jane Doe" is short and title-like, but not a section
            and _looks_like_heading(p, paragraphs[i + 1] if i + 1 < len(paragraphs) else None)
        ):
            marked[i] = Paragraph(p.text, p.line_start, p.line_end, heading_level=2)
    paragraphs = marked
    title = paragraphs[title_index].text.strip() if title_index is not None else None
    if title is None and markdown:
        title = next((_MD_HEADING.match(p.text).group(2) for p in paragraphs if p.heading_level == 1), None)  # type: ignore[union-attr]
    title = title or extracted.title
    sections: list[str | None] = []
    current: str | None = None
    for i, p in enumerate(paragraphs):
        if roles[i] != "author":
            sections.append(None)
            continue
        if p.heading_level and i != title_index:
            heading = _MD_HEADING.match(p.text) if markdown else None
            current = heading.group(2) if heading else p.text.strip()
        sections.append(current if i != title_index else None)
    source = (Path(root.name) / path.relative_to(root)).as_posix()
    document = Document(source, path, lines, title, paragraphs, list(roles), sections, [], extracted.page_starts)
    pages = [document.page_of(p.line_start) for p in paragraphs]
    document.passages = chunk(source, paragraphs, roles, sections, title, min_chars, max_chars, pages)
    # The sidecar changes roles without changing the file, so it is part of the file's hash.
    sidecar_text = json.dumps(sidecar, sort_keys=True) if sidecar is not None else ""
    document.digest = hashlib.sha256(f"{extracted.digest}\n{sidecar_text}".encode()).hexdigest()
    return document


def discover(seeds_dir: Path) -> list[Path]:
    """Supported files under `seeds_dir`, recursively, in a stable order; symlinks out of the folder skipped."""
    if not seeds_dir.is_dir():
        return []
    root = seeds_dir.resolve()
    found = []
    for path in sorted(seeds_dir.rglob("*")):
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith("."):
            if root not in path.resolve().parents:
                continue
            found.append(path)
    return found
