"""Hybrid retrieval: dense (MiniLM in Chroma) + lexical (BM25), fused by reciprocal rank, steered by voice.

A question that names a voice ("what do the commenters say", "does the article claim", "the editor's note")
gives passages of that role a boost; it never hides the others, and it never moves down the passage that dense
and lexical retrieval both rank first, because "does the article say X?" is often answered by showing that a
commenter said X.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache, reduce
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from ..answer import Retrieved
from ..documents import Passage
from ..documents.words import STOP_WORDS
from ..voices import ASKED, Role
from .lexical import PostingsBM25, ranked

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
# a question's "any" and its verbs of saying and thinking name no topic either
_STOP = STOP_WORDS | frozenset("any according say says said think thinks".split())


def tokenize(text: str) -> list[str]:
    """Lower-case word stems for BM25 (plural and -ing/-ed endings folded)."""
    out = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        if word in _STOP:
            continue
        word = word.split("'")[0]
        for suffix in ("ing", "ed", "es", "s"):
            if len(word) > len(suffix) + 3 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        out.append(word)
    return out


def voices_named(question: str, names: dict[Role, set[str]] | None = None) -> set[Role]:
    """The roles a question asks about, from generic words and the names the documents give each voice."""
    found = {role for role, pattern in ASKED.items() if pattern.search(question)}
    words = set(re.findall(r"[a-z]+", question.lower()))
    for role, role_names in (names or {}).items():
        if words & role_names:
            found.add(role)
    return found


def voice_names(passages: Sequence[Passage]) -> dict[Role, set[str]]:
    """Names of the voices, read from the documents: the byline's name and the editor's "X here." opener."""
    names: dict[Role, set[str]] = {"author": set(), "editor": set()}
    for p in passages:
        if p.role == "author" and (m := re.match(r"^By\s+([A-Z][\w’'\-]+(?:\s+[A-Z][\w’'\-]+){0,3})", p.text)):
            names["author"].update(w.lower() for w in m.group(1).split())
        if p.role == "editor" and (m := re.match(r"^([A-Z][a-z]+) here\b", p.text)):
            names["editor"].add(m.group(1).lower())
    return names


class HybridRetriever(BaseRetriever):
    """Dense + BM25 retrieval over one Chroma store, as a LangChain retriever for notebook users.

    `search` runs in steps, each a method: candidates (`_dense`, `_lexical`) → `fuse` (reciprocal rank) →
    `boost` (the voices asked about) → `pin` (the hit both retrievers agree on stays first) → `grow`
    (small-to-big, and the cut to `k`). A reranker would reorder the ranking `pin` returns, before `grow`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    passages: list[Passage]
    k: int = 6
    candidates: int = 20
    rrf_k: int = 60  # reciprocal rank fusion: a candidate at rank r scores 1 / (rrf_k + r)
    expand: int = 1  # small-to-big: the best `expand` hits also bring the passage that follows them
    grow_chars: int = 1400  # ... and the ones after it that rank near the top too, up to this size
    _bm25: PostingsBM25 | None = PrivateAttr(default=None)
    _names: dict[Role, set[str]] = PrivateAttr(default_factory=dict)
    _by_id: dict[str, Passage] = PrivateAttr(default_factory=dict)
    _next: dict[str, str] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        self._bm25 = PostingsBM25([tokenize(p.text) for p in self.passages]) if self.passages else None
        self._names = voice_names(self.passages)
        self._by_id = {p.id: p for p in self.passages}
        self._next: dict[str, str] = {}
        ordered = sorted(self.passages, key=lambda p: (p.source, p.line_start, p.line_end))
        for a, b in zip(ordered, ordered[1:], strict=False):
            if (a.source, a.role, a.section) == (b.source, b.role, b.section) and b.line_start >= a.line_end:
                self._next[a.id] = b.id

    @property
    def voice_names(self) -> dict[Role, set[str]]:
        """Names of the voices read from the documents (byline, editor's opener)."""
        return self._names

    def search(
        self,
        question: str,
        k: int | None = None,
        sources: Sequence[str] | None = None,
        voices: set[Role] | None = None,
    ) -> list[Retrieved]:
        """The `k` best passages for `question`, best first, optionally limited to some source files.

        `voices` overrides the roles read from the question (a follow-up's rewrite may name more voices than
        the user asked about: "what do the commenters think about the author's view?").
        """
        k = k or self.k
        allowed = set(sources) if sources else None
        dense = self._dense(question, allowed)
        lexical = self._lexical(question, allowed)
        voices = voices if voices is not None else voices_named(question, self._names)
        fused = self.fuse(list(dense), lexical)
        self.boost(fused, voices)
        order = self.pin(fused, dense, lexical, voices)
        return self.grow(order, fused, dense, k)

    def fuse(self, *rankings: Sequence[str]) -> dict[str, float]:
        """Reciprocal rank fusion of ranked passage ids: each ranking adds 1 / (rrf_k + rank) to a passage."""
        fused: dict[str, float] = {}
        for ranking in rankings:
            for rank, pid in enumerate(ranking):
                fused[pid] = fused.get(pid, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        return fused

    def boost(self, fused: dict[str, float], voices: set[Role]) -> None:
        """Passages in a voice the question names gain what a first rank would give them (in place)."""
        if voices:
            for pid in fused:
                if self._by_id[pid].role in voices:
                    fused[pid] += 1.0 / (self.rrf_k + 1)

    def pin(self, fused: dict[str, float], dense: dict[str, float], lexical: list[str], voices: set[Role]) -> list[str]:
        """The ids best first; the passage both retrievers rank first stays first, whatever voice was asked for.

        Why: both retrievers' first choice is the best evidence there is, whoever wrote it, so steering by voice
        never moves it down ("does the article say X?" when a commenter said X).
        """
        order = sorted(fused, key=lambda pid: fused[pid], reverse=True)
        agreed = next(iter(dense), None)
        if voices and lexical and agreed == lexical[0]:
            order.remove(agreed)
            order.insert(0, agreed)
            fused[agreed] = max(fused.values())  # scores stay in rank order
        return order

    def grow(self, order: Sequence[str], fused: dict[str, float], dense: dict[str, float], k: int) -> list[Retrieved]:
        """The first `k` of `order`; the best `expand` hits grow small-to-big by the passages that follow them."""
        picked: list[str] = []
        grown: dict[str, list[Passage]] = {}  # a grown hit's id -> the passages it is made of, in order
        inside: set[str] = set()
        near = set(order[: 2 * k])
        for pid in order:
            if len(picked) >= k:
                break
            if pid in inside:
                continue  # already part of a grown passage
            picked.append(pid)
            if len(grown) < self.expand and pid in self._next:
                grown[pid] = self._run(pid, near)
                inside.update(p.id for p in grown[pid][1:])
                picked = [p for p in picked if p not in inside]
        return [
            Retrieved(
                reduce(_join, grown[pid]) if pid in grown else self._by_id[pid],
                fused[pid],
                max(dense.get(p.id, 0.0) for p in grown.get(pid, [self._by_id[pid]])),
            )
            for pid in picked
        ]

    def _run(self, pid: str, near: set[str]) -> list[Passage]:
        """Small-to-big: a hit and the passage after it, then the ones after that while they rank `near` the top.

        Why the run: an argument often spans consecutive passages ("…have adversaries." / "Both have…" /
        "In response, …"), and a reply follows the comment it answers; one grown passage holds them all
        without crowding out other hits. `grow_chars` keeps the prompt small.
        """
        run = [self._by_id[pid], self._by_id[self._next[pid]]]
        size = sum(len(p.text) for p in run)
        while (nxt := self._next.get(run[-1].id)) in near and size + len(self._by_id[nxt].text) <= self.grow_chars:
            run.append(self._by_id[nxt])
            size += len(run[-1].text)
        return run

    def best_dense(self, question: str) -> float:
        """The highest dense relevance of any passage (0..1), a cheap "is this in the document?" signal."""
        scores = self._dense(question, None)
        return max(scores.values(), default=0.0)

    def query_vector(self, question: str) -> list[float]:
        """The question's MiniLM vector, as the dense search embedded it (cached per question)."""
        return _embed_query(self.store.embeddings, question)

    def best_lexical(self, question: str) -> float:
        """The highest BM25 score of any passage: rare shared words ("Berletic") are evidence too."""
        terms = tokenize(question)
        if self._bm25 is None or not terms:
            return 0.0
        return float(max(self._bm25.get_scores(terms), default=0.0))

    def _dense(self, question: str, allowed: set[str] | None) -> dict[str, float]:
        vector = _embed_query(self.store.embeddings, question)
        flt = {"source": {"$in": sorted(allowed)}} if allowed else None
        n = min(self.candidates, len(self.passages)) or 1
        # With the collection in cosine space, Chroma's "score" here is the cosine distance.
        hits = self.store.similarity_search_by_vector_with_relevance_scores(vector, k=n, filter=flt)
        return {doc.id: 1.0 - float(dist) for doc, dist in hits if doc.id in self._by_id}

    def _lexical(self, question: str, allowed: set[str] | None) -> list[str]:
        if self._bm25 is None:
            return []
        terms = tokenize(question)
        if not terms:
            return []
        out: list[str] = []
        for i in ranked(self._bm25.get_scores(terms)):
            if len(out) >= self.candidates:
                break
            if allowed is None or self.passages[i].source in allowed:
                out.append(self.passages[i].id)
        return out

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[LCDocument]:
        """LangChain's entry: `retriever.invoke(question)`, or `invoke(question, k=3)` for another count."""
        return [
            LCDocument(page_content=r.passage.text, metadata={**r.passage.metadata(), "score": r.score})
            for r in self.search(query, k)
        ]


def _join(first: Passage, following: Passage) -> Passage:
    """A passage grown by the one after it (same document, voice and section)."""
    return Passage(
        source=first.source,
        line_start=first.line_start,
        line_end=following.line_end,
        role=first.role,
        section=first.section,
        text=f"{first.text}\n{following.text}",
        title=first.title,
    )


@lru_cache(maxsize=512)
def _cached(embeddings_id: int, question: str) -> tuple[float, ...]:
    return tuple(_EMBEDDERS[embeddings_id].embed_query(question))


_EMBEDDERS: dict[int, Any] = {}


def _embed_query(embeddings: Any, question: str) -> list[float]:
    """Query embeddings are cached: a follow-up or a repeated eval question costs no model call."""
    _EMBEDDERS[id(embeddings)] = embeddings
    return list(_cached(id(embeddings), question))
