"""What "why" and "since" questions take for granted, turned into the yes/no question the model is asked."""

from __future__ import annotations

import pytest

from assistant.premise import denies, presupposition


@pytest.mark.parametrize(
    ("question", "premise"),
    [
        ("Why does the author support the plan?", "Does the author support the plan?"),
        ("why did  Putin reject the deal", "Did Putin reject the deal?"),
        ("Why is today different from the Cold War?", "Is today different from the Cold War?"),
        ("Why have the commenters agreed with him?", "Have the commenters agreed with him?"),
        (
            "Since Trump has committed the US to defending Taiwan, why isn't Beijing worried?",
            "Do the passages say that Trump has committed the US to defending Taiwan?",
        ),
        ("Given that trade fell, how does Russia cope?", "Do the passages say that trade fell?"),
    ],
)
def test_the_premise_of_a_why_or_since_question(question: str, premise: str) -> None:
    assert presupposition(question) == premise


@pytest.mark.parametrize(
    "question",
    [
        "Why isn't Beijing more worried?",  # a negative premise is the document's usual answer
        "Why not split them?",
        "What did the author say?",
        "How does ending the war help Trump?",
        "Since when has trade grown?",
    ],
)
def test_questions_without_a_checkable_premise(question: str) -> None:
    assert presupposition(question) is None


def test_only_a_plain_no_denies() -> None:
    assert denies("NO") and denies("No.") and denies(" no [1]")
    assert not denies("YES") and not denies("I don't know.") and not denies("Nothing") and not denies("")
