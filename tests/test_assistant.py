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


def test_retrieve_gives_the_passages_an_answer_is_given(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)
    passages = [r.passage for r in assistant.retrieve(BACKFIRE)]
    assert passages == [r.passage for r in assistant.ask(BACKFIRE).retrieved] and len(passages) == seed_index.top_k
    summary = assistant.retrieve("Summarize the article")  # a selection covering the article, not the top k
    assert len({r.passage.section for r in summary}) >= 4
    assert assistant.retrieve(BACKFIRE, sources=["none.txt"]) == []


def test_stream_yields_text_then_answer(seed_index: Settings) -> None:
    items = list(Assistant(seed_index).stream(BACKFIRE))
    assert all(isinstance(i, str) for i in items[:-1]) and len(items) > 2
    assert isinstance(items[-1], Answer)


def test_model_saying_it_does_not_know_is_a_refusal(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["I don't know."])
    answer = Assistant(seed_index, chat=chat).ask("What did the US and Russia agree on at the Saudi Arabia talks?")
    assert answer.refused and answer.answer == REFUSAL_TEXT and answer.citations == []


def test_second_look_finds_the_answer_the_first_reading_missed(seed_index: Settings) -> None:
    second = "The author believes Trump's plan is likely to backfire [1]."
    answer = Assistant(seed_index, chat=FakeListChatModel(responses=["I don't know.", second])).ask(BACKFIRE)
    assert not answer.refused and answer.citations and "likely to backfire" in answer.answer
    assert all(c.role == "author" for c in answer.citations)
    once = Assistant(seed_index, second_look=False, chat=FakeListChatModel(responses=["I don't know.", second]))
    assert once.ask(BACKFIRE).refused  # without it the first reading stands


def test_second_look_that_also_finds_nothing_is_a_refusal(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["I don't know.", "I don't know."])
    answer = Assistant(seed_index, chat=chat).ask("What did the US and Russia agree on at the Saudi Arabia talks?")
    assert answer.refused and answer.answer == REFUSAL_TEXT


def test_a_percentage_no_passage_holds_is_refused_keeping_what_the_document_says(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["Bilateral trade reached a record high of US$237 billion in 2024 [1]."])
    answer = Assistant(seed_index, chat=chat).ask("By what percentage did China-Russia trade grow in 2024?")
    assert answer.refused and answer.answer.startswith(REFUSAL_TEXT) and "237" in answer.answer
    assert answer.citations and "237" in answer.citations[0].quote  # the context is still cited
    assert f"The author writes: “{answer.citations[0].quote}” [1]" in answer.answer  # in the document's words
    counted = Assistant(seed_index, chat=FakeListChatModel(responses=["Beijing won over 70 countries [1]."]))
    assert not counted.ask("How many countries officially recognize Taiwan as part of China?").refused


def test_does_the_article_say_answered_from_a_comment_says_it_is_not_the_article(seed_index: Settings) -> None:
    draft = "Yes, the article says Annalena Baerbock promised China softer sanctions if China dumped Russia [1]."
    answer = Assistant(seed_index, chat=FakeListChatModel(responses=[draft])).ask(
        "Does the article say Annalena Baerbock offered China a deal to drop Russia?"
    )
    assert answer.answer.startswith("Not in the article: a commenter says")
    assert answer.citations and {c.role for c in answer.citations} == {"commenter"}
    # in a follow-up, the voice is the one the user's own words name, even when the rewrite drops it
    rewrite = "Did Annalena Baerbock offer China a deal to drop Russia?"
    chat = FakeListChatModel(responses=[rewrite, draft])
    history = [("Who offered China a deal to drop Russia?", "A commenter says Annalena Baerbock did [1].")]
    follow_up = Assistant(seed_index, chat=chat).ask("And does the article say so?", history=history)
    assert follow_up.standalone_question == rewrite
    assert follow_up.answer.startswith("Not in the article: a commenter says")


def test_an_answer_about_one_voice_drops_unlabelled_sentences_from_another(seed_index: Settings) -> None:
    draft = (
        "The editor says Putin and Xi are tight friends [1]. "
        "China has become an indispensable partner for Russia, serving as its top trading partner [2]."
    )

    def answer(question: str) -> Answer:
        return Assistant(seed_index, chat=FakeListChatModel(responses=[draft, "YES"])).ask(question)

    about_editor = answer("What does the editor think of Putin and Xi's relationship?")
    assert [c.role for c in about_editor.citations] == ["editor"] and "trading" not in about_editor.answer
    anyone = answer("What do the passages say of Putin and Xi's relationship?")
    assert [c.role for c in anyone.citations] == ["editor", "author"]


def test_who_said_a_quote_is_answered_with_the_sentence_that_holds_it(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=["The author said it [1]."])
    answer = Assistant(seed_index, chat=chat).ask('who said "im going to have to un-unite them"?')
    assert "Trump said" in answer.answer and not answer.refused
    (c,) = answer.citations
    assert "un-unite them" in c.quote and c.role == "author"


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


