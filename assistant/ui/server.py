"""What the chat server keeps for all its tabs: the background warm-up behind the status line, one `Assistant` per
distinct session settings, and the `ASSISTANT_AUTH` login pair.

No Gradio here; `assistant.ui.app` shows `Warmup.note()` on the page and asks the pool for each tab's assistant.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress

from pydantic import SecretStr

from ..core import Assistant
from ..errors import AssistantError, ConfigError
from ..settings import Settings
from .render import _esc, in_words

log = logging.getLogger(__name__)

BACKENDS = {
    "local": "Local model (llama.cpp, offline)",
    "openai": "OpenAI-compatible server",
    "fake": "Extractive demo (no LLM)",
}


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _yield_cpu(niceness: int = 10) -> None:
    """Lower the calling thread's CPU priority (Linux keeps a nice value per thread; elsewhere nothing).

    Why: priming the local model's cache is a head start, not the critical path; at start-up the page's Python
    work and the embedding model's child process are, and all three want the two cores at once.
    """
    if sys.platform == "linux":
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


class Warmup:
    """Builds the index and loads the models in the background, so the page shows progress, never freezes."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.step = "Starting"
        self.error: str | None = None
        self.summary = ""
        self.done = False
        self._started: float | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._questions = 0  # questions of the chat window being answered (the sentence warm-up waits for them)
        self._model: Future[None] | None = None

    def start(self) -> Warmup:
        """Start once (later calls do nothing)."""
        with self._lock:
            if self._thread is None:
                self._started = time.monotonic()
                self._thread = threading.Thread(target=self._run, name="assistant-warmup", daemon=True)
                self._thread.start()
        return self

    def load_model(self) -> Warmup:
        """Start loading the local model and priming its cache on a thread of its own (once; `start()` does it
        too). `assistant serve` calls it before importing Gradio.

        Why a thread of its own: llama.cpp loads the weights and evaluates the prompt's fixed start without the
        GIL, in the CPU time the start-up's Python work (Gradio's import, the steps of `start()`) and the
        embedding model's child process leave over. Those steps stay on one thread: Python imports hold the
        GIL, so running them side by side in one process gains nothing (hence the child process for MiniLM).
        """
        with self._lock:
            if self._model is None and self.assistant.settings.llm == "local":
                self._model = Future()
                threading.Thread(
                    target=self._load_model, args=(self._model,), name="assistant-model", daemon=True
                ).start()
        return self

    def _run(self) -> None:
        llm = self.assistant.settings.llm
        model = self.load_model()._model
        try:
            self.step = "1/3 · Checking the search index"
            report = self.assistant.prepare(progress=self._progress)
            self.step = "2/3 · Loading the embedding model"
            _ = self.assistant.retriever
            from ..index import embedding_model

            embedding_model().embed_query("warm up")
            if model is not None:
                self.step = "3/3 · Loading the local language model (1.1 GB; about 10 s the first time)"
                model.result()
            skipped = f" · {len(report.skipped)} file(s) skipped" if report.skipped else ""
            self.summary = (
                f"{_plural(report.documents, 'document')} · {_plural(report.passages, 'passage')}{skipped} · "
                f"answers by: {BACKENDS.get(llm, llm)}"
            )
        except AssistantError as exc:
            self.error = str(exc)
        except Exception as exc:  # shown on the page instead of a dead spinner
            log.exception("Start-up failed")
            self.error = f"Start-up failed: {exc.__class__.__name__}: {exc}"
        finally:
            self.done = True
        if self.error is None:  # after "Ready": the sentences evidence is chosen from, batch by batch when idle
            try:
                self.assistant.warm(self._idle)
            except AssistantError as exc:  # e.g. the embedding process closed at shutdown; no traceback
                log.info("Embedding the sentences ahead of the questions stopped: %s", exc)
            except Exception:  # a question then embeds its own sentences, as without the warm-up
                log.exception("Embedding the sentences ahead of the questions failed")

    def _load_model(self, loaded: Future[None]) -> None:
        """Load the local model, then evaluate what every answer prompt starts with (`Assistant.prime`) at a low
        priority: the start-up's other work is what the first answer waits for."""
        from ..llm import LlamaCppChat

        try:
            chat = self.assistant.chat
            if isinstance(chat, LlamaCppChat):
                chat.llama()
        except BaseException as exc:  # the start-up thread reports it at step 3
            loaded.set_exception(exc)
            return
        loaded.set_result(None)  # "Ready" need not wait for the priming: a question waits for the model's lock
        _yield_cpu()
        try:
            self.assistant.prime()
        except Exception:  # only the first answer's head start is lost
            log.exception("Evaluating the start of the answer prompt ahead of the first question failed")

    @contextmanager
    def question(self) -> Iterator[None]:
        """Around answering a question of the chat window: the sentence warm-up waits until it is answered."""
        with self._lock:
            self._questions += 1
        try:
            yield
        finally:
            with self._lock:
                self._questions -= 1

    def _idle(self) -> None:
        """Wait while a question is being answered or the local model writes (the warm-up must not slow them)."""
        from ..llm import LlamaCppChat, model_busy

        chat = self.assistant.chat
        llama = chat.llama() if isinstance(chat, LlamaCppChat) else None
        while self._questions or (llama is not None and model_busy(llama)):
            time.sleep(0.05)

    def _progress(self, message: str) -> None:
        if match := re.match(r"Indexing (\d+) document", message):
            self.step = (
                "1/3 · Building the search index (first start or changed documents): "
                f"{_plural(int(match.group(1)), 'document')}"
            )

    def waiting(self) -> str | None:
        """A note while start-up work goes on; None once ready (or failed: the question then reports it)."""
        if self.done:
            return None
        self.start()
        return f"Getting ready: {self.step}…"

    def note(self, backend: str | None = None) -> str:
        """The status line at the top of the page; `backend` is the one this tab chose under Settings."""
        if self.error:
            return f'<div class="status error">⚠️ {_esc(in_words(self.error))}</div>'
        if self.done:
            summary = self.summary
            if backend:
                summary = re.sub(r"answers by: .*$", f"answers by: {BACKENDS.get(backend, backend)}", summary)
            return f'<div class="status ready">Ready · {_esc(summary)}</div>'
        waited = time.monotonic() - (self._started or time.monotonic())
        return (
            f'<div class="status loading"><span class="spinner"></span>Getting ready: {_esc(self.step)}… '
            f"{waited:.0f} s. You can type your question already.</div>"
        )


