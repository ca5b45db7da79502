"""What the chat window shows, as HTML: answers with linked citation markers, source cards, drafts, and the
document panel around cited lines.

Plain functions of `Answer` and `Document`, with no Gradio and no state, so they are unit-tested without a
server (`assistant.ui.app` wires them to the page). Everything from the model or a document is escaped here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from ..answer import ROLE_LABEL, Answer, Citation
from ..answering.evidence import Evidence
from ..answering.grounding import REFUSAL_TEXT
from ..documents import Document
from ..voices import ROLES

WHOLE_DOCUMENT_LINES = 300  # longer documents show a window of lines around the citation
WINDOW_LINES = 60
_MARKERS = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


_SETTING = re.compile(r"\bASSISTANT_[A-Z_]+\b")


def in_words(message: str) -> str:
    """An error as the chat window says it: an environment variable (right for the CLI, meaningless in a browser)
    is cut out, and a sentence that only says which variable to set gives way to where they are listed."""
    out, dropped = [], False
    for sentence in re.split(r"(?<=[.;!?])\s+(?=[A-Z(])", message.strip()):
        sentence = re.sub(r"\s*\([^()]*ASSISTANT_[A-Z_]+[^()]*\)", "", sentence)
        if _SETTING.search(sentence):
            dropped = True
        else:
            out.append(sentence)
    if dropped:
        out.append("Whoever runs this server can change that: the settings are listed under ⚙ Settings.")
    return " ".join(out)


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _lines_label(start: int, end: int) -> str:
    return f"line {start}" if start == end else f"lines {start}–{end}"


def _place(documents: dict[str, Document] | None, source: str, start: int, end: int) -> str:
    """ "lines 3–5", or "page 2, lines 3–5" for paged formats (lines counted within the page)."""
    document = (documents or {}).get(source)
    return document.where(start, end, dash="–") if document is not None else _lines_label(start, end)


def _doc_name(documents: dict[str, Document] | None, source: str) -> str:
    """The document's name on a card, shown only when several documents could be meant."""
    if not documents or len(documents) < 2:
        return ""
    name = document_name(documents, source)
    return f'<span class="src-doc" title="{_attr(source)}">{_esc(name)}</span>'


def _badge(role: str) -> str:
    return f'<span class="badge role-{_attr(role)}">{_esc(ROLE_LABEL.get(role, role))}</span>'


def plain(text: str) -> str:
    """Text without Markdown emphasis marks (`**TREVIK:**` reads as `TREVIK:`), for quotes shown in cards."""
    return re.sub(r"\*\*|__", "", text)


def _who(citation: Citation) -> str:
    """Who says the cited words, beyond the voice's badge: the comment's handle, the interviewee, or whose words
    the sentence reports."""
    parts = []
    if citation.speaker:
        parts.append(f'<span class="src-who">{_esc(citation.speaker)}</span>')
    if citation.quoting and citation.quoting != citation.speaker:
        parts.append(f'<span class="src-who">reporting {_esc(citation.quoting)}</span>')
    return "".join(parts)


def document_name(documents: dict[str, Document] | None, source: str) -> str:
    """What a person calls a document: its title, else its file name (never the index's path)."""
    document = (documents or {}).get(source)
    return (document.title if document is not None else None) or source.rsplit("/", 1)[-1]


