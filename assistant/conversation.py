"""One browser tab's conversation: its turns, the streaming reply generator, and saved feedback.

Plain functions and a dataclass, with no Gradio, unit-tested without a server; `assistant.ui` keeps the turns
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

from .answer import Answer
from .core import Assistant
from .documents import Document
from .errors import AssistantError
from .render import _esc, format_answer, format_draft

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
) -> Iterator[tuple[str, Answer | None]]:
    """Yield (message, answer): notes while the models load, the growing draft, then the formatted answer.

    The assistant runs in a worker thread so the page gets a heartbeat even while the model loads or thinks;
    `waiting()` returns a note while start-up work is still going on; `should_stop()` ends generation early.
    """
    started = time.monotonic()
    while (note := waiting()) is not None:
        if should_stop():
            return
        yield format_draft("", time.monotonic() - started, note), None
        time.sleep(tick)
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    abandoned = threading.Event()  # set when the page stops listening (Stop, closed tab)

    def pump() -> None:
        stream = None
        try:
            stream = assistant.stream(question, history=list(history), sources=sources)
            for item in stream:
                items.put(("item", item))
                if should_stop() or abandoned.is_set():
                    break
        except Exception as exc:  # handed to the page below; the worker must never die silently
            items.put(("error", exc))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # stops the LLM's generator in the thread that runs it
            items.put(("end", None))

    threading.Thread(target=pump, name="assistant-answer", daemon=True).start()
    draft = ""
    try:
        while True:
            try:
                kind, item = items.get(timeout=tick)
            except queue.Empty:
                yield format_draft(draft, time.monotonic() - started), None
                continue
            if kind == "end":
                return
            if kind == "error":
                if isinstance(item, AssistantError):
                    yield f'<div class="note error">⚠️ {_esc(str(item))}</div>', None
                else:
                    log.error("Answering failed", exc_info=item)
                    yield f'<div class="note error">⚠️ Something went wrong: {_esc(repr(item))}</div>', None
                return
            if isinstance(item, Answer):
                yield format_answer(item, assistant.documents, turn, show_passages), item
            elif isinstance(item, str):
                draft += item
                yield format_draft(draft, time.monotonic() - started), None
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
