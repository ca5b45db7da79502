"""Grounding: keep the whole sentences of a draft that the evidence supports, each cited to its sentence.

The model was given numbered evidence sentences (`evidence.py`) and asked to cite them. It cites unreliably,
so the code decides: each answer sentence is kept whole or dropped whole, never cut into a fragment. It is
kept when an evidence sentence supports it (MiniLM cosine blended with shared words, at least
`threshold`): the best-supporting one, whichever the model cited (preferring the model's own citation changed
no figure on any split, so the code decides alone). It is dropped when nothing supports it,
when it holds a figure the evidence does not, or when it gives the words to the wrong speaker ("the author
calls X a threat" cited to a sentence that reports what an official said, or to a reader comment).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..answer import Citation, Removed
from ..documents import Document, split_sentences
from ..retrieval.hybrid import tokenize
from ..voices import GIVEN, INTERVIEWER, NAMED, PHRASE, SAYING, commenter_of, interviewee_of
from .evidence import Evidence, cosine

REFUSAL_TEXT = "The document doesn't say."
_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,–-]\s*\d+)*)\]")
_REFUSAL = re.compile(
    r"^\W*(i (do not|don['’]t) know|i cannot (find|answer)|i can['’]t (find|answer)|there is no (information|mention)"
    r"|(the )?(evidence|passages?|document|context|text|article)s? (do|does) not (say|contain|mention|provide|specify|state|give)"
    r"|(the )?(evidence|passages?|document|context|text|article)s? (doesn['’]t|don['’]t) (say|contain|mention|provide|specify|state|give)"
    r"|no (information|mention)|(this|that) is not (mentioned|stated|specified))",
    re.IGNORECASE,
)
_FIGURE = re.compile(r"\d[\d,.]*")


@dataclass
class Grounded:
    """The kept sentences as the answer text, their citations, and what grounding saw."""

    text: str
    citations: list[Citation]
    declined: bool  # the model said the evidence does not answer
    supports: list[float] = field(default_factory=list)  # the support of each kept sentence
    dropped: int = 0  # answer sentences removed
    removed: list[Removed] = field(default_factory=list)  # each removed or rewritten sentence, and why


def figures(text: str) -> set[str]:
    """The figures a text gives ("1,200", "3.5", "2024"), without trailing punctuation.

    Why: a figure is the one thing a small model invents that reads as true, so grounding drops a sentence whose
    figure the evidence lacks, and a follow-up rewrite must keep the user's figures.
    """
    return {n.rstrip(".,") for n in _FIGURE.findall(text)}


def is_refusal(text: str) -> bool:
    """Whether a draft opens by saying the document does not answer the question."""
    return bool(_REFUSAL.search(text.strip()))


def claims_of(draft: str) -> list[str]:
    """The draft's sentences without their `[n]` markers (a marker opening a sentence belongs to the one before)."""
    draft = re.sub(r"(?m)^\s*[>*-]\s?", "", draft)  # quoted or bulleted lines: the text is what counts
    sentences: list[str] = []
    for piece in split_sentences(draft.strip().replace("\n", " ")):
        text = _MARKER.sub("", piece).strip()
        text = re.sub(r"(\s*[,;])+(?=\s*[.!?]?$)", "", text)  # the commas between markers "[1], [2]." went too
        if sentences and re.match(r"[,;:)]\W*\w", text):  # split after a quoted "…?”" mid-sentence: one sentence
            sentences[-1] = f"{sentences[-1]}{text}"
        else:
            sentences.append(text)
    return [s for s in sentences if re.search(r"\w{2,}", s)]


def _overlap(claim: str, source: str) -> float:
    words = set(tokenize(claim))
    return len(words & set(tokenize(source))) / len(words) if words else 0.0


_LEAD = re.compile(
    r"^(?:[\w'’.-]+\s){1,6}?(?:says?|said|argues?|argued|writes?|wrote|claims?|claimed|notes?|noted|thinks?|"
    r"believes?|suggests?|states?|stated|reports?|reported|explains?|points? out|adds?)\s+(?:that\s+)?",
    re.I,
)


def content_of(claim: str) -> str:
    """A claim without its attribution lead ("The article author says that …"): what the evidence must support.

    Who said it is checked on its own (`misattributed`); leaving the lead in would let a wrong speaker's name
    lower the support of a true claim and a right one raise the support of a false one.
    """
    stripped = _LEAD.sub("", claim, count=1)
    return stripped if len(stripped.split()) >= 3 else claim


def support(claim_vec: Sequence[float], source_vec: Sequence[float], claim: str, source: str) -> float:
    """How well `source` supports `claim`: meaning (cosine) blended with shared words."""
    return 0.6 * cosine(claim_vec, source_vec) + 0.4 * _overlap(claim, source)


def misattributed(claim: str, evidence: Evidence) -> bool:
    """Whether a sentence gives the cited words to a voice that did not say them.

    "The author argues X" cited to a reader comment, to a sentence reporting what a named person said or to
    an interviewee's answer (unless the sentence names that person too); "a commenter says X" cited to the
    article; "the editor…" cited to anyone but the editor.
    """
    if not SAYING.search(claim):
        return False
    given = {voice for voice, pattern in GIVEN.items() if pattern.search(claim)}
    if not given or len(given) > 1:
        return False  # names no voice, or several ("the author and a commenter agree"): nothing to check
    voice = next(iter(given))
    if voice != evidence.role:
        return True
    person = evidence.quoting or interviewee_of(evidence.speaker)
    if voice == "author" and person:
        named = {w.lower() for w in person.split()}
        return not named & {w.lower().strip(".,’'s") for w in claim.split()}
    return False


