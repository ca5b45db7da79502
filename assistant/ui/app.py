"""The Gradio chat window: a thin shell over `Assistant.stream`.

Everything that decides what the page shows is a plain function tested without a server: the markup in
`assistant.ui.render` (`format_answer`, `format_document`, ...) and the conversation in `assistant.ui.conversation`
(`stream_reply`, `save_feedback`, ...). This module only wires them to Gradio components, and the browser test
covers the wiring. Citations in a message are links (`#cite-<turn>-<n>`); one delegated click handler (`JS`, in
`static/ui.js`) forwards them to the server, which renders the cited lines in the document panel.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import gradio as gr

from ..core import Assistant
from ..documents import Document
from ..errors import AssistantError
from .conversation import (
    LOCAL_MODEL_LINE,
    Turn,
    chat_messages,
    history_of,
    rating_of,
    rerender,
    save_feedback,
    stream_reply,
)
from .render import DOC_PLACEHOLDER, _badge, _esc, format_document, format_draft, in_words, stopped_reply
from .server import BACKENDS, AssistantPool, Warmup, parse_auth

# Each one gets a cited answer from the default local model (tests/test_browser.py asks them all): one per voice
# and a figure. "What do the commenters think of Trump's plan?" was dropped: the model read a sarcastic comment
# literally; a question the document does not answer is no example (a chip must show what works).
EXAMPLES = [
    "Why does the author think the split will backfire?",
    "How does China view Trump's peace talks with Russia?",
    "What does a reader say about where Russia sits on the map?",
    "How much trade did China and Russia do in 2024?",
]
SEND, STOP = "Send", "Stop"  # the buttons' visible text is their accessible name
SERVER_HELP = (
    "**Server settings** (for whoever runs it; set before `assistant serve`): `ASSISTANT_LLM` (local, openai), "
    "`ASSISTANT_OPENAI_BASE_URL`, `ASSISTANT_MODEL_PATH`, `ASSISTANT_N_CTX`, `ASSISTANT_TOP_K`, "
    "`ASSISTANT_EVIDENCE_SENTENCES`, `ASSISTANT_MAX_QUESTION_CHARS`; the README's Settings section lists them all."
)
_REQUEST = re.compile(r"^(cite|passage)-(\d+)-(\d+)")


# -- the page ---------------------------------------------------------------------------------------------
# Styles and scripts live in static/ (package data), read once at import.
_STATIC = resources.files(__package__ or "assistant.ui") / "static"
CSS = (_STATIC / "ui.css").read_text(encoding="utf-8")

# One delegated handler: a click on a citation link or source card sends "cite-<turn>-<n>" (or
# "passage-<turn>-<i>") through a hidden textbox; the server answers with the document panel's HTML.
# The question box gets the focus on wide screens only: on a phone that would scroll the intro away.
JS = (_STATIC / "ui.js").read_text(encoding="utf-8")

# After the panel renders: bring it into view (below the chat on narrow screens) and scroll to the highlight.
SCROLL_JS = (_STATIC / "scroll.js").read_text(encoding="utf-8")


def _theme() -> Any:
    # System fonts: the page makes no requests beyond this server.
    return gr.themes.Soft(
        primary_hue="blue",
        font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


def build(assistant: Assistant, warmup: Warmup | None = None) -> Any:
    """The Gradio app (not launched). Pass `CSS`, `JS` and `_theme()` to `launch()`, as `launch` does."""
    # Forced, not defaulted: Gradio reads it when the app is made and launched. No analytics leave here.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    warm = warmup or Warmup(assistant)
    pool = AssistantPool(assistant)
    settings = assistant.settings
    backends = [(label, key) for key, label in BACKENDS.items() if key != "fake" or settings.llm == "fake"]

    def documents() -> dict[str, Document]:
        return assistant.documents if warm.done and not warm.error else {}

    def document_choices() -> Any:
        """The document filter: offered once the index holds more than one document, titles as labels."""
        docs = documents()
        choices = sorted(((d.title or source, source) for source, d in docs.items()), key=lambda c: c[0].lower())
        return gr.Dropdown(choices=choices, visible=len(choices) > 1)

    def add_turn(question: str, turns: list[Turn]) -> tuple[Any, list[dict[str, str]], list[Turn]]:
        question = (question or "").strip()
        if turns and not turns[-1].done:
            gr.Warning("Still answering the last question: wait for it, or press Stop.")
            return gr.Textbox(), chat_messages(turns), turns
        if not question:  # an empty Enter changes nothing on the page
            return gr.skip(), gr.skip(), gr.skip()
        turns = [*turns, Turn(question, reply=format_draft("", 0))]
        return gr.Textbox(value="", submit_btn=False, stop_btn=STOP), chat_messages(turns), turns

    def add_example(turns: list[Turn], evt: gr.SelectData) -> tuple[Any, list[dict[str, str]], list[Turn]]:
        value = evt.value.get("text") if isinstance(evt.value, dict) else evt.value
        return add_turn(str(value or ""), turns)

    def answer_turn(
        turns: list[Turn], backend: str, url: str, top_k: float, show_passages: bool, only: list[str] | None
    ) -> Iterator[tuple[Any, Any]]:
        if not turns or turns[-1].started or turns[-1].done:
            # Nothing new to answer (an empty Enter, a turn already being answered or stopped before it began):
            # the conversation stays as it is. The answer events run in "multiple" mode, so this is the guard.
            yield gr.skip(), gr.skip()
            return
        turn, index = turns[-1], len(turns) - 1
        turn.started = True
        try:
            chosen = pool.get(backend, url, top_k)
            with warm.question():  # the sentence warm-up waits while a question is answered
                for reply, answer in stream_reply(
                    chosen,
                    turn.question,
                    history_of(turns[:-1]),
                    index,
                    show_passages,
                    waiting=warm.waiting,
                    should_stop=lambda: turn.stopped,
                    sources=list(only or []) or None,
                    line=LOCAL_MODEL_LINE if chosen.settings.llm == "local" else None,
                ):
                    if turn.stopped:  # Stop already wrote this turn's last word
                        break
                    turn.reply, turn.answer = reply, answer or turn.answer
                    yield chat_messages(turns), turns
        except AssistantError as exc:
            turn.reply = f'<div class="note error">⚠️ {_esc(in_words(str(exc)))}</div>'
            yield chat_messages(turns), turns
        finally:
            turn.done = True
        if turn.stopped:
            # This event writes the stopped reply itself, after its last draft: one writer per turn, so no draft
            # message still on its way to the page can arrive after "Stopped." (the CI failure of a21816d).
            turn.reply = stopped_reply(turn.reply)
            if not turn.cleared:
                yield chat_messages(turns), turns

    def stop(turns: list[Turn]) -> tuple[Any, Any, Any]:
        if not turns or turns[-1].done:
            return idle_box(), gr.skip(), gr.skip()
        turn = turns[-1]
        turn.stopped = turn.done = True
        if turn.started:  # its answer event ends at its next heartbeat and writes "Stopped." itself
            return idle_box(), gr.skip(), gr.skip()
        turn.reply = stopped_reply(turn.reply)  # stopped before its answer began: no event will write it
        return idle_box(), chat_messages(turns), turns

    def idle_box() -> Any:
        return gr.Textbox(submit_btn=SEND, stop_btn=False)

    def settle(turns: list[Turn]) -> Any:
        # After an answer event: Send comes back unless the tab's last question is still being answered (a
        # question asked right after Stop, whose answer started before the stopped one's event ended).
        return idle_box() if not turns or turns[-1].done else gr.skip()

    def show_source(request: str, turns: list[Turn]) -> str:
        match = _REQUEST.match(request or "")
        if not match:
            return DOC_PLACEHOLDER
        kind, t, n = match.group(1), int(match.group(2)), int(match.group(3))
        answer = turns[t].answer if 0 <= t < len(turns) else None
        if answer is None:
            return DOC_PLACEHOLDER
        if kind == "cite":
            c = next((c for c in answer.citations if c.n == n), None)
            if c is None:
                return DOC_PLACEHOLDER
            source, start, end, quote, role = c.source, c.line_start, c.line_end, c.quote, c.role
            section = c.section
        else:
            if not 1 <= n <= len(answer.retrieved):
                return DOC_PLACEHOLDER
            p = answer.retrieved[n - 1].passage
            source, start, end, quote, role, section = (
                p.source,
                p.line_start,
                p.line_end,
                None,
                p.role,
                p.section,
            )
        document = documents().get(source)
        if document is None:
            return f'<div class="note error">⚠️ {_esc(source)} is no longer in the index.</div>'
        label = f"[{n}] " if kind == "cite" else ""
        heading = f"<b>{label}</b>{_badge(role)}" + (
            f'<span class="src-section">{_esc(section)}</span>' if section else ""
        )
        return format_document(document, start, end, quote, heading)

    def feedback(turns: list[Turn], backend: str, top_k: float, data: gr.LikeData, request: gr.Request) -> None:
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        t = int(index) // 2
        answer = turns[t].answer if 0 <= t < len(turns) else None
        if answer is None:
            return  # still being written, or failed before an answer existed
        rating = rating_of(data.liked)
        save_feedback(
            settings.feedback_file,
            answer,
            rating,
            backend=backend,
            top_k=int(top_k),
            turn=t,
            session=getattr(request, "session_hash", None),
        )
        if rating:
            gr.Info("Thanks! Your feedback is saved.", duration=2)

    def toggle_passages(turns: list[Turn], show_passages: bool) -> tuple[list[dict[str, str]], list[Turn]]:
        rerender(turns, documents(), show_passages)
        return chat_messages(turns), turns

    def clear(turns: list[Turn]) -> tuple[list[Turn], str, Any, list[Turn], Any]:
        for t in turns:
            if not t.done:  # an answer still streaming must not bring the old conversation back
                t.stopped = t.done = t.cleared = True
                t.reply = stopped_reply(t.reply)
        return [], DOC_PLACEHOLDER, idle_box(), turns, gr.Button(visible=bool(turns))

    def undo_clear(cleared: list[Turn], turns: list[Turn]) -> tuple[list[dict[str, str]], list[Turn], list[Turn], Any]:
        restored = [*cleared, *turns]
        return chat_messages(restored), restored, [], gr.Button(visible=False)

    def status(backend: str | None = None) -> tuple[str, Any, Any]:
        warm.start()
        return warm.note(backend), gr.Timer(active=not warm.done), document_choices()

    with gr.Blocks(title="Ask the document", analytics_enabled=False) as app:
        turns = gr.State([])
        with gr.Sidebar(label="Settings", open=False, width=330) as sidebar:
            gr.Markdown("### Settings")
            gr.Markdown("These apply to this browser tab only.", elem_id="settings-note")
            backend = gr.Radio(backends, value=settings.llm, label="Answers written by", elem_id="backend")
            url = gr.Textbox(
                value=settings.openai_base_url or "",
                label="Server URL (OpenAI-compatible)",
                placeholder="http://127.0.0.1:8080/v1",
                visible=settings.llm == "openai",
                elem_id="server-url",
            )
            top_k = gr.Slider(
                1,
                20,
                value=settings.top_k,
                step=1,
                label="Passages per answer (top-k)",
                elem_id="top-k",
            )
            show_passages = gr.Checkbox(
                False, label="Show the retrieved passages under each answer", elem_id="show-passages"
            )
            gr.Markdown(SERVER_HELP, elem_id="server-help")
        with gr.Row(equal_height=False, elem_id="top"):
            gr.HTML(
                "<h1>Ask the document</h1><p>Answers quote the exact lines they come from and say whose "
                "words they are: the editor's, the article author's or a reader's.</p>",
                elem_id="header",
            )
            open_settings = gr.Button("⚙ Settings", size="sm", scale=0, min_width=110, elem_id="open-settings")
        note = gr.HTML(warm.note(), elem_id="status")
        only = gr.Dropdown(
            choices=[],
            value=[],
            multiselect=True,
            label="Only these documents",
            info="Leave empty to search them all.",
            visible=False,
            elem_id="doc-filter",
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=380):
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    show_label=False,
                    height=620,
                    buttons=[],
                    layout="bubble",
                    placeholder="**Ask anything about the document.** Each answer lists its sources: "
                    "click one to read it in place.",
                    examples=[{"text": q} for q in EXAMPLES],
                    feedback_options=("Like", "Dislike"),
                )
                box = gr.Textbox(
                    label="Your question",
                    show_label=False,
                    placeholder="Ask a question about the document…",
                    elem_id="question",
                    submit_btn=SEND,
                    stop_btn=False,
                    lines=1,
                    max_lines=6,
                )
                undo = gr.Button("↶ Undo clear", size="sm", visible=False, elem_id="undo-clear")
            with gr.Column(scale=2, min_width=320):
                gr.Markdown("## Source", elem_id="doc-heading")
                panel = gr.HTML(DOC_PLACEHOLDER, elem_id="doc-panel")
        request = gr.Textbox(visible="hidden", elem_id="doc-request")
        cleared = gr.State([])
        go = gr.Button("Show source", visible="hidden", elem_id="doc-request-go")
        timer = gr.Timer(1.0)

        answer_inputs = [turns, backend, url, top_k, show_passages, only]

        def answer_after(asked: Any) -> None:
            # "multiple": the answer event starts even while a stopped one is still ending (the default, "once",
            # silently skipped it: the question lost after Stop, issue #17); answer_turn skips a turn that is
            # already being answered or was stopped.
            answered = asked.then(
                answer_turn, answer_inputs, [chatbot, turns], concurrency_limit=4, trigger_mode="multiple"
            )
            answered.then(settle, turns, box, queue=False)

        typed = box.submit(add_turn, [box, turns], [box, chatbot, turns])
        answer_after(typed)
        answer_after(chatbot.example_select(add_example, [turns], [box, chatbot, turns]))
        # No `cancels=`: Stop (like Clear) marks the turn stopped, and its answer event ends itself at its next
        # heartbeat (stream_reply yields at least every 0.5 s) after closing the model's stream. Gradio's cancel
        # kept the stopped event counted as running in the browser after "Stopped." showed (until its /cancel
        # and /reset requests returned), and its /cancel ends every answer task of the tab, a newer one too.
        box.stop(stop, [turns], [box, chatbot, turns], queue=False)
        chatbot.clear(clear, [turns], [turns, panel, box, cleared, undo], queue=False)
        undo.click(undo_clear, [cleared, turns], [chatbot, turns, cleared, undo], queue=False)
        typed.then(lambda: gr.Button(visible=False), None, undo, queue=False)
        chatbot.like(feedback, [turns, backend, top_k], None)
        go.click(show_source, [request, turns], panel, queue=False, show_progress="hidden").then(
            None, None, None, js=SCROLL_JS
        )
        open_settings.click(lambda: gr.Sidebar(open=True), None, sidebar, queue=False)
        backend.change(lambda b: gr.Textbox(visible=b == "openai"), backend, url, queue=False)
        backend.change(status, backend, [note, timer, only], queue=False, show_progress="hidden")
        show_passages.change(toggle_passages, [turns, show_passages], [chatbot, turns], queue=False)
        timer.tick(status, backend, [note, timer, only], queue=False, show_progress="hidden")
        app.load(status, backend, [note, timer, only], queue=False, show_progress="hidden")
        only.focus(document_choices, None, only, queue=False, show_progress="hidden")  # files added while running
    return app


def launch(assistant: Assistant, warmup: Warmup | None = None) -> None:
    """Serve the chat window on the configured host/port (127.0.0.1:7860 by default): no share link, no
    analytics, optional ASSISTANT_AUTH=user:pass. The page is up at once; index and models load behind it.

    Pass a `Warmup` started before this module was imported (as `assistant serve` does), and the models load
    while Gradio is imported, not after."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    # Gradio switches matplotlib to "agg" around every event; unset, the first event pays for pyplot's import.
    os.environ.setdefault("MPLBACKEND", "agg")
    settings = assistant.settings
    auth = parse_auth(settings.auth)
    warm = (warmup or Warmup(assistant)).start()
    app = build(assistant, warm)
    app.queue(default_concurrency_limit=4).launch(
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        auth=auth,
        show_error=True,
        footer_links=["gradio"],
        run_history=False,
        ssr_mode=False,
        theme=_theme(),
        css=CSS,
        js=JS,
    )
