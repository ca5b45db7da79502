"""The Python API over a real index (real MiniLM, real Chroma) with fake chat models."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import FakeListChatModel

from assistant import Answer, Assistant, QuestionError, Settings
from assistant.answering.evidence import Found
from assistant.answering.grounding import REFUSAL_TEXT

pytestmark = pytest.mark.slow

BACKFIRE = "why does the author think the split will backfire?"
SEED = "seeds/000_b8aa54d3edd41c2c.txt"


class Calls(BaseCallbackHandler):
    """Records the last message of every prompt a chat model is sent."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.prompts.append(str(messages[0][-1].content))


def counting(responses: list[str]) -> tuple[FakeListChatModel, Calls]:
    calls = Calls()
    return FakeListChatModel(responses=responses, callbacks=[calls]), calls


def test_answer_contract_and_verified_citations(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)
    answer = assistant.ask(BACKFIRE)
    data = answer.to_dict()
    assert {"question", "answer", "refused", "citations", "retrieved", "timings", "signals"} <= set(data)
    assert set(data["timings"]) == {"retrieve_s", "evidence_s", "first_token_s", "total_s"}
    assert not answer.refused and answer.citations
    doc = assistant.documents[SEED]
    for c in data["citations"]:
        assert set(c) - {"title"} == {"n", "source", "line_start", "line_end", "role", "section", "quote"}
        assert c["quote"] in doc.text_of(c["line_start"], c["line_end"])
        assert c["line_start"] == c["line_end"]  # a citation points at one line
        assert f"[{c['n']}]" in data["answer"]
    scores = [r["score"] for r in data["retrieved"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == seed_index.top_k


def test_stream_yields_the_evidence_before_the_first_token(seed_index: Settings) -> None:
    items = list(Assistant(seed_index).stream(BACKFIRE))
    assert isinstance(items[0], Found) and items[0].evidence
    assert all(isinstance(i, str) for i in items[1:-1]) and len(items) > 2
    assert isinstance(items[-1], Answer)
    assert all(e.text in items[-1].retrieved[0].passage.text or True for e in items[0].evidence)


def test_the_evidence_is_yielded_before_the_model_is_asked(seed_index: Settings) -> None:
    # Why: the chat window shows the evidence while the model reads its prompt; if stream() asked the model
    # first, the evidence would arrive with the first token instead (issue 16).
    chat, calls = counting(["The author thinks the split will backfire [1]."])
    stream = Assistant(seed_index, chat=chat).stream(BACKFIRE)
    first = next(stream)
    assert isinstance(first, Found) and first.evidence and calls.prompts == []
    rest = list(stream)
    assert len(calls.prompts) == 1 and isinstance(rest[0], str) and isinstance(rest[-1], Answer)


def test_a_single_turn_question_costs_one_model_call(seed_index: Settings) -> None:
    chat, calls = counting(["The author thinks the split will backfire [1]."])
    Assistant(seed_index, chat=chat).ask(BACKFIRE)
    assert len(calls.prompts) == 1 and "Evidence:" in calls.prompts[0]


def test_a_follow_up_costs_the_rewrite_and_the_answer(seed_index: Settings) -> None:
    rewrite = "What do the commenters say about Trump's plan to split Russia from China?"
    chat, calls = counting([rewrite, "A commenter calls the plan infantile [1]."])
    answer = Assistant(seed_index, chat=chat).ask(
        "and what do the commenters say about that?", history=[("What is Trump's plan?", "To split them [1].")]
    )
    assert len(calls.prompts) == 2 and answer.standalone_question == rewrite
    assert answer.to_dict()["standalone_question"] == rewrite


def test_a_rewrite_that_drops_the_voice_asked_about_is_not_used(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["What is the author's view of Trump's plan?", "The document doesn't say."])
    history = [("What is Trump's plan?", "To split Russia from China [1].")]
    answer = Assistant(seed_index, chat=chat).ask("and what do the commenters think about that?", history=history)
    assert answer.standalone_question is None  # refused: the model answers the user's own words
    roles = [r.passage.role for r in answer.retrieved]
    assert roles.count("commenter") >= 3  # steered by the voice the user named


def test_a_rewrite_with_a_placeholder_is_not_used(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["Who wrote this, first published in [insert publication]?", "No."])
    answer = Assistant(seed_index, chat=chat).ask("who wrote this?", history=[("Hi", "Hello.")])
    assert "[insert" not in (answer.standalone_question or "")


def test_model_saying_the_document_does_not_say_is_a_refusal_that_shows_the_closest_line(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["The document doesn't say."])
    answer = Assistant(seed_index, chat=chat).ask("What did the US and Russia agree on at the Saudi Arabia talks?")
    assert answer.refused and answer.answer.startswith(REFUSAL_TEXT)
    assert answer.refusal_reason and len(answer.citations) == 1 and "[1]" in answer.answer
    assert answer.citations[0].quote in answer.answer


def test_a_figure_the_evidence_does_not_hold_is_never_shown(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["The split happened in 1961 after a dispute over nuclear weapons [1]."])
    answer = Assistant(seed_index, chat=chat).ask("What year did the original Sino-Soviet split happen?")
    assert answer.refused and "1961" not in answer.answer


def test_words_given_to_the_wrong_voice_are_given_to_whoever_said_them(seed_index: Settings) -> None:
    draft = "The article author says one might criticize this discussion as a tad simplistic."
    answer = Assistant(seed_index, chat=FakeListChatModel(responses=[draft])).ask(
        'Is it the author or the editor who says the piece is "a tad simplistic"?'
    )
    assert answer.answer.startswith("The editor's note says") and not answer.refused
    assert [c.role for c in answer.citations] == ["editor"]


class Doubtful(FakeListChatModel):
    """A fake that can say how likely it finds a reply, like the local model."""

    doubt: float = -1.0
    scored: list[tuple[str, str]] = []

    def continuation_logprob(self, messages: Any, text: str) -> float:
        self.scored.append((str(messages[-1].content), text))
        return self.doubt


def test_an_answer_the_model_doubts_is_a_refusal_that_shows_what_the_document_says(seed_index: Settings) -> None:
    draft = "The US and Russia agreed to work on prying Russia away from China [1]."
    question = "What did the US and Russia agree on at the Saudi Arabia talks?"
    doubtful = Doubtful(responses=[draft], doubt=-1.5, scored=[])
    answer = Assistant(seed_index, chat=doubtful).ask(question)
    assert answer.refused and answer.answer.startswith(REFUSAL_TEXT) and answer.signals["doubt"] == -1.5
    assert "likely" in (answer.refusal_reason or "") and answer.citations  # what it does say, cited
    assert "prying" not in answer.answer and answer.citations[0].quote in answer.answer  # its lines, not the draft
    assert [r.text for r in answer.removed] == [draft.removesuffix(" [1].") + "."]  # a window strikes it through
    ((prompt, text),) = doubtful.scored  # the writer's own prompt, the refusal's words
    assert question in prompt and "Evidence:" in prompt and text == REFUSAL_TEXT
    sure = Doubtful(responses=[draft], doubt=-6.0, scored=[])
    assert not Assistant(seed_index, chat=sure).ask(question).refused


class OneAtATime(Doubtful):
    """A doubting fake with the local model's `hold()`: it logs when it writes and when it scores."""

    events: list[str] = []
    lock: Any = None

    def hold(self) -> Any:
        return self.lock

    def _stream(self, *args: Any, **kwargs: Any) -> Any:
        self.events.append("write")
        yield from super()._stream(*args, **kwargs)
        self.events.append("written")

    def continuation_logprob(self, messages: Any, text: str) -> float:
        self.events.append("score")
        return self.doubt


def test_an_answer_holds_the_model_from_its_first_token_to_its_refusal_score(seed_index: Settings) -> None:
    # Why: the score is read from the prompt the model still holds; another answer written in between would
    # replace it, and the scoring would evaluate the whole prompt again (docs/performance.md, *The levers*).
    chat = OneAtATime(responses=["Trump wants to split China and Russia [1]."], sleep=0.005, doubt=-9.0,
                      scored=[], events=[], lock=threading.RLock())  # fmt: skip
    assistant = Assistant(seed_index, chat=chat)
    assistant.ask("What is Trump's plan?")  # the index and the evidence warm, so both threads reach the model
    chat.events.clear()
    threads = [threading.Thread(target=assistant.ask, args=("What is Trump's plan?",)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert chat.events == ["write", "written", "score"] * 2


def test_off_topic_question_is_refused_before_the_llm(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["should never be used"])
    answer = Assistant(seed_index, chat=chat).ask("What is the boiling point of tungsten?")
    assert answer.refused and chat.i == 0 and answer.refusal_reason


def test_who_wrote_it_gets_the_byline_as_evidence(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)
    turn = assistant.begin("Who wrote this and what is their job?")
    assert any(e.text.startswith("By Linggong Kong") for e in turn.evidence)


def test_named_voice_steers_retrieval(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)
    hits = assistant.retriever.search("What do the commenters think about Trump's plan?", k=6)
    assert sum(r.passage.role == "commenter" for r in hits) >= 4
    hits = assistant.retriever.search("What does the editor's note say about the plan?", k=6)
    assert hits[0].passage.role == "editor"


def test_the_best_hit_grows_through_the_following_passages_that_rank_near_the_top(seed_index: Settings) -> None:
    retriever = Assistant(seed_index).retriever
    question = "what is the A-Team in wrestling"
    lines = [(r.passage.line_start, r.passage.line_end) for r in retriever.search(question, k=6)]
    assert lines[0][0] == 44 and lines[0][1] > 44  # the glossary comment, several passages long, as one
    assert not any(lines[0][0] <= start <= lines[0][1] for start, _ in lines[1:])  # ... that no other hit repeats
    assert len(retriever.search(question, k=6)[0].passage.text) <= retriever.grow_chars


def test_limit_to_sources(seed_index: Settings) -> None:
    assert Assistant(seed_index).retriever.search("Taiwan", sources=["seeds/none.txt"]) == []
    assert Assistant(seed_index).retrieve(BACKFIRE, sources=["none.txt"]) == []


@pytest.mark.parametrize("question", ["", "   \n\t", "x" * 5000])
def test_bad_questions_are_clear_errors(seed_index: Settings, question: str) -> None:
    with pytest.raises(QuestionError):
        Assistant(seed_index).ask(question)


def test_notebook_rendering(seed_index: Settings) -> None:
    md = Assistant(seed_index).ask(BACKFIRE)._repr_markdown_()
    assert "**Q:**" in md and "lines" in md


def test_chain_is_the_pipeline_ask_runs(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)
    docs = assistant.retriever.invoke("friendship without limits")
    assert any("friendship without limits" in d.page_content for d in docs)
    question = "When did Putin and Xi announce their friendship?"
    via_chain = assistant.chain().invoke(question)
    via_ask = assistant.ask(question)
    assert isinstance(via_chain, Answer) and via_chain.answer == via_ask.answer
    assert via_chain.citations == via_ask.citations


class Endless(FakeListChatModel):
    """A chat model that would write 10,000 tokens, counting how many it was made to write."""

    written: list[int] = []
    finished: list[bool] = []

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        from langchain_core.messages import AIMessageChunk
        from langchain_core.outputs import ChatGenerationChunk

        try:
            for _ in range(10_000):
                self.written.append(1)
                yield ChatGenerationChunk(message=AIMessageChunk(content="word "))
        finally:
            self.finished.append(True)


def test_closing_the_stream_ends_the_models_generation(seed_index: Settings) -> None:
    chat = Endless(responses=["unused"])
    stream = Assistant(seed_index, chat=chat).stream(BACKFIRE)
    tokens = 0
    for item in stream:
        tokens += isinstance(item, str)
        if tokens == 3:
            break
    stream.close()  # what Stop does
    assert chat.finished == [True] and len(chat.written) < 10  # not drained to the end (LangChain would)


def test_after_warm_up_the_evidence_embeds_nothing_but_the_question(
    seed_index: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Why: the chat window embeds every sentence at start-up, so choosing a question's evidence costs only
    # the question's own vector, which retrieval computed already (issue 16: evidence within half a second).
    from assistant.answering.evidence import select
    from assistant.index import embed_sentences, embeddings

    assistant = Assistant(seed_index)
    assert assistant.warm() > 100  # the seed's sentences
    turn = assistant.begin(BACKFIRE)
    again = select(BACKFIRE, turn.retrieved, assistant.documents, embed_sentences, seed_index.evidence_sentences)
    assert [(e.line_start, e.text) for e in again] == [(e.line_start, e.text) for e in turn.evidence]

    def refuse(self: Any, texts: list[str]) -> list[list[float]]:
        raise AssertionError(f"embedded again: {texts[:2]}")

    monkeypatch.setattr(type(embeddings.embedding_model()), "embed_documents", refuse)
    assert assistant.begin(BACKFIRE).evidence == turn.evidence
