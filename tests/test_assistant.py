"""The Python API over a real index (real MiniLM, real Chroma) with fake chat models."""

from __future__ import annotations

import pytest
from langchain_core.language_models import FakeListChatModel

from assistant import Answer, Assistant, QuestionError, Settings
from assistant.cite import REFUSAL_TEXT

pytestmark = pytest.mark.slow

BACKFIRE = "why does the author think the split will backfire?"


def test_answer_contract_and_verified_citations(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)
    answer = assistant.ask(BACKFIRE)
    data = answer.to_dict()
    assert set(data) == {"question", "answer", "refused", "citations", "retrieved", "timings"}
    assert set(data["timings"]) == {"retrieve_s", "first_token_s", "total_s"}
    assert not answer.refused and answer.citations
    doc = assistant.documents["seeds/000_b8aa54d3edd41c2c.txt"]
    for c in data["citations"]:
        assert set(c) - {"title"} == {"n", "source", "line_start", "line_end", "role", "section", "quote"}
        assert c["quote"] in doc.text_of(c["line_start"], c["line_end"])
        assert f"[{c['n']}]" in data["answer"]
    assert all(c["role"] == "author" for c in data["citations"])
    scores = [r["score"] for r in data["retrieved"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == seed_index.top_k


def test_stream_yields_text_then_answer(seed_index: Settings) -> None:
    items = list(Assistant(seed_index).stream(BACKFIRE))
    assert all(isinstance(i, str) for i in items[:-1]) and len(items) > 2
    assert isinstance(items[-1], Answer)


def test_model_saying_it_does_not_know_is_a_refusal(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["I don't know."])
    answer = Assistant(seed_index, chat=chat).ask("What did the US and Russia agree on at the Saudi Arabia talks?")
    assert answer.refused and answer.answer == REFUSAL_TEXT and answer.citations == []


def test_invented_answer_is_not_shown_as_cited(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["The split happened in 1961 after a dispute over nuclear weapons [1]."])
    answer = Assistant(seed_index, chat=chat).ask("What year did the original Sino-Soviet split happen?")
    assert answer.refused and "1961" not in answer.answer


def test_off_topic_question_is_refused_before_the_llm(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["should never be used"])
    answer = Assistant(seed_index, chat=chat).ask("What is the boiling point of tungsten?")
    assert answer.refused and chat.i == 0


def test_named_voice_steers_retrieval(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)
    hits = assistant.retriever.search("What do the commenters think about Trump's plan?", k=6)
    assert sum(r.passage.role == "commenter" for r in hits) >= 4
    hits = assistant.retriever.search("What does the editor's note say about the plan?", k=6)
    assert hits[0].passage.role == "editor"


def test_limit_to_sources(seed_index: Settings) -> None:
    hits = Assistant(seed_index).retriever.search("Taiwan", sources=["seeds/none.txt"])
    assert hits == []


@pytest.mark.parametrize("question", ["", "   \n\t", "x" * 5000])
def test_bad_questions_are_clear_errors(seed_index: Settings, question: str) -> None:
    with pytest.raises(QuestionError):
        Assistant(seed_index).ask(question)


def test_follow_up_is_rewritten_with_the_conversation(seed_index: Settings) -> None:
    chat = FakeListChatModel(
        responses=["What do the commenters say about Trump's plan to split Russia from China?", "I don't know."]
    )
    answer = Assistant(seed_index, chat=chat).ask(
        "and what do the commenters say about that?",
        history=[("What is Trump's plan?", "To split Russia from China [1].")],
    )
    assert answer.standalone_question == "What do the commenters say about Trump's plan to split Russia from China?"
    assert answer.to_dict()["standalone_question"] == answer.standalone_question


def test_notebook_rendering(seed_index: Settings) -> None:
    answer = Assistant(seed_index).ask(BACKFIRE)
    md = answer._repr_markdown_()
    assert "**Q:**" in md and "lines" in md


def test_lcel_chain_and_retriever_compose(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)
    docs = assistant.retriever.invoke("friendship without limits")
    assert any("friendship without limits" in d.page_content for d in docs)
    assert "[1]" in assistant.chain().invoke("When did Putin and Xi announce their friendship?")
