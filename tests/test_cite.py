"""Grounding: markers, verified quotes, repaired citations, dropped claims and refusal — with a toy embedder."""

from __future__ import annotations

import math
import re

from assistant.answer import Citation, Retrieved
from assistant.cite import (
    REFUSAL_TEXT,
    Claim,
    Grounded,
    asked_kind,
    attribute,
    claims_of,
    flips,
    gives_kind,
    ground,
    is_refusal,
    locate,
    quoted_source,
    settle_yes_no,
    split_denial,
    verify,
)
from assistant.documents import Document, Paragraph, Passage

LINES = [
    "The editor says the talks ended without a statement.",
    "The author argues the plan will backfire. Russia depends on China for trade worth US$237 billion.",
    "A reader jokes that the plan is a secret.",
]


def _doc() -> Document:
    paragraphs = [Paragraph(t, i + 1, i + 1) for i, t in enumerate(LINES)]
    roles = ["editor", "author", "commenter"]
    passages = [
        Passage("seeds/d.txt", i + 1, i + 1, r, None, t) for i, (t, r) in enumerate(zip(LINES, roles, strict=True))
    ]
    return Document("seeds/d.txt", None, LINES, None, paragraphs, roles, [None] * 3, passages)  # type: ignore[arg-type]


def _embed(texts: list[str]) -> list[list[float]]:
    """Bag-of-words vectors: enough to make lexical support measurable in tests."""
    vocab = sorted({w for t in LINES for w in re.findall(r"[a-z]+", t.lower())})
    out = []
    for t in texts:
        words = re.findall(r"[a-z]+", t.lower())
        v = [float(words.count(w)) for w in vocab] + [0.001]
        n = math.sqrt(sum(x * x for x in v))
        out.append([x / n for x in v])
    return out


def _retrieved(doc: Document) -> list[Retrieved]:
    return [Retrieved(p, 1.0 - i / 10, 0.9) for i, p in enumerate(doc.passages)]


def _ground(draft: str, question: str = "") -> Grounded:
    """`ground` over the toy document, every passage retrieved, at the tests' support threshold."""
    doc = _doc()
    return ground(draft, _retrieved(doc), {doc.source: doc}, _embed, 0.45, question=question)


def _quoted(question: str) -> Grounded | None:
    doc = _doc()
    return quoted_source(question, _retrieved(doc), {doc.source: doc})


def test_claims_take_markers_and_leading_markers_join_previous_sentence() -> None:
    claims = claims_of("The plan will backfire [2]. [3] A reader jokes about it [3, 1].")
    assert [c.markers for c in claims] == [(2, 3), (3, 1)]
    assert claims[0].text == "The plan will backfire."


def test_quote_marks_echoed_from_the_prompt_are_not_part_of_a_claim() -> None:
    claims = claims_of("> The plan will backfire [2].\n> A reader jokes about it [3].")
    assert [c.text for c in claims] == ["The plan will backfire.", "A reader jokes about it."]


def test_correct_marker_gives_verified_quote_and_exact_lines() -> None:
    doc = _doc()
    g = _ground("The author argues the plan will backfire [2].")
    assert not g.refused
    assert g.citations[0].quote == "The author argues the plan will backfire."
    assert (g.citations[0].line_start, g.citations[0].line_end) == (2, 2)
    assert g.citations[0].role == "author"
    assert verify(g.citations[0], doc)
    assert g.text == "The author argues the plan will backfire [1]."


def test_wrong_marker_is_repaired_to_the_supporting_passage() -> None:
    g = _ground("A reader jokes that the plan is a secret [1].")
    assert g.citations[0].line_start == 3 and g.citations[0].role == "commenter"


def test_a_marker_at_a_passage_that_supports_the_sentence_clearly_less_well_moves_to_the_better_one() -> None:
    g = _ground("The author argues the plan will backfire, a reader jokes [3].")  # copied from line 2, cites 3
    assert [c.line_start for c in g.citations] == [2]
    assert g.text.startswith("The author argues")  # not relabelled "A commenter argues"


def test_a_sentence_quoting_the_document_is_cited_to_the_sentence_that_holds_the_quote() -> None:
    g = _ground('A reader jokes that the plan is "a secret" [2].')  # the words are line 3's, the marker says 2
    assert [c.line_start for c in g.citations] == [3] and g.text.startswith("A reader jokes")


def test_a_sentence_misusing_a_quote_is_dropped_unless_the_quote_is_the_questions_own() -> None:
    claim = 'The author argues the "secret" plan will backfire [2].'  # "secret" is the reader's word, not the author's
    assert _ground(claim, "what does the author say about the plan?").refused
    named = _ground(claim, 'what does the author say about the "secret" plan?')  # the user's label for it
    assert [c.line_start for c in named.citations] == [2] and not named.refused


