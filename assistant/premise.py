"""False premises: what a "why …?" or "since …, …?" question takes for granted, as a yes/no question.

Why a module of its own: the 1.5B model answers "Why does the author support the plan?" by explaining the
support it was told about, even when the passages say the opposite, and the answer check passes it (the
sentence is about the plan, and the plan is in the passages). Asked the presupposition plainly ("Does the
author support the plan?"), the same model says NO; the answer is then rewritten from that reading.
"""

from __future__ import annotations

import re

_AUX = r"(does|did|do|is|are|was|were|has|have|had|would|will|can|could|should)"
_WHY = re.compile(rf"^why\s+{_AUX}\s+(?!n['’]t\b|not\b)(?P<rest>.+)$", re.IGNORECASE)
_GIVEN = re.compile(r"^(?:since|given that|now that)\s+(?P<clause>[^,]{8,}),\s*(?:why|how|what)\b", re.IGNORECASE)


def presupposition(question: str) -> str | None:
    """The yes/no question a "why" question presupposes, or None when it presupposes nothing checkable.

    "Why does the author support X?" → "Does the author support X?";
    "Since X, why Y?" → "Do the passages say that X?". A negative "why isn't …" is left alone: its
    premise ("it isn't") is the document's usual answer, not a claim the asker brings.
    """
    text = " ".join(question.split()).rstrip("?").strip()
    if match := _WHY.match(text):
        return f"{match.group(1).capitalize()} {match.group('rest')}?"
    if match := _GIVEN.match(text):
        return f"Do the passages say that {match.group('clause')}?"
    return None


def denies(verdict: str) -> bool:
    """Whether a one-word reply is a NO (anything else, "I don't know" included, leaves the answer alone)."""
    return bool(re.match(r"\W*no\b", verdict, re.IGNORECASE))
