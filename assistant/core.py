"""`Assistant`: the one entry object. Read the question, retrieve, choose evidence, write, ground, decide.

It holds the settings, the chat model (loaded on first use) and two parts it delegates to: the `Library`
(`retrieval/library.py`: the index, its documents, the retriever, which passages a question gets) and the
`AnswerPath` (`answering/path.py`: the steps of an answer, which `stream()`, `ask()` and `chain()` run).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from .answer import Answer, Retrieved
from .answering.evidence import Evidence, Found
from .answering.path import AnswerPath, Turn
from .answering.question import History, Question, clean_question
from .documents import Document
from .index import IndexReport
from .llm import chat_model
from .retrieval.hybrid import HybridRetriever
from .retrieval.library import Library
from .settings import Settings

__all__ = ["Assistant", "Turn", "clean_question"]


class Assistant:
    """Question answering over the documents in `seeds/`, with verified line-level citations.

    `Assistant()` uses the defaults (seeds/, index/, the local LLM); pass `Settings(...)`, keyword overrides
    (`Assistant(llm="fake", top_k=4)`) or a ready LangChain chat model (`Assistant(chat=FakeListChatModel(...))`).
    Models and the index are loaded on first use, once, and shared by all threads.
    """

    def __init__(self, settings: Settings | None = None, *, chat: BaseChatModel | None = None, **overrides: Any):
        base = settings or Settings()
        self.settings = base.model_copy(update=overrides) if overrides else base
        self._chat = chat
        self._lock = threading.RLock()
        self.library = Library(self.settings)
        self.path = AnswerPath(self.settings, self.library, lambda: self.chat)

    # -- the index and the documents ---------------------------------------------------------------------
    def index(self, rebuild: bool = False, progress: Any = None) -> IndexReport:
        """Build or update the index from seeds/ (a no-op when it is current)."""
        return self.library.index(rebuild, progress)

    def prepare(self, progress: Any = None) -> IndexReport:
        """What the first question does: `index()`, but in server mode an existing shared index is only read."""
        return self.library.prepare(progress)

    @property
    def last_index(self) -> IndexReport | None:
        """What the last `index()` or `prepare()` did."""
        return self.library.last_index

    @property
    def retriever(self) -> HybridRetriever:
        """The hybrid retriever (a LangChain `BaseRetriever`), building the index first if needed."""
        return self.library.retriever

    @property
    def documents(self) -> dict[str, Document]:
        """Parsed documents by source path (for showing and verifying cited lines)."""
        return self.library.documents

    def resolve_sources(self, names: Sequence[str] | None) -> list[str] | None:
        """Documents as the index names them, from a path, file name or title typed in any case."""
        return self.library.resolve_sources(names)

    @property
    def chat(self) -> BaseChatModel:
        """The LangChain chat model in use."""
        with self._lock:
            if self._chat is None:
                self._chat = chat_model(self.settings)
            return self._chat

    # -- the steps of an answer, for notebooks and the benchmark scripts -----------------------------------
    def read(self, question: str, history: History | None = None) -> Question:
        """The question, read once: cleaned, a follow-up made standalone, its kind and the voices it names."""
        return self.path.read(question, history)

    def retrieve(self, question: str | Question, sources: Sequence[str] | None = None) -> list[Retrieved]:
        """The passages the evidence is chosen from, best first (for a summary, a selection covering the voice).

        Why public: notebooks and the benchmark scripts score or inspect exactly what the answer path sees.
        """
        q = question if isinstance(question, Question) else self.read(question)
        return self.library.select(q, self.resolve_sources(sources))

    def evidence(self, question: Question, retrieved: Sequence[Retrieved]) -> list[Evidence]:
        """The numbered sentences the model is given: closest to the question, or covering a voice for a summary."""
        return self.path.evidence(question, retrieved)

    def warm(self, wait: Callable[[], None] | None = None) -> int:
        """Embed the sentences evidence is chosen from, ahead of the questions (the chat window does it when idle)."""
        return self.path.warm(wait)

    def prime(self) -> int:
        """Evaluate the local model's fixed start of every answer prompt ahead of the first question (the chat
        window does it while starting up); the number of tokens, 0 for other backends."""
        return self.path.prime()

    def begin(self, question: str, history: History | None = None, sources: Sequence[str] | None = None) -> Turn:
        """Everything before the model: read, retrieve, choose evidence; or the final answer when no model is needed."""
        return self.path.begin(question, history, sources)

    def prompt_input(self, turn: Turn) -> dict[str, str]:
        """What the writer is given: the numbered evidence and the standalone question."""
        return self.path.prompt_input(turn)

    def writer(self, summary: bool = False) -> Runnable:
        """prompt → LLM → text, over `{"question", "evidence"}` (evidence already formatted)."""
        return self.path.writer(summary)

    # -- answering -----------------------------------------------------------------------------------------
    def chain(self) -> Runnable:
        """The LCEL pipeline `ask()` and `stream()` run: begin → prompt → LLM → parse → ground and decide.

        Input: a question string, or `{"question", "history", "sources"}`. Output: the final `Answer`.
        """
        return self.path.chain()

    def ask(self, question: str, history: History | None = None, sources: Sequence[str] | None = None) -> Answer:
        """Answer one question (optionally in a conversation, optionally limited to some files)."""
        answer: Answer | None = None
        for item in self.stream(question, history, sources):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self, question: str, history: History | None = None, sources: Sequence[str] | None = None
    ) -> Iterator[str | Found | Answer]:
        """Yield the evidence (`Found`), then the answer's text as it is generated, then the final `Answer`."""
        return self.path.stream(question, history, sources)