def test_for_a_question_about_one_voice_sentences_citing_another_must_say_whose_they_are() -> None:
    doc = _doc()
    draft = "The editor says the talks ended without a statement [1]. The plan will backfire [2]."

    def grounded(text: str, voice: str | None) -> Grounded:
        return ground(text, _retrieved(doc), {doc.source: doc}, _embed, 0.45, voice=voice)  # type: ignore[arg-type]

    about_editor = grounded(draft, "editor")
    assert [c.role for c in about_editor.citations] == ["editor"] and "backfire" not in about_editor.text
    assert len(grounded(draft, None).citations) == 2  # no voice asked: both stay
    named = grounded(draft.replace("The plan will", "The author argues the plan will"), "editor")
    assert [c.role for c in named.citations] == ["editor", "author"]  # said whose it is: stays
    only_other = grounded("The plan will backfire [2].", "editor")
    assert [c.role for c in only_other.citations] == ["author"]  # the editor cited nowhere: who did say it


def test_only_the_first_cited_sentences_are_kept_when_asked_for_fewer() -> None:
    doc = _doc()
    draft = (
        "No. The editor says the talks ended without a statement [1]. The plan will backfire [2]. A reader jokes [3]."
    )
    g = ground(draft, _retrieved(doc), {doc.source: doc}, _embed, 0.45, max_claims=2)
    assert g.text.startswith("No.") and [c.line_start for c in g.citations] == [1, 2]


def test_a_later_sentence_is_kept_only_when_it_cites_a_passage_near_the_top() -> None:
    doc = _doc()
    draft = "The plan will backfire [2]. A reader jokes that the plan is a secret [3]."
    ranked = _retrieved(doc)  # editor 1st, author 2nd, reader 3rd
    top_two = ground(draft, ranked, {doc.source: doc}, _embed, 0.45, later_within=2)
    assert [c.line_start for c in top_two.citations] == [2]  # the reader's line ranks 3rd: a drift, dropped
    assert [c.line_start for c in ground(draft, ranked, {doc.source: doc}, _embed, 0.45).citations] == [2, 3]
    first = ground(
        "A reader jokes that the plan is a secret [3].", ranked, {doc.source: doc}, _embed, 0.45, later_within=1
    )
    assert [c.line_start for c in first.citations] == [3]  # the first sentence may cite any passage


def test_a_question_in_the_answer_claims_nothing_but_a_question_reported_does() -> None:
    doc = _doc()
    asked = ground(
        "The plan will backfire [2]. Will the plan backfire [2]?", _retrieved(doc), {doc.source: doc}, _embed, 0.45
    )
    assert asked.text == "The plan will backfire [1]." and len(asked.citations) == 1
    reported = ground('A reader jokes, "is the plan a secret?" [3].', _retrieved(doc), {doc.source: doc}, _embed, 0.45)
    assert [c.line_start for c in reported.citations] == [3]


def test_a_claim_that_turns_the_source_into_its_opposite_is_not_supported_by_it() -> None:
    source = "Not only is Russia unlikely to abandon China, but the split is unrealistic."
    assert flips("Russia is likely to abandon China.", source)
    assert flips("The author calls the split realistic.", source)
    assert flips("Russia is unlikely to abandon China.", "Russia is likely to abandon China.")
    assert not flips("Russia is unlikely to abandon China.", source)
    assert not flips("The plan is a unit of policy unless it fails.", "It is less a plan than a hope, till then.")
    assert not flips("The rest of the world was told.", "It caused unrest and untold harm.")
    assert not flips("Russia is unlikely to abandon China.", "The plan is, I believe, likely to backfire.")


def test_a_claim_contradicting_a_sentence_it_draws_on_is_replaced_by_that_sentence_even_if_another_matches_it() -> None:
    text = "The author argues the plan will backfire. The plan is unlikely to work."
    retrieved = [Retrieved(Passage("seeds/x.txt", 1, 1, "author", None, text), 1.0, 0.9)]
    assert not ground("The plan is unlikely to work [1].", retrieved, {}, _embed, 0.45).refused
    quoted = "The author writes: “The plan is unlikely to work.” [1]"  # the document's words instead
    assert ground("The plan is likely to work [1].", retrieved, {}, _embed, 0.45).text == quoted
    mixed = "The author argues the plan will backfire, and the plan is likely to work [1]."  # closest: the first
    assert ground(mixed, retrieved, {}, _embed, 0.45).text == quoted


