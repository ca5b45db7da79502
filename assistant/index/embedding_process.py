"""MiniLM in a child process: `assistant serve` loads torch and the embedding model there, beside Gradio.

Why: the chat server's start-up is Python work that holds the GIL (Gradio's import, the app's build, Chroma's
import) and so is loading torch, sentence-transformers and MiniLM (~4 s). In one process they run one after the
other whatever the threads; in two they use both cores. The child answers the same calls as the in-process
model (`embed_documents`, `embed_query`), so Chroma, retrieval, evidence and grounding cannot tell them apart.
Measured in docs/performance.md (*Cold start*).

The child reads requests from one pipe and writes results to another (pickled by `multiprocessing.connection`).
It exits when the parent closes its end, also when the parent dies, and ignores Ctrl-C, which the terminal sends
to both: the parent's shutdown is the one that counts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

from langchain_core.embeddings import Embeddings

from ..errors import ModelUnavailable


class EmbeddingProcess(Embeddings):
    """The shared MiniLM embedder running in a child process; start it early, its first call waits for the load."""

    def __init__(self, command: list[str] | None = None):
        """Start the child now (it loads the model at once); `command` replaces the child's program (tests)."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        argv = command or [sys.executable, "-m", __name__]
        try:
            self._proc = subprocess.Popen(
                [*argv, str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._receive = Connection(from_child_r, writable=False)
        self._lock = threading.Lock()
        self._ready = False
        self._failed: str | None = None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors of `texts`, computed in the child."""
        return list(self._call("documents", list(texts))) if texts else []

    def embed_query(self, text: str) -> list[float]:
        """The vector of one question, computed in the child."""
        return list(self._call("query", text))

    def wait_ready(self) -> None:
        """Block until the child has loaded the model; raise `ModelUnavailable` if it could not."""
        with self._lock:
            self._wait_ready()

    def close(self) -> None:
        """Stop the child: at once while it is still loading, else by closing its input (it exits after the call
        it is on, and a caller waiting for that call gets `ModelUnavailable`); safe to call twice.

        The end it replies on stays open until this object goes: another thread may be reading from it, and a
        connection closed under a reader fails with a TypeError instead of an end-of-file."""
        if not self._ready and self._proc.poll() is None:
            self._proc.terminate()
        if not self._send.closed:
            self._send.close()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def _wait_ready(self) -> None:
        if self._ready:
            return
        if self._failed is None:
            kind, payload = self._reply()
            if kind == "ready":
                self._ready = True
                return
            self._failed = str(payload)
        raise ModelUnavailable(self._failed)

    def _call(self, kind: str, payload: Any) -> Any:
        with self._lock:
            self._wait_ready()
            try:
                self._send.send((kind, payload))
            except (OSError, ValueError, TypeError):  # closed (TypeError: closed while sending), or unpicklable
                raise ModelUnavailable(self._gone()) from None
            status, result = self._reply()
        if status != "ok":
            raise ModelUnavailable(f"The embedding model failed: {result}")
        return result

    def _reply(self) -> tuple[str, Any]:
        try:
            reply: tuple[str, Any] = self._receive.recv()
        except (EOFError, OSError):
            raise ModelUnavailable(self._gone()) from None
        return reply

    def _gone(self) -> str:
        try:
            code: int | None = self._proc.wait(1)  # its pipe closes a moment before it is reaped
        except subprocess.TimeoutExpired:
            code = None
        how = f"exited with code {code}" if code is not None else "stopped answering"
        return f"The embedding model's process {how}; its error is above in the server's log. Restart the server."


def _serve(requests: Connection, replies: Connection) -> None:
    """The child's loop: load the model, say so, then answer until the parent closes its ends of the pipes."""
    from .embeddings import local_embedding_model

    try:
        model = local_embedding_model()
    except Exception as exc:  # ModelUnavailable says what to do; anything else is reported the same way
        with suppress(OSError):
            replies.send(("error", str(exc)))
        return
    with suppress(EOFError, OSError):  # the parent closed its ends, or exited
        replies.send(("ready", None))
        while True:
            kind, payload = requests.recv()
            try:
                result = model.embed_query(payload) if kind == "query" else model.embed_documents(payload)
            except Exception as exc:  # one failed call is reported to its caller; the child keeps serving
                replies.send(("error", f"{exc.__class__.__name__}: {exc}"))
            else:
                replies.send(("ok", result))


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
