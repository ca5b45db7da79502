"""The peer a user would otherwise build: the LangChain RAG tutorial recipe, scored by the same harness.

Recursive character splitter (1000/200) over the same seeds, the same MiniLM embeddings, its own Chroma
collection under `index/baseline/`, top-4 similarity, the tutorial's "use the following pieces of retrieved
context" stuff prompt (prompts/baseline.md), the same chat model, and every retrieved chunk listed as a
source. None of the assistant's retrieval, grounding or refusal logic is used, except the shared "I don't
know" detector, so that a refusal counts as one for both pipelines. The recipe has no memory: `history` is
ignored.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from langchain_core.documents import Document as LCDocument
from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnablePassthrough

from ..answer import Answer, Citation, Retrieved
from ..answering.grounding import is_refusal
from ..documents import Passage, line_at, line_starts
from ..errors import ModelUnavailable
from ..index import EMBEDDING_MODEL, chroma_settings, embedding_model, load_corpus
from ..llm import chat_model
from ..prompts import load_prompt
from ..settings import Settings
from ..voices import Role

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
COLLECTION = "baseline"
ROLE = cast(Role, "chunk")  # the recipe knows nothing of editor, author and commenters


def format_docs(docs: Sequence[LCDocument]) -> str:
    """The tutorial's context: chunk texts separated by blank lines."""
    return "\n\n".join(d.page_content for d in docs)


class Baseline:
    """The tutorial pipeline behind the `Assistant`'s surface: `.ask(question) -> Answer`."""

    def __init__(self, settings: Settings | None = None, *, chat: BaseChatModel | None = None, k: int = 4):
        self.settings = settings or Settings()
        self.k = k
        self._chat = chat
        self._store: Any = None

    @property
    def directory(self) -> Path:
        """Its own Chroma store, beside (never inside) the assistant's."""
        return self.settings.index_dir / "baseline"

    @property
    def chat(self) -> BaseChatModel:
        """The same LangChain chat model the assistant uses (pass it in to share one loaded model)."""
        if self._chat is None:
            self._chat = chat_model(self.settings)
        return self._chat

    def chunks(self) -> list[LCDocument]:
        """The seeds split by the recipe, each chunk with its source and line range from its offset."""
        try:
            from langchain_text_splitters import RecursiveCharacterTextSplitter
        except ImportError:
            raise ModelUnavailable(
                "The baseline needs langchain-text-splitters; run `make install` (or pip install it)."
            ) from None
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
        )
        out = []
        for doc in load_corpus(self.settings).documents:
            starts = line_starts(doc.lines)
            for chunk in splitter.split_documents([LCDocument("\n".join(doc.lines), metadata={"source": doc.source})]):
                first = int(chunk.metadata["start_index"])
                chunk.metadata["line_start"] = line_at(starts, first)
                chunk.metadata["line_end"] = line_at(starts, first + len(chunk.page_content) - 1)
                out.append(chunk)
        return out

    def build(self) -> int:
        """Build the store when the seeds or the recipe changed (a no-op otherwise); the number of chunks."""
        from langchain_chroma import Chroma

        if self._store is not None:
            return int(self._store._collection.count())
        chunks = self.chunks()
        fingerprint = hashlib.sha256(
            json.dumps(
                [EMBEDDING_MODEL, CHUNK_SIZE, CHUNK_OVERLAP, [(c.metadata, c.page_content) for c in chunks]],
                sort_keys=True,
            ).encode()
        ).hexdigest()
        import chromadb

        self.directory.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(self.directory), settings=chroma_settings())
        existing = {c.name for c in client.list_collections()}
        if COLLECTION in existing:
            meta = client.get_collection(COLLECTION).metadata or {}
            if meta.get("fingerprint") != fingerprint:
                client.delete_collection(COLLECTION)
        store = Chroma(
            client=client,
            collection_name=COLLECTION,
            embedding_function=embedding_model(),
            collection_metadata={"fingerprint": fingerprint},
        )
        if store._collection.count() != len(chunks):
            store.add_documents(chunks, ids=[f"chunk-{n}" for n in range(len(chunks))])
        self._store = store
        return len(chunks)

    @property
    def store(self) -> Any:
        """The LangChain Chroma store of the chunks, built on first use."""
        if self._store is None:
            self.build()
        return self._store

    def retriever(self) -> BaseRetriever:
        """Top-k similarity search, as the tutorial sets it up."""
        return cast(BaseRetriever, self.store.as_retriever(search_kwargs={"k": self.k}))

    def prompt(self) -> ChatPromptTemplate:
        return ChatPromptTemplate.from_template(load_prompt(self.settings.prompts_dir, "baseline"))

    def chain(self) -> Runnable:
        """The tutorial's LCEL chain: question → {context, question} → prompt → LLM → text."""
        return (
            {"context": self.retriever() | format_docs, "question": RunnablePassthrough()}
            | self.prompt()
            | self.chat
            | StrOutputParser()
        )

    def ask(self, question: str, history: Sequence[tuple[str, str]] | None = None) -> Answer:
        """Answer like the tutorial does, timed and packed into an `Answer` (every chunk is a citation)."""
        from ..answering.question import clean_question

        started = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        hits = self.store.similarity_search_with_score(question, k=self.k)
        # Chroma's default space is squared L2; on MiniLM's unit vectors that is 2 - 2·cosine.
        retrieved = [Retrieved(_passage(doc), 1 - dist / 2, 1 - dist / 2) for doc, dist in hits]
        timings = {"retrieve_s": time.perf_counter() - started}
        draft: list[str] = []
        error = None
        try:
            for token in (self.prompt() | self.chat | StrOutputParser()).stream(
                {"context": format_docs([doc for doc, _ in hits]), "question": question}
            ):
                if not draft:
                    timings["first_token_s"] = time.perf_counter() - started
                draft.append(token)
        except Exception as exc:  # same policy as the assistant: keep the run going
            error = f"The language model failed: {exc.__class__.__name__}: {exc}"
        timings.setdefault("first_token_s", time.perf_counter() - started)
        timings["total_s"] = time.perf_counter() - started
        text = error or "".join(draft).strip()
        citations = [
            Citation(n, r.passage.source, r.passage.line_start, r.passage.line_end, ROLE, None, r.passage.text)
            for n, r in enumerate(retrieved, start=1)
        ]
        return Answer(question, text, error is None and is_refusal(text), citations, retrieved, timings, error=error)


def _passage(doc: LCDocument) -> Passage:
    meta = doc.metadata
    return Passage(str(meta["source"]), int(meta["line_start"]), int(meta["line_end"]), ROLE, None, doc.page_content)