def test_a_yes_whose_claim_says_the_opposite_of_the_question_becomes_a_no() -> None:
    asked = "Is Russia likely to abandon China?"
    assert settle_yes_no(asked, "Yes, Russia is unlikely to abandon China [1].") == (
        "No, Russia is unlikely to abandon China [1]."
    )
    assert settle_yes_no(asked, "Yes, Russia is likely to abandon China [1].").startswith("Yes")
    assert settle_yes_no("Is Russia unlikely to abandon China?", "No, it is likely to [1].").startswith("No")
    assert settle_yes_no(asked, "Russia is unlikely to abandon China [1].").startswith("Russia")


def test_words_put_in_a_named_persons_mouth_need_a_sentence_from_or_about_that_person() -> None:
    doc = _doc()

    def grounded(draft: str) -> Grounded:
        names = {"editor": {"yves"}}
        return ground(draft, _retrieved(doc), {doc.source: doc}, _embed, 0.45, voice_names=names)  # type: ignore[arg-type]

    assert grounded("Xi Jinping said the talks ended without a statement [1].").refused
    assert grounded("Yes, Xi Jinping said the talks ended without a statement [1].").refused  # after "Yes,"
    assert not grounded("Yves says the talks ended without a statement [1].").refused  # the editor's own name
    text = "Trump spoke at length. He said the plan will backfire."
    retrieved = [Retrieved(Passage("seeds/x.txt", 1, 1, "author", None, text), 1.0, 0.9)]
    assert not ground("Trump said the plan will backfire [1].", retrieved, {}, _embed, 0.45).refused  # "He"


def test_a_claim_negating_what_its_source_says_of_the_same_subject_is_replaced_by_the_source() -> None:
    assert flips("Putin is naive.", "Putin isn’t naive.")
    assert flips("The consensus against Russia is going away.", "The consensus against Russia isn’t going away.")
    assert not flips("Russia might actually want to help.", "You don’t want Russia and China to get together.")
    text = "Putin isn’t naive. He knows the consensus against Russia isn’t going away."
    retrieved = [Retrieved(Passage("seeds/x.txt", 1, 1, "author", None, text), 1.0, 0.9)]
    g = ground("The author thinks Putin is naive [1].", retrieved, {}, _embed, 0.2)  # toy vectors: a low bar
    assert g.text == "The author writes: “Putin isn’t naive.” [1]" and not g.refused


def test_unmarked_supported_sentence_gets_a_citation() -> None:
    g = _ground("The editor says the talks ended without a statement.")
    assert g.text.endswith("[1].") and g.citations[0].role == "editor"


def test_unsupported_sentences_are_dropped_and_figures_not_in_the_document_never_shown() -> None:
    draft = "The author argues the plan will backfire [2]. Trade grew by 25% in 2024 [2]. Bananas are yellow."
    g = _ground(draft)
    assert "25%" not in g.text and "Bananas" not in g.text
    assert len(g.citations) == 1


def test_model_refusal_and_nothing_supported_both_refuse() -> None:
    assert _ground("I don't know.").refused
    g = _ground("Paris is the capital of France.")
    assert g.refused and g.text == REFUSAL_TEXT and g.citations == []


def test_refusal_keeps_supported_context() -> None:
    g = _ground("The document does not say what was agreed. The editor says the talks ended without a statement [1].")
    assert g.refused and g.text.startswith(REFUSAL_TEXT) and g.citations


def test_is_refusal_variants() -> None:
    assert is_refusal("I don't know.") and is_refusal("The passages do not mention a rate.")
    assert not is_refusal("The author knows the answer [1].")


def test_locate_narrowest_lines_and_rejects_missing_quote() -> None:
    doc = _doc()
    wide = Passage("seeds/d.txt", 1, 3, "author", None, "\n".join(LINES))
    assert locate("A reader jokes that the plan is a secret.", wide, doc) == (3, 3)
    assert locate("Not in the document.", wide, doc) is None
    fake = Citation(1, "seeds/d.txt", 1, 1, "editor", None, "A reader jokes")
    assert not verify(fake, doc)


def test_claim_using_a_question_word_no_passage_has_is_suspect() -> None:
    g = _ground(
        "The editor says the talks ended without a statement [1].", question="What did they agree on at the talks?"
    )
    assert not g.suspect
    g = _ground(
        "They agreed that the talks ended without a statement [1].", question="What did they agree on at the talks?"
    )
    assert g.suspect and not g.refused


def test_a_question_quoting_the_document_is_answered_by_the_quoted_sentence() -> None:
    doc = _doc()
    found = _quoted("Who says the plan is “a secret”?")
    assert found is not None and not found.refused
    assert found.text == "A commenter writes: “A reader jokes that the plan is a secret.” [1]"
    c = found.citations[0]
    assert (c.role, c.line_start) == ("commenter", 3) and verify(c, doc)
    assert _quoted('Who said "the plan will fail"?') is None
    assert _quoted("Who says the plan is a secret?") is None


