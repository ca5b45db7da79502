"""The answer path: one model call for a single-turn question (two with history: the follow-up rewrite).

1. `read_question`: the question once: its standalone form, kind and the voices it names (`question.py`).
2. retrieval: hybrid dense + BM25 passages, steered by the voices named (`retrieval/library.py`, `hybrid.py`).
3. evidence: the sentences of those passages closest to the question, each with its speaker (`evidence.py`),
   yielded by `stream()` before the model's first token.
4. the model writes from the numbered evidence (prompts/system.md), streamed.
5. grounding keeps whole sentences the evidence supports, each cited to its line (`grounding.py`).
6. one refusal decision from measured signals (`refusal.py`).

`AnswerPath.begin` (1-3) → write (4) → `finish` (5-6): `stream()` and `chain()` run the same steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from ..answer import Answer, Removed, Retrieved
from ..errors import AssistantError
from ..index import embed_sentences
from ..index.embeddings import SENTENCE_VECTORS
from ..prompts import answer_prompt
from ..retrieval.library import Library
from ..settings import Settings
from ..voices import LABEL
from .evidence import Evidence, Found, about_credit, corpus_sentences, format_evidence, leading, select
from .grounding import REFUSAL_TEXT, Grounded, citation_of, claims_of, ground
from .overview import outline
from .question import History, Question, clean_question, condense, read_question
from .refusal import RefusalPolicy, Signals, doubted, off_topic, refuse


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


class AnswerPath:
    """The steps of an answer over a `Library`, with a chat model loaded on first use (`chat()`)."""

    def __init__(self, settings: Settings, library: Library, chat: Callable[[], BaseChatModel]):
        self.settings = settings
        self.library = library
        self.chat = chat

    @property
    def policy(self) -> RefusalPolicy:
        """The refusal thresholds in force (from the settings)."""
        s = self.settings
        return RefusalPolicy(s.refuse_below, s.lexical_floor, s.min_evidence, s.min_support, s.max_doubt)

    def read(self, question: str, history: History | None = None) -> Question:
        """The question, read once: cleaned, a follow-up made standalone, its kind and the voices it names."""
        text = clean_question(question, self.settings.max_question_chars)
        return read_question(text, history, self.standalone, self.library.retriever.voice_names)

    def standalone(self, question: str, history: History) -> str:
        """The model's rewrite of a follow-up into a question that stands alone (`read_question` vets it)."""
        return condense(self.chat(), self.settings.prompts_dir, question, history)

    def evidence(self, question: Question, retrieved: Sequence[Retrieved]) -> list[Evidence]:
        """The numbered sentences the model is given: closest to the question, or covering a voice for a summary."""
        documents = self.library.documents
        if question.kind == "summary":
            return leading(retrieved, documents, limit=max(self.settings.evidence_sentences, 10))
        query = self.library.retriever.query_vector(question.search)
        return select(question.search, retrieved, documents, embed_sentences, self.settings.evidence_sentences, query)

    def warm(self, wait: Callable[[], None] | None = None, batch: int = 32) -> int:
        """Embed every sentence evidence can be chosen from, so that a question's evidence needs only its own
        vector; nothing when they would not all fit the sentence memo. Returns how many sentences.

        `wait()`, if given, runs before each batch (the chat window waits there while the model writes).
        Why: choosing the evidence embeds the ~35 sentences of the retrieved passages, most of a second on a
        loaded 2-core machine when they are new; the chat window does this once, after start-up, when idle."""
        texts = corpus_sentences(self.library.retriever.passages, self.library.documents)
        if len(texts) > SENTENCE_VECTORS:
            return 0
        for start in range(0, len(texts), batch):
            if wait is not None:
                wait()
            embed_sentences(texts[start : start + batch])
        return len(texts)

    def prime(self) -> int:
        """Have the local model evaluate the beginning every answer prompt shares (the system text) before the
        first question; how many tokens (0 for other backends, or when the model already holds a prompt)."""
        from ..llm import LlamaCppChat

        chat = self.chat()
        if not isinstance(chat, LlamaCppChat):
            return 0
        prompt = answer_prompt(self.settings.prompts_dir, "system")
        # Two prompts that differ from their first evidence character on: what they share, every answer starts with.
        return chat.prime([prompt.invoke({"evidence": e, "question": "?"}).to_messages() for e in ("a", "b")])

    def writer(self, summary: bool = False) -> Runnable:
        """prompt → LLM → text, over `{"question", "evidence"}` (evidence already formatted)."""
        prompt = answer_prompt(self.settings.prompts_dir, "summary" if summary else "system")
        return prompt | self.chat() | StrOutputParser()

    def begin(self, question: str, history: History | None = None, sources: Sequence[str] | None = None) -> Turn:
        """Everything before the model: read, retrieve, choose evidence; or the final answer when no model is needed."""
        started = time.perf_counter()
        resolved = self.library.resolve_sources(sources)
        q = self.read(question, history)
        turn = Turn(q, resolved, started)
        standalone = q.standalone if q.rewritten else None
        if q.kind == "outline":
            text, citations = outline(self.library.retriever.passages, resolved)
            if citations:
                turn.timings = {
                    "retrieve_s": turn.elapsed(),
                    "first_token_s": turn.elapsed(),
                    "total_s": turn.elapsed(),
                }
                turn.final = Answer(q.text, text, False, citations, [], turn.timings, standalone)
                return turn
        turn.retrieved = self.library.select(q, resolved)
        turn.timings["retrieve_s"] = turn.elapsed()
        turn.dense = max((r.dense for r in turn.retrieved), default=0.0)
        turn.lexical = self.library.retriever.best_lexical(q.search)
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
        return {
            "evidence": format_evidence(turn.evidence, self.library.documents),
            "question": turn.question.standalone,
        }

    def messages(self, turn: Turn) -> list[BaseMessage]:
        """The chat messages the model answers for this turn: the system text (or the summary's), the evidence
        and the question; `_write` sends them and `doubt` scores a reply to them."""
        prompt = answer_prompt(self.settings.prompts_dir, "summary" if turn.question.kind == "summary" else "system")
        return prompt.invoke(self.prompt_input(turn)).to_messages()

    def finish(self, turn: Turn, draft: str) -> Answer:
        """Ground the draft and decide refusal: the final `Answer`."""
        if turn.final is not None:
            return turn.final
        q = turn.question
        summary = q.kind == "summary"
        grounded = ground(
            draft,
            turn.evidence,
            self.library.documents,
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
        if reason is None and self.policy.max_doubt is not None:
            scoring = time.perf_counter()
            if (doubt := self.doubt(turn)) is not None:  # only a backend that can say (the local model)
                signals = replace(signals, doubt=doubt)
                turn.timings["doubt_s"] = time.perf_counter() - scoring
                reason = refuse(signals, self.policy)
        text, citations, removed = grounded.text, grounded.citations, grounded.removed
        if reason is not None:
            verbatim = doubted(signals, self.policy)
            text, citations = self._refusal(grounded, turn.evidence, verbatim=verbatim)
            if verbatim:  # the draft's kept sentences are not shown as said: a window strikes them through
                removed = [*removed, *(Removed(claim, reason) for claim in claims_of(grounded.text))]
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
            removed=removed,
        )

    def doubt(self, turn: Turn) -> float | None:
        """log P("The document doesn't say." | this turn's prompt) from the model, or None when it can't say.

        Why: the model writes its refusal only when that is its single likeliest reply; an unanswerable question
        often still gives the refusal a fair share (docs/evaluation.md). With llama.cpp this costs the refusal's
        few tokens after the answer: the prompt is still in its KV cache."""
        measure = getattr(self.chat(), "continuation_logprob", None)
        if measure is None:
            return None
        try:
            return float(measure(self.messages(turn), REFUSAL_TEXT))
        except AssistantError:
            return None

    def _refusal(
        self, grounded: Grounded, evidence: Sequence[Evidence], verbatim: bool = False
    ) -> tuple[str, list[Any]]:
        """ "The document doesn't say." and, cited, what it does say: the kept sentences (`verbatim`: the lines
        they cite, quoted, when the model itself doubted its draft), else the closest evidence sentence."""
        if grounded.citations and verbatim:
            quotes = " ".join(
                f"({c.speaker or LABEL.get(c.role, c.role)}) “{c.quote}” [{c.n}]" for c in grounded.citations
            )
            return f"{REFUSAL_TEXT} The closest it comes: {quotes}", grounded.citations
        if grounded.citations:
            return f"{REFUSAL_TEXT} What it does say: {grounded.text}", grounded.citations
        if not evidence:
            return REFUSAL_TEXT, []
        closest = max(evidence, key=lambda e: e.score)
        quote = f"The closest it comes ({closest.label()}): “{closest.text}” [1]"
        return f"{REFUSAL_TEXT} {quote}", [citation_of(closest, 1, self.library.documents)]

    def chain(self) -> Runnable:
        """The LCEL pipeline `stream()` runs: begin → prompt → LLM → parse → ground and decide."""

        def begin(x: Any) -> Turn:
            x = {"question": x} if isinstance(x, str) else x
            return self.begin(x["question"], x.get("history"), x.get("sources"))

        def write(turn: Turn) -> tuple[Turn, str]:
            if turn.final is not None:
                return turn, ""
            return turn, self.writer(turn.question.kind == "summary").invoke(self.prompt_input(turn))

        return RunnableLambda(begin) | RunnableLambda(write) | RunnableLambda(lambda t: self.finish(*t))

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
        with ExitStack() as held:
            try:
                held.enter_context(self._holding())  # this answer's from its first token to its refusal score
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
            answer = self.finish(turn, "".join(draft))
        yield answer

    def _holding(self) -> AbstractContextManager[Any]:
        """The chat model's `hold()` where it has one (the local model: see `LlamaCppChat.hold`), else nothing."""
        hold = getattr(self.chat(), "hold", None)
        return hold() if hold is not None else nullcontext()

    def _write(self, turn: Turn) -> Iterator[str]:
        """The model's tokens for a turn: what `writer()` streams, but stoppable.

        Why not `writer().stream()`: a RunnableSequence closed early drains its input to trace it (langchain_core
        `_transform_stream_with_config`), so the model would generate to its token limit after Stop; closing
        the chat model's own stream closes llama.cpp's generation loop at once.
        """
        for chunk in self.chat().stream(self.messages(turn)):
            if isinstance(chunk.content, str) and chunk.content:
                yield chunk.content

    def _failed(self, turn: Turn, text: str, error: str) -> Answer:
        turn.timings["total_s"] = turn.elapsed()
        q = turn.question
        return Answer(
            q.text, text, False, [], turn.retrieved, turn.timings, q.standalone if q.rewritten else None, error=error
        )
