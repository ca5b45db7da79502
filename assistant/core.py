"""`Assistant`: the one entry object. Index, retrieve, prompt, generate, ground, in that order."""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from .answer import ROLE_LABEL, Answer, Retrieved
from .cite import (
    REFUSAL_TEXT,
    Grounded,
    asked_kind,
    claims_of,
    gives_kind,
    ground,
    is_refusal,
    quoted_source,
    quoting,
    settle_yes_no,
    split_denial,
    with_marker,
)
from .documents import Document, Role
from .errors import AssistantError, QuestionError
from .index import (
    Corpus,
    IndexReport,
    all_passages,
    embedding_model,
    ensure_index,
    index_version,
    join_served,
    load_corpus,
    open_store,
)
from .llm import chat_model
from .overview import Overview, kind_of, outline
from .premise import denies, presupposition
from .prompts import answer_prompt, load_prompt
from .retrieve import HybridRetriever, voices_named
from .settings import Settings

log = logging.getLogger(__name__)

History = Sequence[tuple[str, str]]
_WHO = re.compile(r"^\s*(who|which (reader|commenter|person))\b", re.IGNORECASE)
_YES_NO = re.compile(r"^\s*(does|did|do|is|was|are|were|has|have|had)\b", re.IGNORECASE)
_NOT_IN = {"author": "in the article", "editor": "in the editor's note", "commenter": "in the comments"}
_FOLLOW_UP = re.compile(
    r"^(and|but|so|also|what about|how about|why|then)\b|\b(that|this|it|they|them|he|she|his|her|their|those|these|"
    r"there|the same)\b",
    re.IGNORECASE,
)


def _opens_with_no(answer: str) -> bool:
    """Whether an answer already says no ("No, the article does not…"): a denial, not a claim to check or relabel."""
    return bool(re.match(r"no\b", answer, re.IGNORECASE))


