"""The real default local LLM on the seed: citations into the article, refusal of what the document lacks."""

from __future__ import annotations

import pytest

from assistant import Assistant, Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real(seed_index: Settings) -> Assistant:
    return Assistant(seed_index.model_copy(update={"llm": "local"}))


def test_backfire_is_answered_with_verified_author_citations(real: Assistant) -> None:
    answer = real.ask("why does the author think the split will backfire?")
    assert not answer.refused
    assert answer.citations, answer.answer
    doc = real.documents["seeds/000_b8aa54d3edd41c2c.txt"]
    for c in answer.citations:
        assert c.quote in doc.text_of(c.line_start, c.line_end)
        assert f"[{c.n}]" in answer.answer
    assert any(c.role == "author" and 33 <= c.line_start <= 37 for c in answer.citations)


@pytest.mark.xfail(
    reason="known miss (docs/evaluation.md): the 1.5B model answers from the editor's background sentence about "
    "the talks, and no measured signal separates it from an answer",
    strict=False,
)
def test_question_the_document_cannot_answer_is_refused(real: Assistant) -> None:
    answer = real.ask("What did the US and Russia agree on at the Saudi Arabia talks?")
    doc = real.documents["seeds/000_b8aa54d3edd41c2c.txt"]
    assert all(c.quote in doc.text_of(c.line_start, c.line_end) for c in answer.citations)  # grounded either way
    assert answer.refused, answer.answer


def test_general_knowledge_question_is_refused(real: Assistant) -> None:
    assert real.ask("What is the population of Brazil?").refused
