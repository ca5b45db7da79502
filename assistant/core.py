"""`Assistant`: the one entry object. Read the question, retrieve, choose evidence, write, ground, decide.

The answer path, one model call for a single-turn question (two with history: the follow-up rewrite):

1. `read_question`: the question once: its standalone form, kind and the voices it names (`answering/question.py`).
2. retrieval: hybrid dense + BM25 passages, steered by the voices named (`retrieval/hybrid.py`).
3. evidence: the sentences of those passages closest to the question, each with its speaker (`answering/evidence.py`),
   yielded by `stream()` before the model's first token.
4. the model writes from the numbered evidence (prompts/system.md), streamed.
5. grounding keeps whole sentences the evidence supports, each cited to its line (`answering/grounding.py`).
6. one refusal decision from measured signals (`answering/refusal.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from .answer import Answer, Retrieved
from .answering.evidence import Evidence, Found, about_credit, format_evidence, leading, select
from .answering.grounding import REFUSAL_TEXT, Grounded, citation_of, ground
from .answering.overview import Overview, outline
from .answering.question import History, Question, clean_question, read_question
from .answering.refusal import RefusalPolicy, Signals, off_topic, refuse
from .documents import Document
from .errors import AssistantError
from .index import (
    Corpus,
    IndexReport,
    all_passages,
    embed_sentences,
    ensure_index,
    index_version,
    join_served,
    load_corpus,
    open_store,
)
from .llm import chat_model
from .prompts import answer_prompt, load_prompt
from .retrieval.hybrid import HybridRetriever
from .settings import Settings

__all__ = ["Assistant", "Turn", "clean_question"]

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """One question on its way through the answer path: what each step found, for the next one."""

    question: Question
    sources: list[str] | None
    started: float
    retrieved: list[Retrieved] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    dense: float = 0.0  # best cosine of the question with a retrieved passage
    lexical: float = 0.0  # best BM25 score of a passage
    final: Answer | None = None  # set when the answer is known without the model (outline, off-topic)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


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
        self._retriever: HybridRetriever | None = None
        self._documents: dict[str, Document] = {}
        self._overview: Overview | None = None
        self._version = ""
        self._checked = 0.0
        self.last_index: IndexReport | None = None

    # -- building blocks -------------------------------------------------------------------------------
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

    def _select(self, question: Question, sources: Sequence[str] | None) -> list[Retrieved]:
        """Top-k passages, or for a summary question a representative selection of the voice(s) asked about."""
        retriever = self.retriever
        if question.kind == "summary":
            voices = sorted(question.voices) or ["author"]
            per_voice = max(2, (self.settings.top_k + 2) // len(voices))
            picked = [r for v in voices for r in self.overview.as_retrieved(v, per_voice, sources)]  # type: ignore[arg-type]
            if picked:
                return picked
        return retriever.search(question.search, self.settings.top_k, sources, voices=set(question.voices))

    def read(self, question: str, history: History | None = None) -> Question:
        """The question, read once: cleaned, a follow-up made standalone, its kind and the voices it names."""
        text = clean_question(question, self.settings.max_question_chars)
        return read_question(text, history, self.standalone, self.retriever.voice_names)

    def retrieve(self, question: str | Question, sources: Sequence[str] | None = None) -> list[Retrieved]:
        """The passages the evidence is chosen from, best first (for a summary, a selection covering the voice).

        Why public: notebooks and the benchmark scripts score or inspect exactly what the answer path sees.
        """
        q = question if isinstance(question, Question) else self.read(question)
        return self._select(q, self.resolve_sources(sources))

    def evidence(self, question: Question, retrieved: Sequence[Retrieved]) -> list[Evidence]:
        """The numbered sentences the model is given: closest to the question, or covering a voice for a summary."""
        if question.kind == "summary":
            return leading(retrieved, self.documents, limit=max(self.settings.evidence_sentences, 10))
        return select(question.search, retrieved, self.documents, embed_sentences, self.settings.evidence_sentences)

    def standalone(self, question: str, history: History) -> str:
        """The model's rewrite of a follow-up into a question that stands alone (`read_question` vets it)."""
        turns = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in list(history)[-3:])
        prompt = load_prompt(self.settings.prompts_dir, "condense").format(history=turns, question=question)
        try:
            reply = str(self.chat.bind(max_tokens=96).invoke(prompt).content).strip()
            return reply.removeprefix("Rewritten:").strip().strip('"').splitlines()[0].strip()
        except (IndexError, AssistantError):
            return ""

    @property
    def policy(self) -> RefusalPolicy:
        """The refusal thresholds in force (from the settings)."""
        s = self.settings
        return RefusalPolicy(s.refuse_below, s.lexical_floor, s.min_evidence, s.min_support)

    @property
    def chat(self) -> BaseChatModel:
        """The LangChain chat model in use."""
        with self._lock:
            if self._chat is None:
                self._chat = chat_model(self.settings)
            return self._chat

    @property
    def documents(self) -> dict[str, Document]:
        """Parsed documents by source path (for showing and verifying cited lines)."""
        if not self._documents:
            _ = self.retriever
        return self._documents

    def writer(self, summary: bool = False) -> Runnable:
        """prompt → LLM → text, over `{"question", "evidence"}` (evidence already formatted)."""
        prompt = answer_prompt(self.settings.prompts_dir, "summary" if summary else "system")
        return prompt | self.chat | StrOutputParser()

    # -- the answer path, in steps that `chain()` and `stream()` share ---------------------------------------
    def begin(self, question: str, history: History | None = None, sources: Sequence[str] | None = None) -> Turn:
        """Everything before the model: read, retrieve, choose evidence; or the final answer when no model is needed."""
        started = time.perf_counter()
        resolved = self.resolve_sources(sources)
        q = self.read(question, history)
        turn = Turn(q, resolved, started)
        standalone = q.standalone if q.rewritten else None
        if q.kind == "outline":
            text, citations = outline(self.retriever.passages, resolved)
            if citations:
                turn.timings = {
                    "retrieve_s": turn.elapsed(),
                    "first_token_s": turn.elapsed(),
                    "total_s": turn.elapsed(),
                }
                turn.final = Answer(q.text, text, False, citations, [], turn.timings, standalone)
                return turn
        turn.retrieved = self._select(q, resolved)
        turn.timings["retrieve_s"] = turn.elapsed()
        turn.dense = max((r.dense for r in turn.retrieved), default=0.0)
        turn.lexical = self.retriever.best_lexical(q.search)
        if not turn.retrieved or (off_topic(turn.dense, turn.lexical, self.policy) and not about_credit(q.search)):
            turn.timings["first_token_s"] = turn.timings["total_s"] = turn.elapsed()
            signals = {"dense": turn.dense, "lexical": turn.lexical}
            turn.final = Answer(
                q.text,
                REFUSAL_TEXT,
                True,
                [],
                turn.retrieved,
                turn.timings,
                standalone,
                signals=signals,
                refusal_reason="no passage is close to the question",
            )
            return turn
        turn.evidence = self.evidence(q, turn.retrieved)
        turn.timings["evidence_s"] = turn.elapsed()
        return turn

    def prompt_input(self, turn: Turn) -> dict[str, str]:
        """What the writer is given: the numbered evidence and the standalone question."""
        return {"evidence": format_evidence(turn.evidence, self.documents), "question": turn.question.standalone}

    def finish(self, turn: Turn, draft: str) -> Answer:
        """Ground the draft and decide refusal: the final `Answer`."""
        if turn.final is not None:
            return turn.final
        q = turn.question
        summary = q.kind == "summary"
        grounded = ground(
            draft,
            turn.evidence,
            self.documents,
            embed_sentences,  # the evidence sentences' vectors are known from `select`
            self.settings.support_threshold,
            None if summary else self.settings.max_sentences,
        )
        signals = Signals(
            dense=turn.dense,
            lexical=turn.lexical,
            evidence=max((e.score for e in turn.evidence), default=0.0),
            support=max(grounded.supports, default=0.0),
            kept=len(grounded.supports),
            declined=grounded.declined,
        )
        reason = refuse(signals, self.policy)
        text, citations = grounded.text, grounded.citations
        if reason is not None:
            text, citations = self._refusal(grounded, turn.evidence)
        turn.timings.setdefault("first_token_s", turn.elapsed())
        turn.timings["total_s"] = turn.elapsed()
        return Answer(
            q.text,
            text,
            reason is not None,
            citations,
            turn.retrieved,
            turn.timings,
            q.standalone if q.rewritten else None,
            signals=signals.to_dict(),
            refusal_reason=reason,
            removed=grounded.removed,
        )

    def _refusal(self, grounded: Grounded, evidence: Sequence[Evidence]) -> tuple[str, list[Any]]:
        """ "The document doesn't say." and, cited, what it does say: the kept sentences, else the closest one."""
        if grounded.citations:
            return f"{REFUSAL_TEXT} What it does say: {grounded.text}", grounded.citations
        if not evidence:
            return REFUSAL_TEXT, []
        closest = max(evidence, key=lambda e: e.score)
        quote = f"The closest it comes ({closest.label()}): “{closest.text}” [1]"
        return f"{REFUSAL_TEXT} {quote}", [citation_of(closest, 1, self.documents)]

    def chain(self) -> Runnable:
        """The LCEL pipeline `ask()` and `stream()` run: begin → prompt → LLM → parse → ground and decide.

        Input: a question string, or `{"question", "history", "sources"}`. Output: the final `Answer`.
        """

        def begin(x: Any) -> Turn:
            x = {"question": x} if isinstance(x, str) else x
            return self.begin(x["question"], x.get("history"), x.get("sources"))

        def write(turn: Turn) -> tuple[Turn, str]:
            if turn.final is not None:
                return turn, ""
            return turn, self.writer(turn.question.kind == "summary").invoke(self.prompt_input(turn))

        return RunnableLambda(begin) | RunnableLambda(write) | RunnableLambda(lambda t: self.finish(*t))

    # -- answering -------------------------------------------------------------------------------------
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
        turn = self.begin(question, history, sources)
        if turn.final is not None:
            yield turn.final.answer
            yield turn.final
            return
        yield Found(tuple(turn.evidence))
        draft: list[str] = []
        try:
            for token in self._write(turn):
                if not draft:
                    turn.timings["first_token_s"] = turn.elapsed()
                draft.append(token)
                yield token
        except AssistantError as exc:
            yield self._failed(turn, f"The language model failed: {exc}", str(exc))
            return
        except Exception as exc:  # a server that is down or answers garbage: keep the passages visible
            message = (
                f"The language model backend ({self.settings.llm}) failed: {exc.__class__.__name__}: "
                f"{str(exc).rstrip('.')}. Check ASSISTANT_LLM / ASSISTANT_OPENAI_BASE_URL. "
                "The retrieved passages are listed below."
            )
            yield self._failed(turn, message, message)
            return
        yield self.finish(turn, "".join(draft))

    def _write(self, turn: Turn) -> Iterator[str]:
        """The model's tokens for a turn: what `writer()` streams, but stoppable.

        Why not `writer().stream()`: a RunnableSequence closed early drains its input to trace it (langchain_core
        `_transform_stream_with_config`), so the model would generate to its token limit after Stop; closing
        the chat model's own stream closes llama.cpp's generation loop at once.
        """
        prompt = answer_prompt(self.settings.prompts_dir, "summary" if turn.question.kind == "summary" else "system")
        for chunk in self.chat.stream(prompt.invoke(self.prompt_input(turn))):
            if isinstance(chunk.content, str) and chunk.content:
                yield chunk.content

    def _failed(self, turn: Turn, text: str, error: str) -> Answer:
        turn.timings["total_s"] = turn.elapsed()
        q = turn.question
        return Answer(
            q.text, text, False, [], turn.retrieved, turn.timings, q.standalone if q.rewritten else None, error=error
        )