class AssistantPool:
    """One `Assistant` per distinct (backend, server URL, top-k); models load once per process anyway."""

    def __init__(self, base: Assistant, size: int = 8):
        self.base = base
        self.size = size
        self._made: OrderedDict[tuple[str, str | None, int], Assistant] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, llm: str | None = None, url: str | None = None, top_k: float | None = None) -> Assistant:
        """The assistant for one session's settings (the server's own when they are the defaults)."""
        s = self.base.settings
        llm = llm or s.llm
        url = ((url or "").strip() or None) if llm == "openai" else s.openai_base_url
        k = int(top_k or s.top_k)
        key = (llm, url, k)
        if key == (s.llm, s.openai_base_url, s.top_k):
            return self.base
        with self._lock:
            if key not in self._made:
                if llm == "openai" and not url:
                    raise ConfigError("Enter the server's URL under Settings (e.g. http://127.0.0.1:8080/v1).")
                try:
                    settings = Settings(**{**s.model_dump(), "llm": llm, "openai_base_url": url, "top_k": k})
                except ValueError as exc:  # pydantic's ValidationError
                    raise ConfigError(f"Invalid setting: {exc}") from None
                self._made[key] = Assistant(settings)
                while len(self._made) > self.size:
                    self._made.popitem(last=False)
            self._made.move_to_end(key)
            return self._made[key]


def parse_auth(auth: str | SecretStr | None) -> tuple[str, str] | None:
    """`ASSISTANT_AUTH=user:pass` as Gradio's (user, password), or None when unset."""
    if isinstance(auth, SecretStr):
        auth = auth.get_secret_value()
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ConfigError("ASSISTANT_AUTH must look like user:password (both parts non-empty).")
    return user, password
