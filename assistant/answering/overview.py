"""Whole-document questions: outlines and summaries that top-k retrieval cannot answer.

"What are the section headings?" is answered from the parsed structure, with each heading cited.
"Summarize the article" / "what do the commenters mostly argue?" get, instead of the top-k passages, a
representative selection of the whole role: for each section, the passage closest to that section's centroid,
and for sectionless voices (comments) a diverse set of central passages (maximal marginal relevance). The
selection is computed once per index from the stored embeddings, so these questions cost one LLM call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..answer import Citation, Retrieved
from ..documents import Passage
from ..voices import Role
from .evidence import cosine

_OUTLINE = re.compile(
    r"\b(section (headings?|titles?|names)|headings|(list|what are) (the )?sections|outline|table of contents|"
    r"how is (the|this) (article|document|piece) (structured|organi[sz]ed))\b",
    re.IGNORECASE,
)
_SUMMARY = re.compile(
    r"\b(summar(y|ise|ize|ies)|overview|gist|tl;?dr|main (points?|arguments?|ideas?|themes?)|key (points|takeaways)|"
    r"what is (the|this) (article|document|piece|post) about|mostly (argue|say|think|discuss)\w*|overall|in general|"
    r"general (view|sentiment|mood)|what do (the )?(commenters|readers) (mostly|generally) (think|say|argue))\b",
    re.IGNORECASE,
)
# "What do the commenters think?" (or "…of the article?") is about the whole role; "…think about the sanctions?"
# is an ordinary question that names a voice
_ROLE_VIEW = re.compile(
    r"\bwhat do (the )?(commenters|readers) (think|say|argue)"
    r"(\s+(about|of|on)\s+(it|this|that|the (article|piece|post|document|author)))?\s*\??\s*$",
    re.IGNORECASE,
)


def kind_of(question: str) -> str | None:
    """'outline', 'summary' or None (an ordinary, local question)."""
    if _OUTLINE.search(question):
        return "outline"
    if _SUMMARY.search(question) or _ROLE_VIEW.search(question):
        return "summary"
    return None


def _centroid(vectors: Sequence[Sequence[float]]) -> list[float]:
    return [sum(col) / len(vectors) for col in zip(*vectors, strict=True)]


@dataclass
class Overview:
    """Representative passages per role, chosen once from the index's embeddings."""

    passages: list[Passage]
    vectors: dict[str, list[float]]

    def representatives(self, role: Role, limit: int, sources: Sequence[str] | None = None) -> list[Passage]:
        """Passages that cover `role` as a whole, in document order."""
        pool = [
            p for p in self.passages if p.role == role and p.id in self.vectors and (not sources or p.source in sources)
        ]
        if not pool:
            return []
        chosen: list[Passage] = []
        sections = list(dict.fromkeys(p.section for p in pool))
        if len(sections) > 1:
            for section in sections:
                members = [p for p in pool if p.section == section]
                centre = _centroid([self.vectors[p.id] for p in members])
                chosen.append(max(members, key=lambda p: cosine(self.vectors[p.id], centre)))
            if len(chosen) > limit:
                chosen = chosen[:limit]
        else:
            centre = _centroid([self.vectors[p.id] for p in pool])
            while len(chosen) < min(limit, len(pool)):

                def mmr(p: Passage) -> float:
                    near = max((cosine(self.vectors[p.id], self.vectors[c.id]) for c in chosen), default=0.0)
                    return 0.6 * cosine(self.vectors[p.id], centre) - 0.4 * near

                chosen.append(max((p for p in pool if p not in chosen), key=mmr))
        order = {p.id: i for i, p in enumerate(self.passages)}
        return sorted(chosen, key=lambda p: order[p.id])

    def as_retrieved(self, role: Role, limit: int, sources: Sequence[str] | None = None) -> list[Retrieved]:
        """The representatives as `Retrieved`, scored by their position so the contract stays rank-ordered."""
        reps = self.representatives(role, limit, sources)
        return [Retrieved(p, 1.0 - i / (len(reps) + 1), 1.0) for i, p in enumerate(reps)]


def outline(passages: Sequence[Passage], sources: Sequence[str] | None = None) -> tuple[str, list[Citation]]:
    """The article's section headings in order, each cited to its heading line."""
    citations: list[Citation] = []
    seen: set[tuple[str, str]] = set()
    for p in passages:
        if p.role != "author" or not p.section or (sources and p.source not in sources):
            continue
        key = (p.source, p.section)
        first_line = p.text.split("\n", 1)[0].strip()
        if key in seen or first_line.lstrip("# ").strip() != p.section:
            continue
        seen.add(key)
        citations.append(
            Citation(
                len(citations) + 1, p.source, p.line_start, p.line_start, p.role, p.section, first_line, p.title, p.page
            )
        )
    if not citations:
        return "", []
    items = "; ".join(f"“{c.section}” [{c.n}]" for c in citations)
    return f"The article has {len(citations)} section headings: {items}.", citations
