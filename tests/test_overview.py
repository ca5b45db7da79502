"""Whole-document questions: outlines from structure, summaries from representative passages."""

from __future__ import annotations

import pytest

from assistant import Assistant, Settings
from assistant.answering.overview import kind_of

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What are the section headings?", "outline"),
        ("Give me an outline of the article", "outline"),
        ("Summarize the article", "summary"),
        ("What do the commenters mostly argue?", "summary"),
        ("What do the commenters think?", "summary"),
        ("what do readers say about the article", "summary"),
        ("What do the commenters think about the sanctions on Russia?", None),  # a question about one thing
        ("What are the main points?", "summary"),
        ("Why does the author think the split will backfire?", None),
    ],
)
def test_kind_of(question: str, kind: str | None) -> None:
    assert kind_of(question) == kind


def test_outline_cites_every_heading_line(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)
    answer = assistant.ask("What are the section headings?")
    doc = assistant.documents["seeds/000_b8aa54d3edd41c2c.txt"]
    assert [c.line_start for c in answer.citations] == [10, 14, 19, 22, 28, 33]
    for c in answer.citations:
        assert c.quote == doc.lines[c.line_start - 1] and f"[{c.n}]" in answer.answer


def test_summary_sees_every_section_not_just_top_k(seed_index: Settings) -> None:
    answer = Assistant(seed_index).ask("Summarize the article")
    sections = {r.passage.section for r in answer.retrieved}
    assert {"A Growing Challenge", "Insulating the Economy", "China’s Turn to Exploit a Split?"} <= sections
    assert {r.passage.role for r in answer.retrieved} == {"author"}


def test_commenter_summary_spreads_over_the_comments(seed_index: Settings) -> None:
    answer = Assistant(seed_index).ask("What do the commenters mostly argue?")
    lines = [r.passage.line_start for r in answer.retrieved]
    assert {r.passage.role for r in answer.retrieved} == {"commenter"}
    assert max(lines) - min(lines) > 30 and len(set(lines)) >= 5


def test_a_summary_is_asked_for_with_the_summary_prompt(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)

    def system_of(summary: bool) -> str:
        prompt = assistant.writer(summary=summary).first  # type: ignore[attr-defined]
        return str(prompt.format_messages(question="q", evidence="[1] (article author) x")[0].content)

    assert system_of(True).startswith("Summarize from the numbered evidence") and "three to five" in system_of(True)
    assert system_of(False).startswith("Answer the question")
