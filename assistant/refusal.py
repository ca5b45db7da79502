"""The one refusal decision: whether to say "The document doesn't say.", from measured signals.

Every signal is a number the answer path measures anyway; the thresholds are fitted on the train splits
(`benchmarks/fit_refusal.py`) and their precision/recall on the test splits is in docs/evaluation.md.
No word lists about particular documents: the model's own "the document doesn't say", how close the best
evidence sentence is to the question, how well the evidence supports what is left of the answer, and whether a
question that asks for a number or a date got one.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

# a question that asks for a figure or a date, and a text that gives one
_ASKS_SPECIFIC = re.compile(
    r"\b(how (many|much|long|old|often|far|big|large)|what (year|date|day|month|time|percentage|percent|share|number|"
    r"amount|age|price|figure|fraction)|in what year|which year|when (did|was|were|is|will|does|do)|by how much)\b",
    re.IGNORECASE,
)
_GIVES_SPECIFIC = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|half|third|quarter|dozen|double|twice|triple|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"yesterday|today|last (week|month|year)|next (week|month|year))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Signals:
    """What the answer path measured about one question and its draft."""

    dense: float  # best cosine of the question with a retrieved passage
    lexical: float  # best BM25 score of a passage
    evidence: float  # best score of an evidence sentence (cosine + shared words)
    support: float  # support of the best-supported kept sentence (0 when none was kept)
    kept: int  # answer sentences kept by grounding
    declined: bool  # the model said the document does not answer
    asks_specific: bool  # the question asks for a figure or a date
    gives_specific: bool  # the kept answer gives one

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class RefusalPolicy:
    """Thresholds of the decision, fitted on the train splits."""

    min_dense: float = 0.25  # before the model: refuse when the best passage is this far ...
    min_lexical: float = 5.0  # ... and shares no rare word with the question
    min_evidence: float = 0.0  # refuse a draft whose best evidence sentence scores below this
    min_support: float = 0.0  # refuse a draft whose best kept sentence is supported less than this
    require_specific: bool = True  # a question asking for a figure or a date needs one in the answer


def asks_specific(question: str) -> bool:
    """Whether a question asks for a number, an amount or a date."""
    return bool(_ASKS_SPECIFIC.search(question))


def gives_specific(text: str) -> bool:
    """Whether a text gives a number, an amount or a date."""
    return bool(_GIVES_SPECIFIC.search(re.sub(r"\[\d+(?:,\s*\d+)*\]", "", text)))


def off_topic(dense: float, lexical: float, policy: RefusalPolicy) -> bool:
    """Refuse before asking the model: no passage is close in meaning or shares a rare word."""
    return dense < policy.min_dense and lexical < policy.min_lexical


def refuse(signals: Signals, policy: RefusalPolicy) -> str | None:
    """Why the answer is a refusal, or None when it stands. The only place an answer is refused after the model."""
    if signals.kept == 0:
        return "no sentence of the draft is supported by the evidence"
    if signals.declined:
        return "the model said the document does not answer"
    if policy.require_specific and signals.asks_specific and not signals.gives_specific:
        return "the question asks for a figure or a date and the answer gives none"
    if signals.evidence < policy.min_evidence:
        return "no evidence sentence is close to the question"
    if signals.support < policy.min_support:
        return "the answer is only weakly supported"
    return None
