"""The one refusal decision: whether to say "The document doesn't say.", from measured signals.

Every signal is a number the answer path measures anyway; the thresholds are fitted on the train splits
(`benchmarks/fit_refusal.py`) and their precision/recall on the test splits is in docs/evaluation.md.
No word lists about particular documents: the model's own "the document doesn't say" (written, or as likely as
a fitted floor: `doubt`), whether grounding kept any sentence, how close the best evidence sentence is to the
question, and how well the evidence supports what is left of the answer. (A rule that refused a question asking
for a figure or a date when the answer gave none was measured and removed: on dev + train it refused no more
unanswerable items and more answerable ones, and on test it changed nothing; docs/evaluation.md.)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Signals:
    """What the answer path measured about one question and its draft."""

    dense: float  # best cosine of the question with a retrieved passage
    lexical: float  # best BM25 score of a passage
    evidence: float  # best score of an evidence sentence (cosine + shared words)
    support: float  # support of the best-supported kept sentence (0 when none was kept)
    kept: int  # answer sentences kept by grounding
    declined: bool  # the model said the document does not answer
    doubt: float | None = None  # log P("The document doesn't say." | the prompt); None when the backend can't say

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class RefusalPolicy:
    """Thresholds of the decision, fitted on the train splits."""

    min_dense: float = 0.25  # before the model: refuse when the best passage is this far ...
    min_lexical: float = 5.0  # ... and shares no rare word with the question
    min_evidence: float = 0.0  # refuse a draft whose best evidence sentence scores below this
    min_support: float = 0.0  # refuse a draft whose best kept sentence is supported less than this
    max_doubt: float | None = None  # refuse when the model gave the refusal at least this log-probability


def off_topic(dense: float, lexical: float, policy: RefusalPolicy) -> bool:
    """Refuse before asking the model: no passage is close in meaning or shares a rare word."""
    return dense < policy.min_dense and lexical < policy.min_lexical


def refuse(signals: Signals, policy: RefusalPolicy) -> str | None:
    """Why the answer is a refusal, or None when it stands. The only place an answer is refused after the model."""
    if signals.kept == 0:
        return "no sentence of the draft is supported by the evidence"
    if signals.declined:
        return "the model said the document does not answer"
    if doubted(signals, policy):
        return f"the model found “the document doesn't say” likely (p = {math.exp(signals.doubt or 0.0):.2f})"
    if signals.evidence < policy.min_evidence:
        return "no evidence sentence is close to the question"
    if signals.support < policy.min_support:
        return "the answer is only weakly supported"
    return None


def doubted(signals: Signals, policy: RefusalPolicy) -> bool:
    """Whether the model gave its refusal at least the fitted floor of probability (then its draft, however well
    supported, is not shown as the answer: the lines it rests on are, verbatim)."""
    return policy.max_doubt is not None and signals.doubt is not None and signals.doubt >= policy.max_doubt
