"""Evidence first: the sentences an answer may rest on, chosen before the model writes, each with its speaker.

Why sentences, not passages: a 1.5B model given six 700-character passages answers from the wrong one and
cites unreliably; given the eight sentences closest to the question, numbered, each labelled with who says
it, it copies from the right one, its prompt is a third as long, and a citation points at one line. The code
chooses the sentences (dense cosine blended with shared rare words, over the sentences of the retrieved
passages); the model only writes.

Who says a sentence is read from the document's own structure, not from word lists about one document:
its voice (editor's note, article author, reader comment), the handle that signs a comment, the label of an
interview turn ("**TREVIK:**"), and the person whose words a sentence reports ("X told Fox News: …").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..answer import Retrieved
from ..documents import Document, Passage, sentence_spans
from ..retrieval.hybrid import tokenize
from ..voices import INTERVIEWER, LABEL, Role, comment_by, interviewee

Embed = Callable[[list[str]], list[list[float]]]

# "NarrowsNative · 2 days ago", "Jane D. says:", "Reply to GannetPtDad:": a line that signs or opens a comment
_SIGNATURE = re.compile(r"^(?P<who>[^\s·:]{2,40}(?: [^\s·:]{1,20})?) · .{1,40}$|^(?P<says>[\w .'-]{2,40}) says:$")
# "**TREVIK:** …", "**Mira Castellane (interviewer):** …", "Q: …": the speaker of an interview turn
_TURN = re.compile(r"^\*\*(?P<who>[^*:]{1,60}?):?\*\*:?\s|^(?P<plain>[A-Z][A-Z .'-]{1,30}|Q|A):\s")
_NAME = r"(?P<name>(?:[A-Z][\w’'.-]+\s){0,3}[A-Z][\w’'-]+)"
_SAYS = r"(?:said|says|told|tells|argued|argues|wrote|writes|warned|warns|added|adds|claimed|claims|insisted|insists|noted|notes|declared|stated|asked|replied|called|calls)"
# the person whose words a sentence reports: "Trump told Fox News: “…”", "“…,” said Putin", "according to X"
_REPORTED = (
    re.compile(rf"{_NAME}(?:,[^,“”\"]{{1,80}},)?\s+(?:has\s+|had\s+)?{_SAYS}\b"),
    re.compile(rf"[”\"],?\s+{_SAYS}\s+{_NAME}"),
    re.compile(rf"\b(?i:according) to\s+{_NAME}"),
)
_NOT_NAMES = frozenset(
    "The This That These Those It He She They We I You A An In On At As But And Or If When While After Before "
    "Some Many Most One Critics Officials Supporters Residents Readers".split()
)
# "By X", "Interview by X", "— X is a …": the lines that say who wrote the piece and where it appeared
_CREDIT = re.compile(
    r"^(?:[*_]*)(?:by\s+[A-Z]|(?:interview|story|words|reporting|text) by\s|—\s*[A-Z]|originally published)", re.I
)
# a question about who wrote the piece, their job, or where it first appeared
_ABOUT_CREDIT = re.compile(
    r"\b(who (wrote|is the (author|writer))|written by|byline|author'?s? (job|name|background|bio)|what does the (author|writer) do"
    r"|(first |originally )?(published|appeared|ran)\b|who (is|was) (the )?(author|writer|columnist))",
    re.I,
)
# how much a sentence's shared words count against its meaning, and the pull of its passage's rank (1/rank);
# swept on dev + train (benchmarks/evidence_sweep.py, docs/evaluation.md)
LEXICAL_WEIGHT = 0.3
RANK_WEIGHT = 0.4


@dataclass(frozen=True)
class Evidence:
    """One sentence of a document, as the model sees it: a number, who says it, and where it is."""

    n: int
    text: str
    passage: Passage
    line_start: int
    line_end: int
    speaker: str  # "article author", "reader comment by NarrowsNative", "Trevik (interview)"
    quoting: str | None  # the person whose words the sentence reports, if any
    score: float

    @property
    def role(self) -> Role:
        return self.passage.role

    def label(self) -> str:
        """The header the prompt shows: who says it and whose words it reports."""
        quoting = f", reporting what {self.quoting} said" if self.quoting else ""
        return f"{self.speaker}{quoting}"


def reported_speaker(sentence: str) -> str | None:
    """The named person whose words `sentence` reports, or None ("he said" names nobody)."""
    for pattern in _REPORTED:
        for match in pattern.finditer(sentence):
            name = match.group("name")
            words = [w for w in name.split() if w not in _NOT_NAMES]
            if words:
                return " ".join(words)
    return None


def line_speaker(document: Document | None, line: int, role: Role) -> str:
    """Who says line `line`: an interview turn's label, a comment's signature, else the voice's label."""
    label = LABEL.get(role, role)
    if document is None:
        return label
    text = document.lines[line - 1].strip() if 0 < line <= len(document.lines) else ""
    if turn := _TURN.match(text):
        who = (turn.group("who") or turn.group("plain") or "").strip()
        if who in ("Q", "A"):
            return INTERVIEWER if who == "Q" else label
        return interviewee(who.title() if who.isupper() else who)
    if role == "commenter":  # a signed comment: the nearest signature line above it names its writer
        for back in range(line - 1, max(0, line - 30), -1):
            if sig := _SIGNATURE.match(document.lines[back - 1].strip()):
                return comment_by(sig.group("who") or sig.group("says"))
    return label


