"""Grounding, evidence speakers, the question value and the refusal decision, with a toy embedder (no models)."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from assistant.answer import Retrieved
from assistant.answering.evidence import Evidence, about_credit, credit_lines, line_speaker, reported_speaker, select
from assistant.answering.grounding import (
    claims_of,
    figures,
    ground,
    is_refusal,
    misattributed,
    reattributed,
    verify,
    with_marker,
)
from assistant.answering.question import keeps_the_question, leans_on_history, read_question
from assistant.answering.refusal import RefusalPolicy, Signals, off_topic, refuse
from assistant.documents import Document, Paragraph, Passage
from assistant.voices import interviewee

LINES = [
    "Editor's note: the talks ended without a statement.",
    "By Jane Roe, a historian at Example University",
    "The author argues the plan will backfire. Russia depends on China for trade worth US$237 billion.",
    "Trump told Fox News: “I'm going to have to un-unite them.”",
    "Comments (2)",
    "NarrowsNative · 2 days ago",
    "I think the plan is a secret scheme cooked up by amateurs.",
]
ROLES = ["editor", "author", "author", "author", "commenter", "commenter", "commenter"]


def _doc() -> Document:
    paragraphs = [Paragraph(t, i + 1, i + 1) for i, t in enumerate(LINES)]
    passages = [
        Passage("seeds/d.txt", i + 1, i + 1, r, None, t) for i, (t, r) in enumerate(zip(LINES, ROLES, strict=True))
    ]  # type: ignore[arg-type]
    return Document("seeds/d.txt", None, LINES, None, paragraphs, ROLES, [None] * len(LINES), passages)  # type: ignore[arg-type]


def _embed(texts: list[str]) -> list[list[float]]:
    """Bag-of-words vectors: enough to make support measurable in tests."""
    vocab = sorted({w for t in LINES for w in re.findall(r"[a-z]+", t.lower())})
    out = []
    for t in texts:
        words = re.findall(r"[a-z]+", t.lower())
        v = [float(words.count(w)) for w in vocab] + [0.001]
        n = math.sqrt(sum(x * x for x in v))
        out.append([x / n for x in v])
    return out


def _evidence(question: str = "what about the plan and trade?") -> tuple[Document, list[Evidence]]:
    doc = _doc()
    retrieved = [Retrieved(p, 1.0 - i / 10, 0.9) for i, p in enumerate(doc.passages)]
    return doc, select(question, retrieved, {doc.source: doc}, _embed, limit=10)


def test_evidence_sentences_know_their_line_and_speaker() -> None:
    doc, evidence = _evidence()
    by_text = {e.text: e for e in evidence}
    assert by_text["The author argues the plan will backfire."].line_start == 3
    assert (
        by_text["I think the plan is a secret scheme cooked up by amateurs."].speaker
        == "reader comment by NarrowsNative"
    )
    trump = next(e for e in evidence if "un-unite" in e.text)
    assert trump.quoting == "Trump" and "reporting what Trump said" in trump.label()
    assert [e.n for e in evidence] == list(range(1, len(evidence) + 1))
    assert [(e.line_start, doc.lines[e.line_start - 1].find(e.text)) for e in evidence] == sorted(
        (e.line_start, doc.lines[e.line_start - 1].find(e.text)) for e in evidence
    )  # numbered in reading order


def test_interview_turns_name_their_speaker() -> None:
    lines = ["**TREVIK:** The margin gets thin.", "**Mira Castellane (interviewer):** Why?", "Q: And then?"]
    doc = Document("d.md", None, lines, None, [], [], [], [])  # type: ignore[arg-type]
    assert line_speaker(doc, 1, "author") == "Trevik (in the interview)"
    assert line_speaker(doc, 2, "author") == "Mira Castellane (interviewer) (in the interview)"
    assert line_speaker(doc, 3, "author") == "the interviewer"


@pytest.mark.parametrize(
    ("sentence", "speaker"),
    [
        ("Trump told Fox News: “As a student of history…”", "Trump"),
        ("“We will not pay,” said Carla Dunmore.", "Carla Dunmore"),
        ("According to Luis Ortega-Pell, the reef would help.", "Luis Ortega-Pell"),
        ("He said it would backfire.", None),
        ("The bridge costs $246 million.", None),
    ],
)
def test_reported_speaker(sentence: str, speaker: str | None) -> None:
    assert reported_speaker(sentence) == speaker


def test_credit_lines_answer_who_wrote_it() -> None:
    assert credit_lines(_doc()) == [("By Jane Roe, a historian at Example University", 2)]
    assert about_credit("who wrote this and what is their job?") and about_credit("where was it first published?")
    assert not about_credit("why will the split backfire?")
    _, evidence = _evidence("who wrote this?")
    assert any(e.text.startswith("By Jane Roe") for e in evidence)


def test_claims_split_at_sentences_without_their_markers() -> None:
    claims = claims_of("The plan will backfire [1]. [2] Trade is worth US$237 billion [3, 4].\n- A list item [5].")
    assert claims == ["The plan will backfire.", "Trade is worth US$237 billion.", "A list item."]
    assert claims_of("See [1-3].") == ["See."]


def test_grounding_keeps_whole_supported_sentences_and_drops_the_rest() -> None:
    doc, evidence = _evidence()
    n = next(e.n for e in evidence if "backfire" in e.text)
    draft = (
        f"The author argues the plan will backfire [{n}]. Bananas are yellow and ripe [1]. It cost 99 dollars [{n}]."
    )
    grounded = ground(draft, evidence, {doc.source: doc}, _embed, 0.4)
    assert grounded.text == "The author argues the plan will backfire [1]."
    assert grounded.dropped == 2 and len(grounded.supports) == 1
    assert [(r.text, r.reason) for r in grounded.removed] == [  # what a window shows struck through
        ("Bananas are yellow and ripe.", "no sentence of the document supports it"),
        ("It cost 99 dollars.", "it gives a figure the document does not"),
    ]
    (c,) = grounded.citations
    assert c.line_start == 3 and verify(c, doc)


def test_a_sentence_cited_to_the_wrong_number_is_cited_to_the_one_that_supports_it() -> None:
    doc, evidence = _evidence()
    wrong = next(e.n for e in evidence if "secret" in e.text)
    grounded = ground(f"Russia depends on China for trade [{wrong}].", evidence, {doc.source: doc}, _embed, 0.4)
    assert grounded.citations and grounded.citations[0].quote.startswith("Russia depends on China")


def test_words_given_to_the_wrong_voice_are_misattributed() -> None:
    _, evidence = _evidence()
    comment = next(e for e in evidence if "secret" in e.text)
    trump = next(e for e in evidence if "un-unite" in e.text)
    author = next(e for e in evidence if "backfire" in e.text)
    assert misattributed("The author says the plan is a secret scheme.", comment)
    assert misattributed("The author says he will un-unite them.", trump)
    assert not misattributed("The author notes that Trump says he will un-unite them.", trump)
    assert not misattributed("A commenter says the plan is a secret scheme.", comment)
    assert misattributed("A commenter argues the plan will backfire.", author)
    assert not misattributed("The plan will backfire.", author)  # no voice named: nothing to check
    # an interviewee's answer is in the article's voice, but the words are the interviewee's
    pellam = dataclasses.replace(author, speaker=interviewee("Pellam"))
    assert misattributed("The author argues the plan will backfire.", pellam)
    assert not misattributed("The author notes that Pellam argues the plan will backfire.", pellam)
    assert reattributed("The author argues the plan will backfire.", pellam) == "Pellam argues the plan will backfire."


def test_words_given_to_the_wrong_voice_are_given_to_the_right_one() -> None:
    doc, evidence = _evidence()
    comment = next(e for e in evidence if "secret" in e.text)
    trump = next(e for e in evidence if "un-unite" in e.text)
    assert reattributed("The author says the plan is a secret scheme.", comment) == (
        "The commenter NarrowsNative says the plan is a secret scheme."
    )
    assert (
        reattributed("The article's author says he will un-unite them.", trump) == "Trump says he will un-unite them."
    )
    comment_n = comment.n
    grounded = ground(
        f"The author says the plan is a secret scheme cooked up by amateurs [{comment_n}].",
        evidence,
        {doc.source: doc},
        _embed,
        0.4,
    )
    assert grounded.text.startswith("The commenter NarrowsNative says") and grounded.citations[0].role == "commenter"
    (changed,) = grounded.removed
    assert (
        changed.text.startswith("The author says") and changed.replaced_by == grounded.text.removesuffix(" [1].") + "."
    )
    assert grounded.citations[0].speaker == "NarrowsNative"  # a card can name the commenter, not only the voice


def test_sentences_past_the_length_limit_are_reported_removed() -> None:
    doc, evidence = _evidence()
    draft = "Russia depends on China for trade. The author argues the plan will backfire."
    grounded = ground(draft, evidence, {doc.source: doc}, _embed, 0.4, max_sentences=1)
    assert grounded.text.startswith("Russia depends on China")
    assert [(r.text, r.reason) for r in grounded.removed] == [
        ("The author argues the plan will backfire.", "answers are kept to 1 sentence")
    ]
    trump = ground("Trump says he will un-unite them.", evidence, {doc.source: doc}, _embed, 0.4)
    assert trump.citations[0].quoting == "Trump" and trump.citations[0].speaker is None


def test_refusal_sentences_and_markers() -> None:
    assert is_refusal("The document doesn't say.") and is_refusal("I don't know.")
    assert is_refusal("The evidence does not mention a date.")
    assert not is_refusal("The author argues it will backfire [1].")
    assert with_marker("It will backfire.", 2) == "It will backfire [2]."


def test_a_draft_sentence_is_never_cut_into_fragments() -> None:
    # a quoted title ending in "?" splits the sentence; the rest after the marker is no sentence of its own
    draft = "The author, in section “Will the lights stay on?” [1], states that coal goes in 2031. Next [2]."
    assert claims_of(draft) == [
        "The author, in section “Will the lights stay on?”, states that coal goes in 2031.",
        "Next.",
    ]
    assert claims_of("Most readers are for the bridge [1], [2], [3].") == ["Most readers are for the bridge."]


def test_figures_are_the_same_for_grounding_and_the_rewrite_vetting() -> None:
    assert figures("It cost 1,200 euros in 2024, up 3.5%.") == {"1,200", "2024", "3.5"}
    assert figures("Half said 50% and half 50 per cent.") == {"50"}  # one figure, however it is written
    assert not keeps_the_question("and in 2024?", "What happened in 2023?")
    assert keeps_the_question("and in 2024?", "What did the council decide in 2024?")


def test_a_rewrite_must_keep_the_users_words_and_voices() -> None:
    assert keeps_the_question("and the commenters?", "What do the commenters say about the bridge?")
    assert not keeps_the_question("what do the commenters think?", "What does the author think of the bridge?")
    assert not keeps_the_question("who wrote this?", "Who wrote this, published in [insert outlet]?")
    assert not keeps_the_question("what about the ferry?", "What about the bridge?")  # the subject dropped
    # a pronoun resolved with another verb is still the user's question; an answer or a changed figure is not
    assert keeps_the_question(
        "What do the commenters make of that figure?", "What do the commenters think of the $49 figure?"
    )
    assert not keeps_the_question("Is that 3.9% still accurate?", "Is the 4.1% rate still accurate?")
    assert not keeps_the_question(
        "No, I meant the regulator. What did he say?", "Marisol Etxeberria said the city is broke."
    )


@pytest.mark.parametrize(
    ("question", "leans"),
    [
        ("and the commenters?", True),
        ("why did she say that?", True),
        ("What does the author think of the ferry?", False),
        ("How much will the bridge cost in total?", False),
        ("why?", True),
        ("Why does the author think the split will backfire?", False),  # a why-question can stand alone
        ("No, I meant the town official who makes the money argument.", True),  # a correction
    ],
)
def test_a_follow_up_is_known_by_its_own_words(question: str, leans: bool) -> None:
    assert leans_on_history(question) is leans


def test_only_a_question_with_history_is_rewritten() -> None:
    calls: list[str] = []

    def rewrite(question: str, history: object) -> str:
        calls.append(question)
        return "What do the commenters think of the bridge?"

    assert read_question("who wrote this?", None, rewrite).standalone == "who wrote this?" and calls == []
    assert read_question("Who wrote the article?", [("Hi", "Hello.")], rewrite).standalone == "Who wrote the article?"
    assert calls == []  # a question that stands alone is not rewritten, history or not
    q = read_question("and the commenters?", [("What is the bridge plan?", "A span [1].")], rewrite)
    assert q.standalone == "What do the commenters think of the bridge?" and q.rewritten and q.voice == "commenter"
    assert q.search == q.standalone


def test_a_failed_rewrite_leaves_the_users_words_to_the_model_and_widens_only_the_search() -> None:
    history = [("What is NorthLink?", "A cable to Valmark [1].")]
    for reply in ("Who is building it?", "Who is constructing the cable?", "NorthLink is built by Tarsnet."):
        q = read_question("Who is building it?", history, lambda question, h, r=reply: r)
        assert (q.standalone, q.rewritten) == ("Who is building it?", False)
        assert q.search == "What is NorthLink? Who is building it?"


def _signals(**kw: float | bool) -> Signals:
    base = dict(dense=0.6, lexical=9.0, evidence=0.7, support=0.8, kept=1, declined=False)
    return Signals(**(base | kw))  # type: ignore[arg-type]


def test_the_refusal_decision_reads_the_signals() -> None:
    policy = RefusalPolicy(min_evidence=0.3, min_support=0.5)
    assert refuse(_signals(), policy) is None
    assert refuse(_signals(kept=0), policy)
    assert refuse(_signals(declined=True), policy)
    assert refuse(_signals(evidence=0.2), policy) and refuse(_signals(support=0.4), policy)
    assert off_topic(0.1, 1.0, policy) and not off_topic(0.1, 8.0, policy)


def test_the_models_doubt_refuses_only_above_the_fitted_floor() -> None:
    policy = RefusalPolicy(max_doubt=-2.8)
    assert refuse(_signals(doubt=-2.0), policy) and refuse(_signals(doubt=-2.8), policy)
    assert refuse(_signals(doubt=-5.0), policy) is None
    assert refuse(_signals(), policy) is None  # a backend that cannot say: no doubt, no refusal
    assert refuse(_signals(doubt=-1.0), RefusalPolicy()) is None  # switched off
