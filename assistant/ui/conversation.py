"""One browser tab's conversation: its turns, the streaming reply generator, and saved feedback.

Plain functions and a dataclass, with no Gradio, unit-tested without a server; `assistant.ui.app` keeps the turns
in `gr.State` and wires these to the page.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..answer import Answer
from ..answering.evidence import Evidence, Found
from ..core import Assistant
from ..documents import Document
from ..errors import AssistantError
from .render import _esc, format_answer, format_draft, in_words

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """One question and its reply in one browser tab's conversation."""

    question: str
    reply: str = ""
    answer: Answer | None = None
    started: bool = False
    done: bool = False
    stopped: bool = False
    cleared: bool = False  # Clear took it off the page while it was being answered


def history_of(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    """Finished turns as the (question, answer) pairs `Assistant.stream` takes; failed turns are left out."""
    return [(t.question, t.answer.answer) for t in turns if t.answer is not None and not t.answer.error]


def chat_messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The Chatbot value: exactly two messages per turn, so message index // 2 is the turn index."""
    messages = []
    for t in turns:
        messages += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.reply}]
    return messages


def rerender(turns: Sequence[Turn], documents: dict[str, Document], show_passages: bool) -> None:
    """Re-format finished answers (after the show-passages setting changed)."""
    for i, t in enumerate(turns):
        if t.answer is not None and t.done:
            t.reply = format_answer(t.answer, documents, i, show_passages)


class Line:
    """The questions waiting for one model, in order, so a waiting tab can say how many are ahead of it.

    Why not Gradio's own queue position: answers run concurrently (retrieval and refusals need no model), and
    only the generation waits, behind the model's lock; this counts exactly that wait.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._waiting: set[int] = set()

    def join(self) -> int:
        """Take a ticket (when a question's evidence is ready and it needs the model)."""
        with self._lock:
            self._next += 1
            self._waiting.add(self._next)
            return self._next

    def leave(self, ticket: int) -> None:
        """Give the ticket back (the answer is written, failed or stopped)."""
        with self._lock:
            self._waiting.discard(ticket)

    def ahead(self, ticket: int) -> int:
        """How many tickets taken before this one are still held."""
        with self._lock:
            return sum(1 for t in self._waiting if t < ticket)


LOCAL_MODEL_LINE = Line()  # the local model serves one answer at a time (llm.LlamaCppChat's lock)


def stream_reply(
    assistant: Assistant,
    question: str,
    history: Sequence[tuple[str, str]],
    turn: int = 0,
    show_passages: bool = False,
    waiting: Callable[[], str | None] = lambda: None,
    should_stop: Callable[[], bool] = lambda: False,
    tick: float = 0.5,
    sources: Sequence[str] | None = None,
    line: Line | None = None,
) -> Iterator[tuple[str, Answer | None]]:
    """Yield (message, answer): notes while the models load, the evidence found, the growing draft under it, then
    the formatted answer (with any draft sentence that grounding removed shown struck through).

    The assistant runs in a worker thread so the page gets a heartbeat even while the model loads or thinks;
    `waiting()` returns a note while start-up work is still going on; `should_stop()` ends generation early:
    the worker checks it between tokens and at each heartbeat, and closes the stream, which ends the model's
    generation loop. `line`, when the model answers one question at a time, says how many are ahead.
    """
    started = time.monotonic()
    while (note := waiting()) is not None:
        if should_stop():
            return
        yield format_draft("", time.monotonic() - started, note), None
        beat = time.monotonic() + tick
        while time.monotonic() < beat and waiting() is not None:  # start as soon as start-up is done
            time.sleep(0.02)
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    abandoned = threading.Event()  # set when the page stops listening (Stop, closed tab)
    ticket: list[int] = []

    def pump() -> None:
        stream = None
        try:
            stream = assistant.stream(question, history=list(history), sources=sources)
            for item in stream:
                if isinstance(item, Found) and line is not None:
                    ticket.append(line.join())
                items.put(("item", item))
                if should_stop() or abandoned.is_set():
                    break
        except Exception as exc:  # handed to the page below; the worker must never die silently
            items.put(("error", exc))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # stops the LLM's generator in the thread that runs it
            if line is not None and ticket:
                line.leave(ticket[0])
            items.put(("end", None))

    threading.Thread(target=pump, name="assistant-answer", daemon=True).start()
    draft = ""
    evidence: tuple[Evidence, ...] = ()

    def ahead() -> int:
        return line.ahead(ticket[0]) if line is not None and ticket and not draft else 0

    try:
        while True:
            try:
                kind, item = items.get(timeout=tick)
            except queue.Empty:
                yield format_draft(draft, time.monotonic() - started, evidence=evidence, ahead=ahead()), None
                continue
            if kind == "end":
                return
            if kind == "error":
                if isinstance(item, AssistantError):
                    yield f'<div class="note error">⚠️ {_esc(in_words(str(item)))}</div>', None
                else:
                    log.error("Answering failed", exc_info=item)
                    yield f'<div class="note error">⚠️ Something went wrong: {_esc(repr(item))}</div>', None
                return
            if isinstance(item, Answer):
                yield format_answer(item, assistant.documents, turn, show_passages), item
            elif isinstance(item, Found):
                evidence = item.evidence
                yield format_draft(draft, time.monotonic() - started, evidence=evidence, ahead=ahead()), None
            elif isinstance(item, str):
                draft += item
                yield format_draft(draft, time.monotonic() - started, evidence=evidence), None
    finally:
        abandoned.set()


# -- feedback ---------------------------------------------------------------------------------------------
_FEEDBACK_LOCK = threading.Lock()


def save_feedback(path: Path, answer: Answer, rating: str | None, **context: Any) -> dict[str, Any]:
    """Append one thumbs up/down (`rating` "up", "down" or None when withdrawn) to the JSONL feedback file."""
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "rating": rating,
        "question": answer.question,
        "answer": answer.answer,
        "refused": answer.refused,
        "citations": [c.to_dict() for c in answer.citations],
        "standalone_question": answer.standalone_question,
        "retrieved": [r.to_dict() for r in answer.retrieved],
        **context,
    }
    with _FEEDBACK_LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return record


def rating_of(liked: bool | str | None) -> str | None:
    """Gradio's like value (True, False, or "" when a thumb is clicked again) as "up" / "down" / None."""
    return "up" if liked is True else "down" if liked is False else None