def _sentences(passage: Passage, document: Document | None) -> list[tuple[str, int, int]]:
    """(sentence, line_start, line_end) of each sentence of a passage, verbatim in those lines of the document.

    Sentences are split within the document's paragraphs, so a hard-wrapped sentence is one sentence over
    several lines (its text keeps the line breaks, so it is a verbatim quote of those lines).
    """
    if document is None:
        return [
            (raw[a:b], passage.line_start, passage.line_start)
            for raw in passage.text.split("\n")
            for a, b in sentence_spans(raw)
            if len(raw[a:b]) >= 12
        ]
    headings = {passage.section, passage.title} - {None}
    out: list[tuple[str, int, int]] = []
    for paragraph in document.paragraphs:
        if paragraph.line_end < passage.line_start or paragraph.line_start > passage.line_end:
            continue
        text = paragraph.text
        if paragraph.heading_level or text.lstrip("#* ").strip() in headings:
            continue  # a heading names a topic; the sentences under it say something about it
        for a, b in sentence_spans(text):
            raw = text[a:b]
            core = raw.strip("*_ ")
            if len(core) < 12 or core not in passage.text:
                continue
            offset = a + raw.find(core)
            first = paragraph.line_start + text.count("\n", 0, offset)
            last = paragraph.line_start + text.count("\n", 0, offset + len(core))
            if passage.line_start <= first and last <= passage.line_end:
                out.append((core, first, last))
    return out


def corpus_sentences(passages: Sequence[Passage], documents: dict[str, Document]) -> list[str]:
    """Every sentence evidence selection can choose from these passages (what `select` embeds), in order."""
    return list(dict.fromkeys(s for p in passages for s, _, _ in _sentences(p, documents.get(p.source))))


def credit_lines(document: Document) -> list[tuple[str, int]]:
    """The byline, "Interview by …" and sign-off lines of a document, with their line numbers."""
    return [
        (line.strip("*_ "), i)
        for i, line in enumerate(document.lines, start=1)
        if line.strip() and _CREDIT.match(line.strip()) and len(line) < 300
    ]


def about_credit(question: str) -> bool:
    """Whether a question asks who wrote the piece, what they do, or where it appeared."""
    return bool(_ABOUT_CREDIT.search(question))


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when either is zero)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _shared(question_terms: set[str], sentence: str) -> float:
    """Share of the question's words that the sentence holds."""
    return len(question_terms & set(tokenize(sentence))) / len(question_terms) if question_terms else 0.0


