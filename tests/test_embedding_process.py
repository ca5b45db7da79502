"""MiniLM in a child process (`assistant serve`): the same vectors as in-process, and failures said plainly."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from assistant.errors import ModelUnavailable
from assistant.index.embedding_process import EmbeddingProcess
from assistant.index.embeddings import local_embedding_model

# A stand-in child (`python -c CODE fd_in fd_out`) that says something, then exits.
_SAYS = "import sys; from multiprocessing.connection import Connection; Connection(int(sys.argv[2]), readable=False).send({})"


@pytest.mark.slow
def test_the_child_gives_the_vectors_this_process_would() -> None:
    child = EmbeddingProcess()
    try:
        texts = ["Greenland is not for sale.", "The ferry runs twice a day.", "Greenland is not for sale."]
        here = local_embedding_model()
        for got, want in zip(child.embed_documents(texts), here.embed_documents(texts), strict=True):
            assert got == pytest.approx(want, abs=1e-6)
        assert child.embed_query("Who owns the ferry?") == pytest.approx(
            here.embed_query("Who owns the ferry?"), abs=1e-6
        )
        assert child.embed_documents([]) == []
    finally:
        child.close()
    assert child._proc.returncode == 0  # it left on its own when its input closed
    child.close()  # twice is harmless


def test_a_child_that_cannot_load_the_model_says_why_at_every_call() -> None:
    child = EmbeddingProcess(
        [sys.executable, "-c", _SAYS.format("('error', 'The embedding model package is missing.')")]
    )
    try:
        for _ in range(2):
            with pytest.raises(ModelUnavailable, match="package is missing"):
                child.embed_query("anything")
    finally:
        child.close()


def test_a_child_that_dies_is_reported_with_its_exit_code() -> None:
    child = EmbeddingProcess([sys.executable, "-c", "import sys; sys.exit(3)"])
    try:
        with pytest.raises(ModelUnavailable, match="exited with code 3.*Restart the server"):
            child.wait_ready()
    finally:
        child.close()


def test_closing_while_the_child_loads_stops_it_at_once_and_a_waiting_caller_hears_why() -> None:
    # Why: Ctrl-C on `assistant serve` during start-up; the warm-up thread is waiting for the model then.
    child = EmbeddingProcess([sys.executable, "-c", "import time; time.sleep(60)"])
    errors: list[Exception] = []

    def wait() -> None:
        try:
            child.wait_ready()
        except ModelUnavailable as exc:
            errors.append(exc)

    waiting = threading.Thread(target=wait)
    waiting.start()
    started = time.monotonic()
    child.close()
    waiting.join(10)
    assert time.monotonic() - started < 3 and child._proc.returncode is not None
    assert len(errors) == 1 and "exited" in str(errors[0])


def test_a_failed_call_is_reported_and_the_child_keeps_serving() -> None:
    code = (
        "import sys; from multiprocessing.connection import Connection\n"
        "requests, replies = Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)\n"
        "replies.send(('ready', None))\n"
        "for n in range(2):\n"
        "    kind, payload = requests.recv()\n"
        "    replies.send(('error', 'RuntimeError: out of memory') if n == 0 else ('ok', [0.5] * 3))\n"
    )
    child = EmbeddingProcess([sys.executable, "-c", code])
    try:
        with pytest.raises(ModelUnavailable, match="failed: RuntimeError: out of memory"):
            child.embed_query("first")
        assert child.embed_query("second") == [0.5, 0.5, 0.5]
    finally:
        child.close()


def test_the_child_imports_no_more_of_the_package_than_the_embedder() -> None:
    # Why: the child loads while the server starts; the answer path's imports (LangChain, Chroma) would be
    # seconds of its start-up spent on nothing (the package's names load on first use).
    code = "import sys, assistant.index.embeddings; print(sorted(m for m in ('assistant.core', 'chromadb', 'torch') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
