"""The chat window's plain functions, without a server: formatting, streaming, feedback, settings, launch."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant import Answer, Assistant, Citation, ConfigError, Passage, Retrieved, Settings
from assistant.answer import Removed
from assistant.answering.evidence import Evidence, Found
from assistant.answering.grounding import REFUSAL_TEXT
from assistant.documents import Document, load_document
from assistant.ui import app as ui
from assistant.ui import conversation, render, server

SOURCE = "seeds/000_b8aa54d3edd41c2c.txt"
QUOTE = (
    "While Russia may itself harbor concerns about China’s growing power, the two country’s shared "
    "strategic goal of challenging the Western-led international order — and Russia’s deep economic "
    "dependence on China — make any U.S. attempt to pull Moscow away from Beijing unrealistic."
)


@pytest.fixture
def doc(seeds: Path) -> Document:
    return load_document(seeds / Path(SOURCE).name, seeds)


def _passage(start: int, end: int, role: str = "author", text: str = "text") -> Passage:
    return Passage(SOURCE, start, end, role, "China’s Turn to Exploit a Split?", text)  # type: ignore[arg-type]


def _answer(**kw: Any) -> Answer:
    base: dict[str, Any] = dict(
        question="Why does the author think the split will backfire?",
        answer="Russia depends on China [1].",
        refused=False,
        citations=[Citation(1, SOURCE, 35, 35, "author", "China’s Turn to Exploit a Split?", QUOTE)],
        retrieved=[
            Retrieved(_passage(33, 35), 0.05, 0.6),
            Retrieved(_passage(38, 38, "commenter"), 0.04, 0.5),
        ],
        timings={"retrieve_s": 0.1, "first_token_s": 0.2, "total_s": 1.5},
    )
    return Answer(**{**base, **kw})


def test_answer_links_markers_and_shows_a_card_per_citation(doc: Document) -> None:
    html = render.format_answer(_answer(), {SOURCE: doc}, turn=3)
    assert 'href="#cite-3-1"' in html and ">[1]</a>" in html
    cards = re.findall(r'<a class="src-card role-author" href="#cite-3-1"', html)
    assert len(cards) == 1
    assert "article author" in html and "China’s Turn to Exploit a Split?" in html and "line 35<" in html
    assert f"<mark>{QUOTE}</mark>" in html
    assert "details" not in html  # no rewritten question, passages hidden by default


def test_quote_is_marked_inside_its_paragraph_trimmed_around_it() -> None:
    paragraph = "A " * 100 + "the quoted words." + " B" * 100
    html = render.highlight(paragraph, "the quoted words.")
    before, rest = html.split("<mark>")
    assert before.startswith("…") and rest.endswith("…") and len(before) < 100
    assert render.highlight("short text here", "missing") == "<mark>missing</mark>"


def test_card_shows_the_paragraph_around_the_quote(doc: Document) -> None:
    short = "Rather than increasing the chances of a Sino-Russia split"
    answer = _answer(citations=[Citation(1, SOURCE, 37, 37, "author", None, short)])
    html = render.format_sources(answer, {SOURCE: doc})
    assert f"<mark>{short}</mark>, such a shift could instead divide" in html


def test_markers_without_a_citation_stay_plain_text() -> None:
    html = render.link_markers("One [1]. Two [2, 3].", turn=0, known=[1, 3])
    assert html.count("<a ") == 2 and "[2]" in html and 'href="#cite-0-3"' in html


def test_everything_from_the_model_or_document_is_escaped() -> None:
    evil = "<script>alert(1)</script>"
    answer = _answer(
        answer=f"{evil} [1]",
        citations=[Citation(1, SOURCE, 1, 1, "editor", evil, evil)],
        standalone_question=evil,
    )
    html = render.format_answer(answer, None, show_passages=True)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_refusal_has_its_own_style_and_no_cards() -> None:
    html = render.format_answer(_answer(answer=REFUSAL_TEXT, refused=True, citations=[]))
    assert 'class="note refusal"' in html and REFUSAL_TEXT in html and "src-card" not in html
    assert "Try other words" in html


def test_refusal_with_context_keeps_what_the_document_does_say() -> None:
    answer = _answer(
        answer=f"{REFUSAL_TEXT} What it does say: The editor says there is no statement [1].", refused=True
    )
    html = render.format_answer(answer)
    assert "What it does say: The editor says there is no statement" in html and "src-card" in html
    assert html.count("What it does say") == 1


def test_backend_failure_shows_the_error_and_what_was_found() -> None:
    html = render.format_answer(_answer(answer="The language model failed: down", error="down", citations=[]))
    assert 'class="note error"' in html and "passages retrieved" in html


def test_rewritten_follow_up_is_collapsed() -> None:
    html = render.format_answer(_answer(standalone_question="What do the commenters think of the split?"))
    assert '<details class="standalone"><summary>Searched for</summary>' in html
    assert "<details open" not in html


def test_a_question_searched_as_asked_shows_no_rewrite() -> None:
    same = _answer(standalone_question="why does the AUTHOR think  the split will backfire")
    assert not render.was_rewritten(same) and "standalone" not in render.format_answer(same)
    assert render.was_rewritten(_answer(standalone_question="Why does the editor think so?"))


def test_sentences_grounding_removed_stay_visible_struck_through_with_the_reason() -> None:
    removed = [
        Removed("Bananas are yellow.", "no sentence of the document supports it"),
        Removed("The author says <b>X</b>.", "the speaker was corrected", "A commenter says X."),
    ]
    html = render.format_answer(_answer(removed=removed))
    assert "2 sentences of the draft changed after checking against the document" in html
    assert '<del>Bananas are yellow.</del> <span class="why">— removed: no sentence of the document supports it' in html
    assert (
        "<del>The author says &lt;b&gt;X&lt;/b&gt;.</del>" in html and "— rewritten: the speaker was corrected" in html
    )
    assert html.index("Russia depends on China") < html.index('class="removed"') < html.index("src-cards")
    assert "removed" not in render.format_answer(_answer())


def _found() -> Found:
    passage = _passage(38, 39, "commenter")
    return Found(
        (
            Evidence(1, "**Shhhh** the plan is a SECRET!", passage, 39, 39, "reader comment by Yankee", None, 0.7),
            Evidence(2, "Trump told Fox News: “…”", _passage(7, 7), 7, 7, "article author", "Trump", 0.6),
        )
    )


def test_the_evidence_is_shown_numbered_with_speaker_and_line_while_waiting_and_drafting() -> None:
    waiting = render.format_draft("", 3, evidence=_found().evidence)
    assert "Waiting for the model's first words… 3 s" in waiting
    assert "Found in the document: 2 sentences the answer may use" in waiting
    assert '<li value="1"><span class="ev-who">reader comment by Yankee · line 39</span> Shhhh the plan' in waiting
    assert "article author, reporting what Trump said · line 7" in waiting
    drafting = render.format_draft("The plan [1] ", 5, evidence=_found().evidence)
    assert drafting.startswith("The plan [1] ▌") and drafting.index("▌") < drafting.index('class="evidence"')
    assert render.format_draft("", 5, ahead=2).count("In line for the model: 2 questions ahead of yours") == 1


def test_cards_name_the_speaker_and_show_quotes_without_markdown_marks(doc: Document) -> None:
    cited = [
        Citation(1, SOURCE, 39, 39, "commenter", None, "**Shhhh**…the plan", speaker="Yankee"),
        Citation(2, SOURCE, 7, 7, "author", None, "Trump told Fox News", quoting="Trump"),
    ]
    html = render.format_sources(_answer(citations=cited), {SOURCE: doc})
    assert '<span class="badge role-commenter">reader comment</span><span class="src-who">Yankee</span>' in html
    assert '<span class="src-who">reporting Trump</span>' in html
    assert "**" not in html and "<mark>Shhhh…the plan</mark>" in html


def test_errors_in_the_window_say_what_to_do_in_words() -> None:
    cli = "The backend (openai) failed: refused. Check ASSISTANT_LLM / ASSISTANT_OPENAI_BASE_URL. Passages are below."
    said = render.in_words(cli)
    assert "ASSISTANT_" not in said and said.startswith("The backend (openai) failed: refused. Passages are below.")
    assert "⚙ Settings" in said
    assert render.in_words("Too long; the limit is 9 (ASSISTANT_MAX_QUESTION_CHARS). Ask less.") == (
        "Too long; the limit is 9. Ask less."
    )
    assert render.in_words("Enter a URL.") == "Enter a URL."
    html = render.format_answer(_answer(answer=cli, error=cli, citations=[]))
    assert "ASSISTANT_" not in html and "ASSISTANT_LLM" in ui.SERVER_HELP


def test_retrieved_passages_on_request_link_into_the_document() -> None:
    html = render.format_answer(_answer(), show_passages=True, turn=2)
    assert "2 passages retrieved · answered in 1.5 s" in html
    assert 'href="#passage-2-1"' in html and 'href="#passage-2-2"' in html and "reader comment" in html


def test_document_panel_highlights_the_cited_lines_and_marks_the_quote(doc: Document) -> None:
    html = render.format_document(doc, 35, 35, QUOTE)
    hits = re.findall(r'<div class="ln r-author hl"><span class="no">(\d+)</span>', html)
    assert hits == ["35"]
    assert f"<mark>{QUOTE}</mark>" in html and doc.title and doc.title in html
    assert f'<div class="doc-title" title="{SOURCE}">{doc.title}</div>' in html and f">{SOURCE}" not in html
    assert 'class="ln r-editor"><span class="no">1<' in html  # every line shows whose words it is
    assert 'class="ln r-commenter"' in html and "line 35" in html


def test_a_quote_over_several_lines_is_marked_on_each() -> None:
    lines = ["First line ends here and", "the quote goes on", "to this line. Then more."]
    marked = render.marked_lines(lines, "ends here and\nthe quote goes on\nto this line.")
    assert marked == [
        "First line <mark>ends here and</mark>",
        "<mark>the quote goes on</mark>",
        "<mark>to this line.</mark> Then more.",
    ]
    assert render.marked_lines(["a < b"], None) == ["a &lt; b"] and render.marked_lines(["x"], "gone") == ["x"]


def test_document_panel_shows_a_window_of_a_long_document(tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text("\n\n".join(f"Paragraph number {i} of a long text." for i in range(400)))
    long = load_document(tmp_path / "long.txt", tmp_path)
    html = render.format_document(long, 500, 500)
    numbers = [int(n) for n in re.findall(r'<span class="no">(\d+)</span>', html)]
    assert min(numbers) == 500 - render.WINDOW_LINES and max(numbers) == 500 + render.WINDOW_LINES
    assert "showing lines 440–560 of 799" in html


class _Scripted:
    """A stand-in for `Assistant`: streams the given tokens (with a pause), then the answer."""

    def __init__(self, tokens: list[str], answer: Answer | Exception, pause: float = 0.0):
        self.tokens, self.answer, self.pause = tokens, answer, pause
        self.documents: dict[str, Document] = {}
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []
        self.sources: list[Any] = []
        self.closed = False

    def stream(self, question: str, history: Any = None, sources: Any = None) -> Iterator[str | Answer]:
        self.calls.append((question, list(history or [])))
        self.sources.append(sources)
        try:
            for token in self.tokens:
                time.sleep(self.pause)
                yield token
            if isinstance(self.answer, Exception):
                raise self.answer
            yield self.answer
        finally:
            self.closed = True


def test_stream_reply_shows_the_evidence_then_the_draft_then_the_grounded_answer() -> None:
    fake = _Scripted([_found(), "Russia ", "depends ", "[1]."], _answer())  # type: ignore[list-item]
    steps = list(conversation.stream_reply(fake, "q", [("earlier", "reply")], turn=1))  # type: ignore[arg-type]
    texts = [text for text, _ in steps]
    assert "Found in the document: 2 sentences" in texts[0] and "▌" not in texts[0]  # evidence before any token
    assert any("Russia depends ▌" in t and "reader comment by Yankee" in t for t in texts)
    assert "checked against the sentences below" in texts[1]
    final, answer = steps[-1]
    assert answer is not None and 'href="#cite-1-1"' in final and "▌" not in final
    assert fake.calls == [("q", [("earlier", "reply")])]


def test_a_waiting_question_is_told_how_many_are_ahead_of_it() -> None:
    line = conversation.Line()
    first = line.join()
    fake = _Scripted([_found(), "x"], _answer(), pause=0.3)  # type: ignore[list-item]
    steps = conversation.stream_reply(fake, "q", [], tick=0.05, line=line)  # type: ignore[arg-type]
    seen = [text for text, _ in steps]
    assert any("In line for the model: 1 question ahead of yours" in t for t in seen)
    line.leave(first)
    assert line.ahead(first + 1) == 0 and line.ahead(line.join()) == 0  # every ticket was given back


def test_stream_reply_limits_the_search_to_the_chosen_documents() -> None:
    fake = _Scripted(["x"], _answer())
    list(conversation.stream_reply(fake, "q", [], sources=["seeds/handbook.md"]))  # type: ignore[arg-type]
    list(conversation.stream_reply(fake, "q", []))  # type: ignore[arg-type]
    assert fake.sources == [["seeds/handbook.md"], None]


def test_cards_name_the_document_and_the_page_when_there_are_several(seeds: Path, doc: Document) -> None:
    from test_loaders import LIGHTHOUSE_PDF, make_pdf

    (seeds / "light.pdf").write_bytes(make_pdf(LIGHTHOUSE_PDF))
    pdf = load_document(seeds / "light.pdf", seeds)
    fog = pdf.passages[1]
    quote = pdf.lines[fog.line_start - 1]
    cited = Citation(1, pdf.source, fog.line_start, fog.line_start, "author", fog.section, quote, pdf.title, 2)
    answer = _answer(citations=[cited], retrieved=[Retrieved(fog, 0.05, 0.6)])
    both = {pdf.source: pdf, doc.source: doc}
    html = render.format_answer(answer, both, show_passages=True)
    assert "page 2, line 1<" in html and "page 2, lines 1–4 · score" in html  # lines counted within the page
    name = pdf.title or "light.pdf"
    assert html.count(f'<span class="src-doc" title="{pdf.source}">{name}</span>') == 2
    alone = render.format_answer(answer, {pdf.source: pdf})
    assert "src-doc" not in alone and "page 2, line 1<" in alone  # one document: no name to tell apart
    panel = render.format_document(pdf, fog.line_start, fog.line_end, quote)
    assert "page 2, lines 1–4" in panel


def test_stream_reply_sends_a_heartbeat_while_waiting() -> None:
    fake = _Scripted(["slow"], _answer(), pause=0.25)
    notes = ["Getting ready: loading"]  # once, then ready
    steps = list(conversation.stream_reply(fake, "q", [], waiting=lambda: notes.pop() if notes else None, tick=0.05))  # type: ignore[arg-type]
    assert "Getting ready: loading" in steps[0][0] and 'class="spinner"' in steps[0][0]
    assert any("Searching the document…" in text for text, _ in steps)


def test_stream_reply_starts_as_soon_as_start_up_is_done_not_at_the_next_heartbeat() -> None:
    # Why: a question typed while the page loads is answered the moment the models are ready (the cold start).
    fake = _Scripted(["done"], _answer())
    ready_at = time.monotonic() + 0.1
    started = time.monotonic()
    replies = conversation.stream_reply(
        fake,  # type: ignore[arg-type]
        "q",
        [],
        waiting=lambda: None if time.monotonic() >= ready_at else "Getting ready",
        tick=5.0,
    )
    assert "Getting ready" in next(replies)[0]
    next(replies)
    assert time.monotonic() - started < 1.0


def test_stream_reply_turns_errors_into_a_message() -> None:
    fake = _Scripted([], ConfigError("No server answered. Set ASSISTANT_OPENAI_BASE_URL."))
    (text, answer), *_ = list(conversation.stream_reply(fake, "q", []))  # type: ignore[arg-type]
    assert answer is None and 'class="note error"' in text and "No server answered." in text
    assert "ASSISTANT_" not in text  # the variable is named in the settings panel, not in the chat


def test_stop_closes_the_assistant_stream() -> None:
    fake = _Scripted(["a "] * 50, _answer(), pause=0.01)
    stop = {"now": False}
    for i, _ in enumerate(conversation.stream_reply(fake, "q", [], should_stop=lambda: stop["now"], tick=0.01)):  # type: ignore[arg-type]
        if i == 3:
            stop["now"] = True
    deadline = time.time() + 2
    while not fake.closed and time.time() < deadline:
        time.sleep(0.01)
    assert fake.closed


def test_closing_the_reply_stops_the_assistant_stream() -> None:
    fake = _Scripted(["a "] * 50, _answer(), pause=0.01)
    replies = conversation.stream_reply(fake, "q", [], tick=0.01)  # type: ignore[arg-type]
    next(replies)
    replies.close()  # what happens when the tab goes away
    deadline = time.time() + 2
    while not fake.closed and time.time() < deadline:
        time.sleep(0.01)
    assert fake.closed


def test_conversation_turns_map_to_two_messages_each_and_history_skips_failures() -> None:
    turns = [
        conversation.Turn("one", "r1", _answer(answer="first [1]."), started=True, done=True),
        conversation.Turn("two", "r2", _answer(answer="failed", error="boom"), started=True, done=True),
        conversation.Turn("three", "r3"),
    ]
    messages = conversation.chat_messages(turns)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3 and messages[5]["content"] == "r3"
    assert conversation.history_of(turns) == [("one", "first [1].")]
    conversation.rerender(turns, {}, show_passages=True)
    assert "passages retrieved" in turns[0].reply and turns[2].reply == "r3"


def test_feedback_is_appended_as_jsonl_with_question_answer_and_citations(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "feedback.jsonl"
    conversation.save_feedback(path, _answer(), "up", backend="fake", top_k=6)
    conversation.save_feedback(path, _answer(answer=REFUSAL_TEXT, refused=True, citations=[]), "down")
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first["rating"] == "up" and first["question"].startswith("Why does the author")
    assert first["answer"] == "Russia depends on China [1]." and first["citations"][0]["line_start"] == 35
    assert first["backend"] == "fake" and first["top_k"] == 6 and "time" in first
    assert second["rating"] == "down" and second["refused"] is True
    assert [conversation.rating_of(v) for v in (True, False, "")] == ["up", "down", None]


def test_settings_per_session_share_the_server_default_and_validate(settings: Settings) -> None:
    base = Assistant(settings)
    pool = server.AssistantPool(base)
    assert pool.get("fake", "", settings.top_k) is base
    two = pool.get("fake", "", 2)
    assert two is not base and two.settings.top_k == 2 and two.settings.index_dir == settings.index_dir
    assert pool.get("fake", None, 2.0) is two
    with pytest.raises(ConfigError, match="URL"):
        pool.get("openai", "  ", 6)
    remote = pool.get("openai", "http://127.0.0.1:9/v1", 6)
    assert remote.settings.llm == "openai" and remote.settings.openai_base_url == "http://127.0.0.1:9/v1"
    assert base.settings.llm == "fake" and base.settings.top_k == settings.top_k  # the server's own is untouched


def test_auth_must_be_user_colon_password() -> None:
    assert server.parse_auth(None) is None and server.parse_auth("ann:s3:cret") == ("ann", "s3:cret")
    for bad in ("nocolon", ":pw", "user:"):
        with pytest.raises(ConfigError, match="user:password"):
            server.parse_auth(bad)


def test_build_makes_a_blocks_app_with_analytics_off(settings: Settings) -> None:
    import gradio as gr

    app = ui.build(Assistant(settings))
    assert isinstance(app, gr.Blocks) and app.analytics_enabled is False
    import os

    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_launch_binds_localhost_without_share_link(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr

    seen: dict[str, Any] = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: seen.update(kw))
    monkeypatch.setattr(server.Warmup, "start", lambda self: self)
    ui.launch(Assistant(settings.model_copy(update={"auth": "ann:pw"})))
    assert seen["server_name"] == "127.0.0.1" and seen["server_port"] == 7860
    assert seen["share"] is False and seen["auth"] == ("ann", "pw")
    assert seen["css"] == ui.CSS and seen["js"] == ui.JS and seen["run_history"] is False


def test_stopped_reply_keeps_the_draft_marked_as_unchecked() -> None:
    note = "Stopped. This draft was not checked against the document."
    assert (
        render.stopped_reply(render.format_draft("China views ", 3))
        == f'China views\n\n<div class="note stopped">{note}</div>'
    )
    assert render.stopped_reply(render.format_draft("", 1)) == '<div class="note stopped">Stopped.</div>'
    for reply in (render.format_draft("China views ", 3), render.format_draft("", 1)):  # Stop, then Clear
        once = render.stopped_reply(reply)
        assert render.stopped_reply(once) == once


def test_start_up_failure_is_shown_on_the_page(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    warm = server.Warmup(Assistant(Settings(seeds_dir=tmp_path / "empty", index_dir=tmp_path / "index", llm="fake")))
    warm.start()._thread.join(30)  # type: ignore[union-attr]
    assert warm.waiting() is None and 'class="status error"' in warm.note() and "No readable documents" in warm.note()


def test_serve_starts_loading_the_models_before_it_launches_the_page(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Why: `assistant serve` loads MiniLM in a child process and the local model on a thread while Gradio is
    # imported and the page is built; the default assistant is made after the child has started.
    import assistant.index
    import assistant.ui

    events: list[Any] = []
    monkeypatch.setattr(assistant.index, "start_embedding_process", lambda: events.append(("embedding", None)))
    monkeypatch.setattr(server.Warmup, "load_model", lambda self: events.append(("load_model", self)) or self)
    monkeypatch.setattr(ui, "launch", lambda assistant, warmup: events.append(("launch", warmup)))
    assistant.ui.serve(Assistant(settings))
    [(first, _), (second, started), (then, launched)] = events
    assert (first, second, then) == ("embedding", "load_model", "launch") and launched is started

    events.clear()
    assistant.ui.serve(seeds_dir=settings.seeds_dir, index_dir=settings.index_dir, top_k=3, port=None)
    [(first, _), (second, started), _] = events
    assert (first, second) == ("embedding", "load_model") and started.assistant.settings.top_k == 3


def test_the_sentence_warm_up_waits_while_a_question_is_answered(settings: Settings) -> None:
    warm = server.Warmup(Assistant(settings))
    with warm.question():
        waiting = threading.Thread(target=warm._idle)
        waiting.start()
        waiting.join(0.3)
        assert waiting.is_alive()  # the question is still being answered
    waiting.join(2)
    assert not waiting.is_alive()


@pytest.mark.slow
def test_a_local_model_that_cannot_load_is_reported_at_its_step(seed_index: Settings, tmp_path: Path) -> None:
    # The model loads on a thread of its own from the start; its failure still ends the start-up with the error.
    missing = tmp_path / "missing.gguf"
    warm = server.Warmup(Assistant(seed_index, llm="local", model_path=missing)).start()
    warm._thread.join(120)  # type: ignore[union-attr]
    assert warm.done and warm.error is not None and "missing.gguf does not exist" in warm.error
    assert 'class="status error"' in warm.note()


@pytest.mark.slow
def test_start_up_reports_progress_then_what_is_ready(settings: Settings) -> None:
    warm = server.Warmup(Assistant(settings))
    assert "Getting ready" in warm.note() and warm.waiting() is not None  # waiting() starts it
    warm._thread.join(120)  # type: ignore[union-attr]
    assert warm.done and warm.error is None
    assert re.search(r"Ready · 1 document · \d+ passages · answers by: Extractive demo", warm.note())
    assert warm.note("openai").endswith("answers by: OpenAI-compatible server</div>")  # this tab's choice