def select(
    question: str,
    retrieved: Sequence[Retrieved],
    documents: dict[str, Document],
    embed: Embed,
    limit: int = 8,
    query: Sequence[float] | None = None,
) -> list[Evidence]:
    """The `limit` sentences of the retrieved passages that best match the question, in document order.

    A sentence's score is its cosine with the question, plus the share of the question's words it holds, plus a
    pull towards better-ranked passages (the passage's context counted in retrieval). A question about who
    wrote the piece also gets the documents' credit lines (byline, sign-off). `query` is the question's vector
    when retrieval already has it (the same MiniLM), so the question is not embedded twice.
    """
    pool: dict[tuple[str, int, str], tuple[str, Passage, int, int, float]] = {}
    for rank, r in enumerate(retrieved):
        for sentence, a, b in _sentences(r.passage, documents.get(r.passage.source)):
            pool.setdefault((r.passage.source, a, sentence), (sentence, r.passage, a, b, 1.0 / (rank + 1)))
    forced: list[tuple[str, Passage, int, int, float]] = []
    if about_credit(question):
        for source in dict.fromkeys([r.passage.source for r in retrieved] + [k[0] for k in pool]):
            document = documents.get(source)
            if document is None:
                continue
            for text, line in credit_lines(document)[:3]:
                owner = next((p for p in document.passages if p.line_start <= line <= p.line_end), None)
                if owner is not None:
                    forced.append((text, owner, line, line, 1.0))
    if not pool and not forced:
        return []
    items = list(pool.values())
    if query is None:
        q, *vectors = embed([question] + [t for t, *_ in items])
    else:
        q, vectors = list(query), embed([t for t, *_ in items])
    terms = set(tokenize(question))
    scored = [
        (cosine(q, v) + LEXICAL_WEIGHT * _shared(terms, s) + RANK_WEIGHT * prior, s, p, a, b)
        for (s, p, a, b, prior), v in zip(items, vectors, strict=True)
    ]
    scored.sort(key=lambda x: -x[0])
    chosen = [(1.0, s, p, a, b) for s, p, a, b, _ in forced]
    taken = {(p.source, a, s) for _, s, p, a, _ in chosen}
    for item in scored:
        if len(chosen) >= limit:
            break
        if (item[2].source, item[3], item[1]) not in taken:
            chosen.append(item)
    chosen.sort(key=lambda x: (x[2].source, x[3], x[2].text.find(x[1])))
    out = []
    for n, (score, sentence, passage, a, b) in enumerate(chosen, start=1):
        document = documents.get(passage.source)
        speaker = line_speaker(document, a, passage.role)
        out.append(Evidence(n, sentence, passage, a, b, speaker, reported_speaker(sentence), score))
    return out


def format_evidence(evidence: Sequence[Evidence], documents: dict[str, Document]) -> str:
    """Numbered sentences for the prompt, one a line, each with who says it.

    The document's title is shown only when the evidence comes from several documents, and a section only
    where it changes: every label token is paid for in prompt time.
    """
    several = len({e.passage.source for e in evidence}) > 1
    blocks: list[str] = []
    previous: tuple[str, str | None] | None = None
    for e in evidence:
        document = documents.get(e.passage.source)
        title = f" in “{document.title}”" if several and document is not None and document.title else ""
        place = (e.passage.source, e.passage.section)
        section = f", section “{e.passage.section}”" if e.passage.section and place != previous else ""
        previous = place
        blocks.append(f"[{e.n}] ({e.label()}{title}{section}) {' '.join(e.text.split())}")
    return "\n".join(blocks)


@dataclass(frozen=True)
class Found:
    """What `Assistant.stream()` yields before the model's first token: the evidence the answer will rest on."""

    evidence: tuple[Evidence, ...]


def leading(
    retrieved: Sequence[Retrieved], documents: dict[str, Document], per: int = 2, limit: int = 10
) -> list[Evidence]:
    """The first `per` sentences of each passage, for a summary over passages chosen to cover a whole voice."""
    out: list[Evidence] = []
    for r in retrieved:
        document = documents.get(r.passage.source)
        for sentence, a, b in _sentences(r.passage, document)[:per]:
            if len(out) >= limit:
                return out
            speaker = line_speaker(document, a, r.passage.role)
            out.append(Evidence(len(out) + 1, sentence, r.passage, a, b, speaker, reported_speaker(sentence), r.score))
    return out
