"""The index as a running assistant reads it: the parsed documents, the hybrid retriever and the overview.

`Library` builds or joins the index on first use, reopens it when another process (`assistant index --watch`)
replaced it, turns the names a person types into the documents' sources, and selects the passages an answer is
written from: the top-k of the hybrid search, or for a summary a representative selection of the voices asked
about.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..answer import Retrieved
from ..answering.overview import Overview
from ..documents import Document
from ..index import (
    Corpus,
    IndexReport,
    all_passages,
    ensure_index,
    index_version,
    join_served,
    load_corpus,
    open_store,
)
from ..settings import Settings
from .hybrid import HybridRetriever

if TYPE_CHECKING:
    from ..answering.question import Question


class Library:
    """The documents of one index, and the retriever and overview over them, loaded once and shared by threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.RLock()
        self._retriever: HybridRetriever | None = None
        self._documents: dict[str, Document] = {}
        self._overview: Overview | None = None
        self._version = ""
        self._checked = 0.0
        self.last_index: IndexReport | None = None

    def index(self, rebuild: bool = False, progress: Any = None) -> IndexReport:
        """Build or update the index from seeds/ (a no-op when it is current)."""
        with self._lock:
            corpus = load_corpus(self.settings)
            return self._adopt(corpus, ensure_index(self.settings, rebuild=rebuild, progress=progress, corpus=corpus))

    def prepare(self, progress: Any = None) -> IndexReport:
        """Make the index usable before the first question: `index()`, except in server mode when the shared
        collection already holds an index; then it is used as it is and only `assistant index` writes to it."""
        with self._lock:
            corpus = load_corpus(self.settings)
            joined = join_served(self.settings, corpus) if self.settings.chroma_url else None
            return self._adopt(corpus, joined or ensure_index(self.settings, progress=progress, corpus=corpus))

    def _adopt(self, corpus: Corpus, report: IndexReport) -> IndexReport:
        """Take the documents just read and the index they went into; retriever and overview reopen lazily."""
        self._documents = {d.source: d for d in corpus.documents}
        self._retriever = None
        self._overview = None
        self.last_index = report
        return report

    @property
    def retriever(self) -> HybridRetriever:
        """The hybrid retriever (a LangChain `BaseRetriever`), building the index first if needed."""
        with self._lock:
            if self._retriever is not None and time.monotonic() - self._checked > 1.0:
                # another process (`assistant index --watch`) may have swapped the index in: reopen it
                self._checked = time.monotonic()
                if index_version(self.settings) != self._version:
                    self._retriever = None
                    self._overview = None
                    self._documents = {d.source: d for d in load_corpus(self.settings).documents}
            if self._retriever is None:
                if self.last_index is None:
                    self.prepare()
                self._version = index_version(self.settings)
                self._checked = time.monotonic()
                store = open_store(self.settings)
                self._retriever = HybridRetriever(
                    store=store,
                    passages=all_passages(store),
                    k=self.settings.top_k,
                    candidates=self.settings.candidates,
                    rrf_k=self.settings.rrf_k,
                    expand=self.settings.expand,
                    grow_chars=self.settings.grow_chars,
                )
            return self._retriever

    @property
    def overview(self) -> Overview:
        """Representative passages per voice, for whole-document questions (built once per index)."""
        with self._lock:
            if self._overview is None:
                retriever = self.retriever
                got = retriever.store.get(include=["embeddings"])
                vectors = {i: list(v) for i, v in zip(got["ids"], got["embeddings"], strict=True)}
                self._overview = Overview(retriever.passages, vectors)
            return self._overview

    @property
    def documents(self) -> dict[str, Document]:
        """Parsed documents by source path (for showing and verifying cited lines)."""
        if not self._documents:
            _ = self.retriever
        return self._documents

    def resolve_sources(self, names: Sequence[str] | None) -> list[str] | None:
        """Documents as the index names them ("seeds/handbook/notes.md") from what a person types: that path,
        the file name ("notes.md") or the title, any case. A name that matches nothing is kept as it is: it
        filters to nothing, so the answer is a refusal; nothing outside the index is ever looked up."""
        if not names:
            return None
        known = self.documents
        out: list[str] = []
        for name in names:
            if name in known:
                out.append(name)
                continue
            wanted = name.strip().lower()
            matches = [
                source
                for source, document in known.items()
                if wanted in (source.lower(), source.rsplit("/", 1)[-1].lower(), (document.title or "").lower())
            ]
            out.extend(matches or [name])
        return out

    def select(self, question: Question, sources: Sequence[str] | None) -> list[Retrieved]:
        """Top-k passages, or for a summary question a representative selection of the voice(s) asked about."""
        retriever = self.retriever
        if question.kind == "summary":
            voices = sorted(question.voices) or ["author"]
            per_voice = max(2, (self.settings.top_k + 2) // len(voices))
            picked = [r for v in voices for r in self.overview.as_retrieved(v, per_voice, sources)]  # type: ignore[arg-type]
            if picked:
                return picked
        return retriever.search(question.search, self.settings.top_k, sources, voices=set(question.voices))