def test_steering_to_a_named_voice_never_displaces_the_best_match(seed_index: Settings) -> None:
    question = "Does the article say Annalena Baerbock offered China a deal to drop Russia?"
    retriever = Assistant(seed_index).retriever
    unsteered = retriever.search(question, k=6, voices=set())
    steered = retriever.search(question, k=6)
    assert unsteered[0].passage.role == "commenter" and "Baerbock" in unsteered[0].passage.text
    assert steered[0].passage == unsteered[0].passage  # the comment that settles "does the article say…?"
    assert [r.score for r in steered] == sorted((r.score for r in steered), reverse=True)
    assert [r.passage.role for r in steered[1:]].count("author") > [r.passage.role for r in unsteered[1:]].count(
        "author"
    )


def test_the_best_hit_grows_through_the_following_passages_that_rank_near_the_top(seed_index: Settings) -> None:
    retriever = Assistant(seed_index).retriever
    question = "what is the A-Team in wrestling"
    lines = [(r.passage.line_start, r.passage.line_end) for r in retriever.search(question, k=6)]
    assert lines[0] == (44, 55)  # the glossary comment, four passages long, as one passage
    assert not any(44 <= start <= 55 for start, _ in lines[1:])  # ... that no other hit repeats
    assert len(retriever.search(question, k=6)[0].passage.text) <= retriever.grow_chars
    retriever.grow_chars = 0  # only the passage right after the hit, as before
    assert [(r.passage.line_start, r.passage.line_end) for r in retriever.search(question, k=6)][0] == (44, 51)


def test_a_follow_up_is_steered_to_the_voice_the_user_named_not_every_voice_its_rewrite_names(
    seed_index: Settings,
) -> None:
    rewrite = "What do the commenters think about the author's opinion on Trump's plan to split Russia from China?"
    chat = FakeListChatModel(responses=[rewrite, "I don't know.", "I don't know."])
    answer = Assistant(seed_index, chat=chat).ask(
        "And what do the commenters say about that?",
        history=[("What does the author think of Trump's plan?", "He calls it naive [1].")],
    )
    assert answer.standalone_question == rewrite
    roles = [r.passage.role for r in answer.retrieved]
    assert roles[:2] == ["commenter", "commenter"] and roles.count("commenter") >= 4
    both = Assistant(seed_index).retriever.search(rewrite, k=6)  # the rewrite alone boosts the author too
    assert [r.passage.role for r in both].count("author") > roles.count("author")


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


SUPPORT = "Why does the author support Trump's plan to split Russia from China?"
ASSERTED = "The author supports Trump's plan because separating the two powers would be a priority [1]."


def test_a_false_premise_the_model_denies_is_corrected_from_the_passages(seed_index: Settings) -> None:
    correction = "No, the author believes Trump's vision is both naive and shortsighted [1]."
    chat = FakeListChatModel(responses=[ASSERTED, "NO", correction])
    answer = Assistant(seed_index, chat=chat).ask(SUPPORT)
    assert answer.answer.startswith("No,") and not answer.refused
    assert [(c.role, c.line_start) for c in answer.citations] == [("author", 9)]
    unchecked = Assistant(seed_index, premise_check=False, chat=FakeListChatModel(responses=[ASSERTED, "NO"]))
    assert unchecked.ask(SUPPORT).answer.startswith("The author supports")  # the draft stands without it


def test_a_premise_the_model_confirms_keeps_the_first_answer(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=[ASSERTED, "YES", "No, that is wrong [1]."])
    assert Assistant(seed_index, chat=chat).ask(SUPPORT).answer.startswith("The author supports")


def test_a_correction_nothing_supports_falls_back_to_the_first_answer(seed_index: Settings) -> None:
    chat = FakeListChatModel(responses=[ASSERTED, "NO", "No, the moon landing was staged in 1969."])
    answer = Assistant(seed_index, chat=chat).ask(SUPPORT)
    assert answer.answer.startswith("The author supports") and answer.citations


def test_a_denial_cites_the_evidence_that_follows_it(seed_index: Settings) -> None:
    question = "Why does the editor praise Trump's strategy as brilliant?"
    draft = "The editor praises the strategy as brilliant [1]."
    correction = (
        "No, the editor does not praise Trump's strategy as brilliant. The editor writes that the US ploy is so "
        "shallow, a more serious treatment might wind up attributing a level of design to it that simply is not there [1]."
    )
    chat = FakeListChatModel(responses=[draft, "NO", correction, "NO"])  # a last NO would be the answer check's
    answer = Assistant(seed_index, chat=chat).ask(question)
    assert answer.answer.startswith("No, the editor does not praise Trump's strategy as brilliant [1].")
    assert not answer.refused and [(c.n, c.role, c.line_start) for c in answer.citations] == [(1, "editor", 2)]