def test_quoted_phrases_match_across_apostrophes_and_case() -> None:
    found = _quoted("who wrote 'THE AUTHOR ARGUES the plan'?")
    assert found is None  # single quotes are too common inside words to delimit a phrase
    found = _quoted('who wrote "the authors argues"?')
    assert found is None
    found = _quoted('who wrote "The Author argues the plan"?')
    assert found is not None and found.citations[0].role == "author"


def test_the_kind_of_value_asked_for() -> None:
    assert asked_kind("By what percentage did trade grow?") == "share"
    assert asked_kind("What tariff rate did he set?") == "share"
    assert asked_kind("In what year did the split happen?") == "year"
    assert asked_kind("How many countries recognise it?") == "count"
    assert asked_kind("Why does the author think so?") is None
    assert asked_kind("When did they meet?") is None  # a date can be "just before the invasion"
    assert gives_kind("share", "It rose 12 % [1].") and gives_kind("share", "about a third of it")
    assert not gives_kind("share", "Trade reached US$237 billion [1].")
    assert gives_kind("year", "in 1969") and not gives_kind("year", "in the Cold War era")
    assert gives_kind("count", "70 countries") and gives_kind("count", "seventy countries")


def test_sentences_about_the_passages_are_not_answers() -> None:
    g = _ground("The passage discusses the plan [2]. The author argues the plan will backfire [2].")
    assert g.text == "The author argues the plan will backfire [1]." and not g.refused
    only = _ground("The passages provided discuss the plan and trade [2].")
    assert only.refused and only.text == REFUSAL_TEXT
    framed = _ground("No, the passage does not provide the plan's date [2]. The author argues the plan will backfire.")
    assert framed.text == "The author argues the plan will backfire [1]."


def test_a_reader_comment_phrase_is_corrected_to_the_cited_voice() -> None:
    assert (
        attribute("The reader comment suggests the plan is naive.", "author")
        == "The author suggests the plan is naive."
    )
    assert attribute("Yes, the article says so.", "commenter") == "Yes, a commenter says so."


def test_a_sentence_saying_the_article_does_not_say_keeps_its_voice() -> None:
    claim = "No, the article does not say Baerbock offered a deal."
    assert attribute(claim, "commenter") == claim  # it cites the comment to show who did say it


def test_markers_woven_into_a_sentence_leave_no_dangling_words() -> None:
    assert [c.text for c in claims_of("The author, in [2], argues the plan will backfire.")] == [
        "The author argues the plan will backfire."
    ]
    assert claims_of("The author, [2], argues it.")[0].text == "The author argues it."
    assert claims_of("It will backfire, as noted in [2].") == [Claim("It will backfire.", (2,))]
    assert (
        claims_of("The editor writes in [1] that the talks ended.")[0].text == "The editor writes that the talks ended."
    )


def test_a_draft_that_only_points_at_passages_is_answered_by_quoting_them() -> None:
    assert claims_of("[2] and [3]") == []
    g = _ground("[2] and [3]", question="Does the author argue the plan will backfire?")
    assert not g.refused and g.citations[0].line_start == 2 and "backfire" in g.text


def test_the_same_point_from_the_same_line_is_said_once() -> None:
    g = _ground(
        "The author argues the plan will backfire [2]. The reader also argues the plan will backfire [2]. "
        "A reader jokes that the plan is a secret [3]."
    )
    assert g.text.count("backfire") == 1 and len(g.citations) == 2


def test_an_inflected_question_word_found_in_the_passages_is_not_suspect() -> None:
    draft = "The editor says the talks are ending without a statement [1]."
    assert not _ground(draft, question="Why are the talks ending?").suspect  # "ended" is in the passage
    assert _ground(draft.replace("ending", "pausing"), question="Why are the talks pausing?").suspect


def test_words_a_follow_up_rewrite_adds_do_not_make_a_claim_suspect() -> None:
    doc = _doc()
    draft = "The total trade with China was worth US$237 billion [2]."
    standalone = "What was the total trade between Russia and China?"

    def suspect(asked: str) -> bool:
        return ground(draft, _retrieved(doc), {doc.source: doc}, _embed, 0.45, question=standalone, asked=asked).suspect

    assert suspect(standalone)  # "total" is in no passage
    assert not suspect("And how much trade was there?")  # the user never said "total"
    assert suspect("Did they agree on trade?")  # the user's own "agree" is in no passage: check the answer


def test_a_leading_denial_is_split_from_its_evidence() -> None:
    assert split_denial("No, the author does not argue that. He says it will backfire [2].") == (
        "No, the author does not argue that.",
        "He says it will backfire [2].",
    )
    assert split_denial("No, the passage says it will backfire [2]. More [2].") is None  # evidence, not a denial
    assert split_denial("No, he didn't [1].") is None  # nothing after it to cite
    assert split_denial("The author does not argue that. He says so [2].") is None