def speaker_phrase(evidence: Evidence) -> str:
    """How an answer names whoever says an evidence sentence: "the editor's note", "Trump", "a commenter"."""
    if evidence.quoting:
        return evidence.quoting
    if (name := interviewee_of(evidence.speaker)) is not None:
        return name
    if (handle := commenter_of(evidence.speaker)) is not None:
        return f"the commenter {handle}"
    return PHRASE[evidence.role]


def reattributed(claim: str, evidence: Evidence) -> str:
    """The claim with the voice it named replaced by whoever says the evidence sentence.

    Why: a small model writes "the author says" by habit; when the words are a reader's, the editor's or a
    quoted official's, naming the right speaker keeps a true claim instead of dropping it.
    """
    match = NAMED.search(claim)
    if match is None:
        return claim
    name = speaker_phrase(evidence)
    out = claim[: match.start()] + name + claim[match.end() :]
    return out[:1].upper() + out[1:] if match.start() == 0 else out


def with_marker(sentence: str, n: int) -> str:
    """Put `[n]` before the sentence's closing punctuation."""
    mark = f"[{n}]"
    match = re.search(r"[.!?…]+[\"”’)]*$", sentence)
    if match:
        return f"{sentence[: match.start()]} {mark}{sentence[match.start() :]}"
    return f"{sentence} {mark}"


def speaker_name(evidence: Evidence) -> str | None:
    """The person who says an evidence sentence when the document names them ("NarrowsNative", "Trevik")."""
    if (name := interviewee_of(evidence.speaker)) is not None:
        return name
    if (handle := commenter_of(evidence.speaker)) is not None:
        return handle
    return INTERVIEWER if evidence.speaker == INTERVIEWER else None


def citation_of(evidence: Evidence, n: int, documents: dict[str, Document]) -> Citation:
    """A citation of one evidence sentence, numbered `n` in the answer."""
    p = evidence.passage
    return Citation(
        n=n,
        source=p.source,
        line_start=evidence.line_start,
        line_end=evidence.line_end,
        role=p.role,
        section=p.section,
        quote=evidence.text,
        title=p.title,
        page=p.page,
        speaker=speaker_name(evidence),
        quoting=evidence.quoting,
    )


def ground(
    draft: str,
    evidence: Sequence[Evidence],
    documents: dict[str, Document],
    embed: Callable[[list[str]], list[list[float]]],
    threshold: float,
    max_sentences: int | None = 3,
) -> Grounded:
    """The draft's sentences that the evidence supports, whole, with citations renumbered from 1."""
    declined = is_refusal(draft)
    claims = [c for c in claims_of(draft) if not is_refusal(c)]
    if not claims or not evidence:
        nothing = [Removed(c, "the document gave no evidence for it") for c in claims]
        return Grounded("", [], declined, [], len(claims), nothing)
    vectors = embed([content_of(c) for c in claims] + [e.text for e in evidence])
    claim_vecs, ev_vecs = vectors[: len(claims)], vectors[len(claims) :]
    known_figures = set().union(*(figures(e.text) for e in evidence))
    citations: list[Citation] = []
    numbered: dict[int, int] = {}  # evidence number -> citation number
    pieces: list[str] = []
    supports: list[float] = []
    dropped = 0
    removed: list[Removed] = []
    for claim, vec in zip(claims, claim_vecs, strict=True):
        if max_sentences is not None and len(pieces) >= max_sentences:
            limit = f"{max_sentences} sentence" + ("s" if max_sentences != 1 else "")
            removed.append(Removed(claim, f"answers are kept to {limit}"))
            continue
        if claim.endswith("?"):
            dropped += 1
            removed.append(Removed(claim, "a question, not a claim"))
            continue  # a question of the model's own claims nothing
        if figures(claim) - known_figures:
            dropped += 1
            removed.append(Removed(claim, "it gives a figure the document does not"))
            continue  # a figure the evidence does not hold is never shown
        content = content_of(claim)
        scored = [(support(vec, ev_vecs[i], content, e.text), i) for i, e in enumerate(evidence)]
        best, i = max(scored)
        if best < threshold:
            dropped += 1
            removed.append(Removed(claim, "no sentence of the document supports it"))
            continue
        e = evidence[i]
        text = reattributed(claim, e) if misattributed(claim, e) else claim  # the code says who said it
        if misattributed(text, e):
            dropped += 1
            removed.append(Removed(claim, "it gives the words to the wrong speaker"))
            continue
        if text != claim:
            removed.append(Removed(claim, "the speaker was corrected", text))
        if e.n not in numbered:
            numbered[e.n] = len(citations) + 1
            citations.append(citation_of(e, numbered[e.n], documents))
        pieces.append(with_marker(text, numbered[e.n]))
        supports.append(best)
    return Grounded(" ".join(pieces), citations, declined, supports, dropped, removed)


def verify(citation: Citation, document: Document) -> bool:
    """Whether a citation's quote occurs verbatim in its lines (used by tests and the evaluator)."""
    return citation.quote in document.text_of(citation.line_start, citation.line_end)
