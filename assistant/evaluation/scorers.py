"""The scorers: small functions from a `Context` (case, answer, documents, k) to metric values."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..answer import Answer
from ..answering.evidence import cosine
from ..documents import Document, Passage

if TYPE_CHECKING:
    from .dataset import Case, Embed, Span


Scorer = Callable[["Context"], dict[str, float | None]]


# -- scorers -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """What a scorer sees: the case, the pipeline's answer, the documents and the retrieval depth k."""

    case: Case
    answer: Answer
    documents: dict[str, Document]
    k: int
    embed: Embed


def _squash(text: str) -> str:
    return " ".join(text.split())


def covers(passage: Passage, quote: str, spans: Sequence[Span]) -> bool:
    """A passage holds a quote when the quote's lines lie inside the passage's and its text is really there.

    Why the text check: a long line may be split over several passages, each claiming the whole line.
    """
    inside = any(s.within(passage.source, passage.line_start, passage.line_end) for s in spans)
    return inside and _squash(quote) in _squash(passage.text)


def score_retrieval(ctx: Context) -> dict[str, float | None]:
    """Evidence recall@k, reciprocal rank of the first passage with evidence, characters retrieved."""
    top = [r.passage for r in ctx.answer.retrieved[: ctx.k]]
    quotes = list(zip(ctx.case.evidence, ctx.case.spans, strict=True))
    found = sum(1 for q, spans in quotes if any(covers(p, q, spans) for p in top))
    rank = next((i for i, p in enumerate(top, 1) if any(covers(p, q, s) for q, s in quotes)), None)
    return {
        "evidence_total": float(len(quotes)),
        "evidence_found": float(found),
        "recall_at_k": found / len(quotes) if quotes else None,
        "reciprocal_rank": (1.0 / rank if rank else 0.0) if quotes else None,
        "chars_retrieved": float(sum(len(p.text) for p in top)),
    }


def score_citations(ctx: Context) -> dict[str, float | None]:
    """Citations whose lines overlap gold evidence, and those whose quote is verbatim in the cited lines."""
    from ..answering.grounding import verify

    spans = [s for group in ctx.case.spans for s in group]
    cits = ctx.answer.citations
    on = sum(1 for c in cits if any(s.overlaps(c.source, c.line_start, c.line_end) for s in spans))
    ok = sum(1 for c in cits if (d := ctx.documents.get(c.source)) is not None and verify(c, d))
    return {
        "citations": float(len(cits)),
        "citations_on_evidence": float(on),
        "citations_verified": float(ok),
        "cited_evidence": float(on > 0) if ctx.case.answerable else None,
    }


def score_refusal(ctx: Context) -> dict[str, float | None]:
    """Whether the pipeline refused (right for unanswerable items, wrong for answerable ones)."""
    return {"refused": float(ctx.answer.refused)}


_PUNCT = re.compile(r"[^\w\s]")
_ARTICLES = frozenset({"a", "an", "the"})


def answer_tokens(text: str) -> list[str]:
    """SQuAD-style normalisation: lower case, no punctuation, no articles."""
    return [t for t in _PUNCT.sub(" ", text.lower().replace("’", "'").replace("'", "")).split() if t not in _ARTICLES]


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall against the reference answer."""
    pred, ref = answer_tokens(prediction), answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if not same:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def score_answer(ctx: Context) -> dict[str, float | None]:
    """Token F1 and MiniLM cosine similarity of the answer text against the reference answer."""
    got, ref = ctx.embed([ctx.answer.answer, ctx.case.answer])
    return {"token_f1": token_f1(ctx.answer.answer, ctx.case.answer), "similarity": cosine(got, ref)}


def score_latency(ctx: Context) -> dict[str, float | None]:
    """Seconds to the first token and in total, as the pipeline measured them."""
    return {
        "first_token_s": ctx.answer.timings.get("first_token_s"),
        "total_s": ctx.answer.timings.get("total_s"),
    }


SCORERS: tuple[Scorer, ...] = (score_retrieval, score_citations, score_refusal, score_answer, score_latency)
