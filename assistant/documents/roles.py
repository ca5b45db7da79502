"""Who is speaking in each paragraph of a document: its *role*.

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
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from pathlib import Path

from ..errors import DocumentError
from ..voices import ROLES, Role
from .paragraphs import Paragraph, _looks_like_heading, _title_like
from .words import STOP_WORDS

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
_FIRST_PERSON = re.compile(r"\b(I|I[’']m|I[’']ve|I[’']d|me|my|mine)\b")
_SECOND_PERSON = re.compile(r"\b(you|your|you[’']re)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z’'\-]+")
# hedges and intensifiers say nothing of what a paragraph is about either
_STOP = STOP_WORDS | frozenset("been even just may might more most only over very".split())


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
