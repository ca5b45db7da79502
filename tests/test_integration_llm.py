"""The real default local LLM on the seed: citations into the article, refusal of what the document lacks."""

from __future__ import annotations

from typing import Any

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
    "the talks; its own doubt (log P of the refusal, -3.7 here) stays below the fitted floor of -2.8, which the "
    'dev wording of the question ("actually agree", -2.4) clears',
    strict=False,
)
def test_question_the_document_cannot_answer_is_refused(real: Assistant) -> None:
    answer = real.ask("What did the US and Russia agree on at the Saudi Arabia talks?")
    doc = real.documents["seeds/000_b8aa54d3edd41c2c.txt"]
    assert all(c.quote in doc.text_of(c.line_start, c.line_end) for c in answer.citations)  # grounded either way
    assert answer.refused, answer.answer


def test_general_knowledge_question_is_refused(real: Assistant) -> None:
    assert real.ask("What is the population of Brazil?").refused


def test_the_local_model_scores_a_reply_the_same_with_and_without_its_cached_prompt(real: Assistant) -> None:
    # The refusal decision reads log P("The document doesn't say.") right after an answer, from the prompt
    # llama.cpp still holds; reusing that cache must not change the number.
    turn = real.begin("why does the author think the split will backfire?")
    messages = real.path.writer().first.format_messages(**real.path.prompt_input(turn))
    written = str(real.chat.invoke(messages).content)
    opening = " ".join(written.split()[:6])
    chat: Any = real.chat
    after_answer = chat.continuation_logprob(messages, opening)
    chat.llama().reset()
    from_scratch = chat.continuation_logprob(messages, opening)
    assert after_answer == pytest.approx(from_scratch, abs=0.05)
    assert after_answer > chat.continuation_logprob(messages, "Bananas are purple and sing at night.") + 5
    assert after_answer > -3.0  # the model's own greedy words are likely to it