# -- messages ---------------------------------------------------------------------------------------------
def link_markers(text: str, turn: int, known: Sequence[int]) -> str:
    """Escape answer text and turn its `[n]` markers into links to the citations they name."""

    def repl(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
        return "".join(
            f'<a class="cite-ref" href="#cite-{turn}-{n}" title="Show source {n}">[{n}]</a>' if n in known else f"[{n}]"
            for n in numbers
        )

    return _MARKERS.sub(repl, _esc(text))


def highlight(paragraph: str, quote: str, room: int | None = 90) -> str:
    """`paragraph` as HTML with `quote` marked; with `room`, the text either side is cut to about that."""
    at = paragraph.find(quote) if quote else -1
    if at < 0:
        return f"<mark>{_esc(quote)}</mark>" if quote else _esc(paragraph)
    before, after = paragraph[:at], paragraph[at + len(quote) :]
    if room is not None and len(before) > room:
        before = "…" + before[-room:].split(" ", 1)[-1]
    if room is not None and len(after) > room:
        after = after[:room].rsplit(" ", 1)[0] + "…"
    return f"{_esc(before)}<mark>{_esc(quote)}</mark>{_esc(after)}"


def paragraph_of(document: Document | None, citation: Citation) -> str:
    """The text of the paragraph holding a citation (its own lines when the document is unknown)."""
    if document is None:
        return citation.quote
    for p in document.paragraphs:
        if p.line_start <= citation.line_start <= p.line_end and citation.line_end <= p.line_end:
            return p.text
    return document.text_of(citation.line_start, citation.line_end)


def format_sources(answer: Answer, documents: dict[str, Document] | None = None, turn: int = 0) -> str:
    """Compact source cards: role badge, section, line range, the verified quote marked in its paragraph."""
    cards = []
    for c in answer.citations:
        section = f'<span class="src-section">{_esc(c.section)}</span>' if c.section else ""
        context = highlight(plain(paragraph_of((documents or {}).get(c.source), c)), plain(c.quote))
        place = _place(documents, c.source, c.line_start, c.line_end)
        cards.append(
            f'<a class="src-card role-{_attr(c.role)}" href="#cite-{turn}-{c.n}" '
            f'title="Show {_attr(place)} of {_attr(c.title or document_name(documents, c.source))}">'
            f'<span class="src-head"><span class="src-n">[{c.n}]</span>{_doc_name(documents, c.source)}'
            f'{_badge(c.role)}{_who(c)}{section}<span class="src-lines">{_esc(place)}</span></span>'
            f'<span class="src-text">{context}</span></a>'
        )
    return f'<div class="src-cards">{"".join(cards)}</div>' if cards else ""


def format_passages(answer: Answer, turn: int = 0, documents: dict[str, Document] | None = None) -> str:
    """The retrieved passages (collapsed), each a link into the document panel, with retrieval timing."""
    if not answer.retrieved:
        return ""
    rows = []
    for i, r in enumerate(answer.retrieved, start=1):
        p = r.passage
        snippet = p.text if len(p.text) <= 160 else p.text[:160].rsplit(" ", 1)[0] + "…"
        rows.append(
            f'<li><a class="passage-link" href="#passage-{turn}-{i}">{_doc_name(documents, p.source)}{_badge(p.role)}'
            f'<span class="src-lines">{_esc(_place(documents, p.source, p.line_start, p.line_end))}'
            f" · score {r.score:.3f}</span> "
            f"{_esc(snippet)}</a></li>"
        )
    took = answer.timings.get("total_s")
    timing = f" · answered in {took:.1f} s" if took is not None else ""
    return (
        f'<details class="retrieved"><summary>{len(rows)} passages retrieved{timing}</summary>'
        f"<ol>{''.join(rows)}</ol></details>"
    )


def format_removed(answer: Answer) -> str:
    """The draft sentences grounding removed or rewrote, struck through with the reason: what was streamed and
    is no longer in the answer stays visible, so the answer never silently turns into another."""
    if not answer.removed:
        return ""
    rows = []
    for r in answer.removed:
        what = "rewritten" if r.replaced_by else "removed"
        rows.append(f'<li><del>{_esc(r.text)}</del> <span class="why">— {what}: {_esc(r.reason)}</span></li>')
    n = len(answer.removed)
    head = f"{n} sentence{'s' if n > 1 else ''} of the draft changed after checking against the document"
    return f'<div class="removed"><div class="removed-head">{head}:</div><ul>{"".join(rows)}</ul></div>'


def was_rewritten(answer: Answer) -> bool:
    """Whether the question searched for differs from the one asked (not just in case, spaces or punctuation)."""
    if not answer.standalone_question:
        return False
    words = [re.sub(r"[^\w ]", "", " ".join(t.lower().split())) for t in (answer.question, answer.standalone_question)]
    return words[0] != words[1]


def format_answer(
    answer: Answer, documents: dict[str, Document] | None = None, turn: int = 0, show_passages: bool = False
) -> str:
    """The chat message for a finished answer: text with linked markers (refusals and errors set apart), the
    rewritten follow-up (collapsed), source cards, and optionally the retrieved passages."""
    known = [c.n for c in answer.citations]
    if answer.error:
        body = f'<div class="note error">⚠️ {_esc(in_words(answer.answer))}</div>'
        show_passages = True  # what retrieval found is all there is to show
    elif answer.refused:
        rest = answer.answer.removeprefix(REFUSAL_TEXT).strip()
        said = (
            f'<div class="said">{link_markers(rest, turn, known)}</div>'
            if rest
            else '<div class="hint">No passage clearly supports an answer, so none is given. '
            "Try other words, or ask about something the document covers.</div>"
        )
        body = f'<div class="note refusal"><strong>{_esc(REFUSAL_TEXT)}</strong>{said}</div>'
    else:
        body = link_markers(answer.answer, turn, known)
    parts = [body, format_removed(answer)]
    if was_rewritten(answer):
        parts.append(
            '<details class="standalone"><summary>Searched for</summary>'
            f"{_esc(answer.standalone_question or '')}</details>"
        )
    sources = format_sources(answer, documents, turn)
    if sources:
        parts.append(sources)
    if show_passages:
        parts.append(format_passages(answer, turn, documents))
    return "\n\n".join(p for p in parts if p)


def format_evidence(evidence: Sequence[Evidence]) -> str:
    """The numbered sentences the answer will rest on, each with who says it and its line, shown while the
    model writes: the reader sees the grounds first, and the draft's [n] markers point into this list."""
    if not evidence:
        return ""
    rows = []
    for e in evidence:
        where = f"line {e.line_start}" if e.line_start == e.line_end else f"lines {e.line_start}–{e.line_end}"
        who = e.label()
        rows.append(f'<li value="{e.n}"><span class="ev-who">{_esc(who)} · {where}</span> {_esc(plain(e.text))}</li>')
    return (
        f'<details class="evidence" open><summary>Found in the document: {len(rows)} sentences the answer '
        f"may use</summary><ol>{''.join(rows)}</ol></details>"
    )


def format_draft(
    draft: str, waited: float, note: str | None = None, evidence: Sequence[Evidence] = (), ahead: int = 0
) -> str:
    """A message still being written: the growing text and a cursor, or a waiting note with elapsed time (and
    the place in line when other questions are ahead for the model), above the evidence found."""
    found = format_evidence(evidence)
    if draft:
        return (
            f"{_esc(draft.rstrip())} ▌\n\n"
            '<div class="pending">Draft: each sentence is checked against the sentences below when done; '
            "any that is removed stays visible, struck through.</div>" + (f"\n\n{found}" if found else "")
        )
    if ahead:
        what = f"In line for the model: {ahead} question{'s' if ahead > 1 else ''} ahead of yours…"
    elif note:
        what = note
    else:
        what = "Searching the document…" if waited < 2 and not evidence else "Waiting for the model's first words…"
    spinner = f'<div class="pending"><span class="spinner"></span>{_esc(what)} {waited:.0f} s</div>'
    return spinner + (f"\n\n{found}" if found else "")


def stopped_reply(reply: str) -> str:
    """A reply stopped mid-way: the draft so far (if any), plainly marked as not checked. Marking a reply
    twice gives the same reply (Stop, Clear and the answer's own end may all mark it)."""
    reply = re.sub(r'(\n\n)?<div class="note stopped">.*?</div>$', "", reply, flags=re.DOTALL)
    reply = re.sub(r'(\n\n)?<details class="evidence".*?</details>$', "", reply, flags=re.DOTALL)
    draft = re.sub(r'(\n\n)?<div class="pending">.*?</div>$', "", reply, flags=re.DOTALL).removesuffix(" ▌")
    note = "Stopped. This draft was not checked against the document." if draft else "Stopped."
    return (f"{draft}\n\n" if draft else "") + f'<div class="note stopped">{note}</div>'


# -- the document panel -----------------------------------------------------------------------------------
DOC_PLACEHOLDER = (
    '<div class="doc-empty">Click a source card or a citation marker such as <b>[1]</b> to read the cited '
    "lines here, in context.</div>"
)


def marked_lines(lines: Sequence[str], quote: str | None) -> list[str]:
    """Lines as HTML with the part of each that belongs to `quote` marked (a quote may span lines)."""
    text = "\n".join(lines)
    at = text.find(quote) if quote else -1
    if at < 0 or not quote:
        return [_esc(line) for line in lines]
    out, start = [], 0
    for line in lines:
        a, b = max(at, start), min(at + len(quote), start + len(line))
        if a < b:
            a, b = a - start, b - start
            out.append(f"{_esc(line[:a])}<mark>{_esc(line[a:b])}</mark>{_esc(line[b:])}")
        else:
            out.append(_esc(line))
        start += len(line) + 1
    return out


def format_document(
    document: Document, line_start: int, line_end: int, quote: str | None = None, heading: str = ""
) -> str:
    """The document around lines `line_start`..`line_end`, numbered, those lines highlighted, `quote` marked.

    Each line carries its voice (editor / author / commenter) as a coloured edge, so one sees where the
    article ends and the comments begin.
    """
    total = len(document.lines)
    first, last = 1, total
    if total > WHOLE_DOCUMENT_LINES:
        first, last = max(1, line_start - WINDOW_LINES), min(total, line_end + WINDOW_LINES)
    role_of: dict[int, str] = {}
    headings: set[int] = set()
    for p, role in zip(document.paragraphs, document.roles, strict=True):
        for n in range(p.line_start, p.line_end + 1):
            role_of[n] = role
        if p.heading_level:
            headings.add(p.line_start)
    marked = marked_lines(document.lines[line_start - 1 : line_end], quote)
    rows = []
    for n in range(first, last + 1):
        text = document.lines[n - 1]
        hit = line_start <= n <= line_end
        shown = marked[n - line_start] if hit else _esc(text)
        classes = ["ln", f"r-{role_of.get(n, 'none')}"] + (["hl"] if hit else []) + (["h"] if n in headings else [])
        cells = f'<span class="no">{n}</span><span class="tx">{shown}</span>'
        rows.append(f'<div class="{" ".join(classes)}">{cells}</div>')
    window = "" if (first, last) == (1, total) else f" · showing lines {first}–{last} of {total}"
    name = document.title or document.source.rsplit("/", 1)[-1]
    title = f'<div class="doc-title" title="{_attr(document.source)}">{_esc(name)}</div>'
    return (
        f'<div class="doc">{title}<div class="doc-meta">{heading}<span class="src-lines">'
        f"{_esc(document.where(line_start, line_end, dash='–'))}{window}</span></div>"
        f'<div class="doc-legend">{"".join(_badge(role) for role in ROLES)}</div>'
        # focusable, so the lines can be scrolled with the keyboard
        f'<div class="doc-body" tabindex="0" role="region" aria-label="Document lines">{"".join(rows)}</div></div>'
    )