def clean_question(question: str, max_chars: int) -> str:
    """Normalise a question; reject empty or over-long ones with a message that says what to do."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    text = unicodedata.normalize("NFC", question)
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("The question is empty. Type a question about the document.")
    if len(text) > max_chars:
        raise QuestionError(
            f"The question is {len(text):,} characters long; the limit is {max_chars:,} "
            "(ASSISTANT_MAX_QUESTION_CHARS). Ask about one thing at a time."
        )
    return text


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

    def _select(self, question: str, sources: Sequence[str] | None, asked: str | None = None) -> list[Retrieved]:
        """Top-k passages, or for a summary question a representative selection of the voice(s) asked about.

        The voices are those the user's own words (`asked`) name when they name any: a follow-up's rewrite
        ("what do the commenters think about the author's view…?") also names the voice it is about.
        """
        retriever = self.retriever
        named = self._voices(question, asked)
        if kind_of(question) == "summary":
            voices = sorted(named) or ["author"]
            per_voice = max(2, (self.settings.top_k + 2) // len(voices))
            picked = [r for v in voices for r in self.overview.as_retrieved(v, per_voice, sources)]  # type: ignore[arg-type]
            if picked:
                return picked
        return retriever.search(question, self.settings.top_k, sources, voices=named)

    def retrieve(
        self, question: str, sources: Sequence[str] | None = None, asked: str | None = None
    ) -> list[Retrieved]:
        """The passages an answer to `question` is given, in prompt order: the top k (for a whole-document
        question, a selection covering the document or voice), steered by the voices named, within the prompt's
        character budget. `asked` is the user's own wording when `question` is a rewrite of a follow-up.

        Why public: notebooks and the benchmark scripts score or inspect exactly what the LLM would see.
        """
        return self._budget(self._select(question, self.resolve_sources(sources), asked=asked))

    def _voices(self, question: str, asked: str | None) -> set[Role]:
        """The voices the user's own words (`asked`) name, else those `question` (their rewrite) names."""
        names = self.retriever.voice_names
        return (voices_named(asked, names) if asked else set()) or voices_named(question, names)

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

    def answer_chain(self, summary: bool = False) -> Runnable:
        """prompt → LLM → text, over `{"question", "passages"}` (passages already formatted).

        `summary` swaps in prompts/summary.md: a whole-document question gets a selection covering the
        document, and asks for several points from several passages, not the one or two sentences of an answer.
        """
        prompt: ChatPromptTemplate = answer_prompt(self.settings.prompts_dir, "summary" if summary else "system")
        return prompt | self.chat | StrOutputParser()

    def chain(self) -> Runnable:
        """The whole LCEL pipeline retrieve → prompt → LLM → parse, for composing in notebooks.

        Input: a question string. Output: the draft answer text (ungrounded; use `ask` for citations).
        """
        retrieve: Runnable = RunnableLambda(lambda q: self.retriever.search(q))
        return (
            {"question": RunnablePassthrough(), "retrieved": retrieve}
            | RunnablePassthrough.assign(passages=lambda x: self.format_passages(x["retrieved"]))
            | {"question": itemgetter("question"), "passages": itemgetter("passages")}
            | self.answer_chain()
        )

    def format_passages(self, retrieved: Sequence[Retrieved]) -> str:
        """Numbered passages for the prompt, each labelled with its voice, section and lines."""
        template = load_prompt(self.settings.prompts_dir, "passage")
        blocks = []
        for n, r in enumerate(retrieved, start=1):
            p = r.passage
            where = f", section “{p.section}”" if p.section else ""
            # Every line quoted: document text can never pass for a passage header or the question line.
            quoted = "\n".join(f"> {line}" for line in p.text.split("\n"))
            blocks.append(template.format(n=n, voice=ROLE_LABEL.get(p.role, p.role), where=where, text=quoted))
        return "\n\n".join(blocks)

    def _budget(self, retrieved: list[Retrieved]) -> list[Retrieved]:
        """Keep passages in rank order within the prompt budget; say so when some do not fit."""
        kept: list[Retrieved] = []
        used = 0
        for r in retrieved:
            if kept and used + len(r.passage.text) > self.settings.context_max_chars:
                log.info("Prompt budget reached: %d of %d passages sent", len(kept), len(retrieved))
                break
            kept.append(r)
            used += len(r.passage.text)
        return kept

    # -- follow-ups ------------------------------------------------------------------------------------
    def standalone(self, question: str, history: History | None) -> str:
        """Rewrite a follow-up into a question that stands alone; other questions pass unchanged."""
        if not history or not _FOLLOW_UP.search(question):
            return question
        turns = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in list(history)[-3:])
        prompt = load_prompt(self.settings.prompts_dir, "condense").format(history=turns, question=question)
        try:
            reply = str(self.chat.invoke(prompt).content).strip()
            rewritten = reply.removeprefix("Rewritten:").strip().strip('"').splitlines()[0].strip()
        except (IndexError, AssistantError):
            return question
        if not rewritten or is_refusal(rewritten) or len(rewritten) > 3 * len(question) + 200:
            return question
        return rewritten

    def confirms(self, question: str, grounded: Grounded) -> bool:
        """A short YES/NO pass: is the grounded answer supported by the lines it cites? Only a NO rejects.

        Why: a small model answers an unanswerable question with a related, citable sentence ("they agreed
        on…" quoting the editor's background note); asked plainly, it recognises the mismatch. On the dev set
        this wording caught those while passing answers that quoting alone (a bare list of quotes) rejected.
        """
        sources = "\n".join(
            f"[{c.n}] ({ROLE_LABEL.get(c.role, c.role)}) "
            + (self.documents[c.source].text_of(c.line_start, c.line_end) if c.source in self.documents else c.quote)
            for c in grounded.citations
        )
        prompt = load_prompt(self.settings.prompts_dir, "verify").format(
            question=question, answer=grounded.text, sources=sources
        )
        try:
            verdict = str(self.chat.bind(max_tokens=3).invoke(prompt).content).strip().upper()
        except Exception as exc:  # a failing check must not hide a grounded answer
            log.warning("Answer check failed: %s", exc)
            return True
        return not verdict.startswith("NO")

    def second_look(self, question: str, retrieved: Sequence[Retrieved]) -> Iterator[str]:
        """Stream a second reading of the passages after the model said it doesn't know.

        Why: a 1.5B model says "I don't know" to questions the passages do answer, most of all when the
        question carries a false premise ("since the mayor approved the plan, why…?") or asks who said
        something. Asked to look again for a partial answer or a contradiction, it finds them; what it then
        says is grounded like any draft, so a claim no passage supports is still dropped.
        """
        prompt = load_prompt(self.settings.prompts_dir, "second_look").format(
            question=question, passages=self.format_passages(retrieved)
        )
        try:
            yield from (self.chat | StrOutputParser()).stream(prompt)
        except Exception as exc:  # the first reading stands
            log.warning("Second look failed: %s", exc)

    def _settled(
        self, question: str, retrieved: Sequence[Retrieved], draft: str, asked: str, corrected: bool = False
    ) -> Grounded:
        """A draft made into the final answer: grounded, checked for the kind and voice asked, and confirmed
        by the answer check when it is suspect; a refusal when nothing holds up.

        A premise correction that opens with "No" skips the answer check: the question words no passage has
        ("Why does the editor praise it as brilliant?") are what it denies, and the YES/NO check reads the
        denial as a claim it cannot find."""

        voices = self._voices(question, asked)
        voice = next(iter(voices)) if len(voices) == 1 else None
        summary = kind_of(question) == "summary"
        max_claims = None if summary else self.settings.max_sentences
        later_within = None if summary else self.settings.later_sentences_within
        embed = embedding_model().embed_documents

        def grounded_draft(text: str) -> Grounded:
            return ground(
                text,
                retrieved,
                self.documents,
                embed,
                self.settings.support_threshold,
                question,
                asked,
                voice=voice,
                voice_names=self.retriever.voice_names,
                max_claims=max_claims,
                later_within=later_within,
            )

        grounded: Grounded | None = None
        if corrected and (parts := split_denial(draft)):
            evidence = grounded_draft(parts[1])
            if not evidence.refused and evidence.citations:  # the denial cites the evidence that follows it
                text = f"{with_marker(parts[0], evidence.citations[0].n)} {evidence.text}"
                grounded = Grounded(text, evidence.citations, False, evidence.suspect)
        grounded = self._checked_kind(question, retrieved, grounded or grounded_draft(draft))
        if (grounded.refused and not grounded.citations) or _WHO.match(question):
            # the sentence a question quotes answers "who said …?" better than any paraphrase can
            grounded = quoted_source(question, retrieved, self.documents) or grounded
        grounded = self._voice_asked(question, grounded, voice)
        if not grounded.refused and _YES_NO.match(question):
            grounded = dataclasses.replace(grounded, text=settle_yes_no(question, grounded.text))
        check = self.settings.verify_answers == "always" or (
            self.settings.verify_answers == "suspect" and grounded.suspect
        )
        if corrected and _opens_with_no(grounded.text):
            check = False
        if not grounded.refused and check and not self.confirms(question, grounded):
            return Grounded(REFUSAL_TEXT, [], True)
        return grounded

    def premise_denied(self, premise: str, passages: str) -> bool:
        """Whether the model, reading the same passages, answers NO to what the question takes for granted.

        The prompt shares the answer prompt's system message and passages, so llama.cpp reuses their
        evaluation from the draft just made: the check costs the question's few tokens and a one-word reply.
        """
        question = load_prompt(self.settings.prompts_dir, "premise").format(premise=premise)
        chain = answer_prompt(self.settings.prompts_dir) | self.chat.bind(max_tokens=3) | StrOutputParser()
        try:
            return denies(chain.invoke({"question": question, "passages": passages}))
        except Exception as exc:  # a failing check leaves the answer as it was
            log.warning("Premise check failed: %s", exc)
            return False

    def correction(self, question: str, premise: str, passages: str) -> Iterator[str]:
        """Stream an answer that starts from the premise check's NO (same passages, same prompt prefix)."""
        asked = load_prompt(self.settings.prompts_dir, "correction").format(premise=premise, question=question)
        try:
            yield from self.answer_chain().stream({"question": asked, "passages": passages})
        except Exception as exc:  # the first answer stands
            log.warning("Premise correction failed: %s", exc)

    def _checked_kind(self, question: str, retrieved: Sequence[Retrieved], grounded: Grounded) -> Grounded:
        """A question that asks for a percentage, a year or a count needs one in the answer.

        None in any retrieved passage: the document cannot answer, so the answer becomes a refusal that keeps
        what the document does say, in its own words ("The document doesn't say. The author writes: “Sales
        reached 2 million units.” [1]"): the draft's paraphrase answered a question the document cannot, so it
        is not shown. Present in the passages but not in the answer: the answer check decides.
        """
        kind = asked_kind(question)
        if kind is None or grounded.refused or gives_kind(kind, re.sub(r"\[\d+\]", "", grounded.text)):
            return grounded
        if not any(gives_kind(kind, r.passage.text) for r in retrieved):
            nearest = dataclasses.replace(grounded.citations[0], n=1) if grounded.citations else None
            if nearest is None:
                return Grounded(REFUSAL_TEXT, [], True)
            return Grounded(f"{REFUSAL_TEXT} {quoting(nearest)}", [nearest], True)
        return Grounded(grounded.text, grounded.citations, grounded.refused, True)

    def _voice_asked(self, question: str, grounded: Grounded, voice: Role | None) -> Grounded:
        """ "Does the article say X?" answered only from a reader comment: say it is not the article's.

        `voice` is the one voice the question names (None when it names none or several). Why: the 1.5B model
        answers "Yes, …" whenever any passage says X; who said it is the point of the question, and the
        citations' roles know it.
        """
        if voice is None or grounded.refused or not grounded.citations or not _YES_NO.match(question):
            return grounded
        if any(c.role == voice for c in grounded.citations) or _opens_with_no(grounded.text):
            return grounded  # the voice asked is cited, or the answer already says it is not theirs
        text = re.sub(r"^(yes|no)\b[,.]?\s*", "", grounded.text, flags=re.IGNORECASE)
        if re.match(r"(a|an|the|one)\b", text, flags=re.IGNORECASE):
            text = text[:1].lower() + text[1:]
        text = f"Not {_NOT_IN[voice]}: {text}"
        return Grounded(text, grounded.citations, False, grounded.suspect)

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
    ) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated, then the complete, grounded `Answer`."""
        started = time.perf_counter()
        question = clean_question(question, self.settings.max_question_chars)
        sources = self.resolve_sources(sources)
        standalone = self.standalone(question, history)
        standalone_out = standalone if standalone != question else None
        if kind_of(standalone) == "outline":
            text, citations = outline(self.retriever.passages, sources)
            if citations:
                timings = {"retrieve_s": time.perf_counter() - started}
                timings["first_token_s"] = timings["total_s"] = time.perf_counter() - started
                yield text
                yield Answer(question, text, False, citations, [], timings, standalone_out)
                return
        retrieved = self.retrieve(standalone, sources, asked=question)
        timings = {"retrieve_s": time.perf_counter() - started}
        best = max((r.dense for r in retrieved), default=0.0)
        if best < self.settings.refuse_below and self.retriever.best_lexical(standalone) < self.settings.lexical_floor:
            timings["first_token_s"] = timings["total_s"] = time.perf_counter() - started
            yield REFUSAL_TEXT
            yield Answer(question, REFUSAL_TEXT, True, [], retrieved, timings, standalone_out)
            return
        draft: list[str] = []
        passages = self.format_passages(retrieved)
        try:
            chain = self.answer_chain(summary=kind_of(standalone) == "summary")
            for token in chain.stream({"question": standalone, "passages": passages}):
                if not draft:
                    timings["first_token_s"] = time.perf_counter() - started
                draft.append(token)
                yield token
        except AssistantError as exc:
            timings["total_s"] = time.perf_counter() - started
            yield Answer(
                question,
                f"The language model failed: {exc}",
                False,
                [],
                retrieved,
                timings,
                standalone_out,
                error=str(exc),
            )
            return
        except Exception as exc:  # a server that is down or answers garbage: keep the passages visible
            timings["total_s"] = time.perf_counter() - started
            message = (
                f"The language model backend ({self.settings.llm}) failed: {exc.__class__.__name__}: {str(exc).rstrip('.')}. "
                "Check ASSISTANT_LLM / ASSISTANT_OPENAI_BASE_URL. The retrieved passages are listed below."
            )
            yield Answer(question, message, False, [], retrieved, timings, standalone_out, error=message)
            return
        timings.setdefault("first_token_s", time.perf_counter() - started)
        text = first_draft = "".join(draft)
        corrected = False
        if self.settings.second_look and is_refusal(text) and len(claims_of(text)) <= 1:
            again: list[str] = []
            yield "\n\n"
            for token in self.second_look(standalone, retrieved):
                again.append(token)
                yield token
            text = "".join(again) or text
        elif (
            self.settings.premise_check
            and (premise := presupposition(standalone))
            and self.premise_denied(premise, passages)
        ):
            rewritten: list[str] = []
            yield "\n\n"
            for token in self.correction(standalone, premise, passages):
                rewritten.append(token)
                yield token
            corrected = bool(rewritten)
            text = "".join(rewritten) or text
        grounded = self._settled(standalone, retrieved, text, question, corrected)
        if grounded.refused and corrected:
            grounded = self._settled(standalone, retrieved, first_draft, question)  # a correction that did not hold up
        timings["total_s"] = time.perf_counter() - started
        yield Answer(question, grounded.text, grounded.refused, grounded.citations, retrieved, timings, standalone_out)
