"""Load: many concurrent questions through the Python API and through the running Gradio app.

Bounded in count and time and local only: `ASSISTANT_LOAD_TOTAL` questions (default 200), `ASSISTANT_LOAD_USERS`
at once (default 8), the extractive fake LLM (so what is measured is the assistant: retrieval, grounding, the
app's queue; not llama.cpp) and the app on 127.0.0.1. Every answer must be complete, be the answer to its own
question (identical to the one given without load) and memory must stay bounded. Run with `-s` to see the
throughput and latency summary.
"""

from __future__ import annotations

import gc
import html
import json
import os
import random
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from assistant import Answer, Assistant, Settings
from assistant.answering.grounding import REFUSAL_TEXT
from assistant.probes import free_port

pytestmark = pytest.mark.slow

TOTAL = int(os.environ.get("ASSISTANT_LOAD_TOTAL", "200"))
USERS = int(os.environ.get("ASSISTANT_LOAD_USERS", "8"))
DEADLINE_S = float(os.environ.get("ASSISTANT_LOAD_DEADLINE_S", "900"))
# Memory is checked twice after a concurrent warm-up. The Python heap (tracemalloc) must stay nearly flat: the
# only thing that should grow is each Gradio session's own history. The resident size is only sanity-checked:
# with many threads glibc's per-thread malloc arenas and torch's buffers add a few hundred MB that later
# levels off (flat with MALLOC_ARENA_MAX=2; see docs/reliability.md), noise too large for a tight bound.
HEAP_GROWTH_MB = 40
RSS_GROWTH_MB = 600
# None of these reads as a follow-up, so a Gradio session's growing history does not change the answers.
QUESTIONS = [
    "What is the friendship without limits?",
    "What does the author say about Taiwan?",
    "How does China view Trump's peace talks with Russia?",
    "What do the commenters think of Trump's plan?",
    "What did the US and Russia agree on at the Saudi Arabia talks?",
    "What is the boiling point of tungsten?",
    "What does the editor's note say about the talks?",
    "How much does Russia trade with China?",
    "Which countries does Trump want to split apart?",
    "What did Putin make for Xi on Xi's birthday?",
]


def rss_mb() -> float:
    """Resident memory of this process (the app runs in it too), in MiB."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # Linux without psutil
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


@dataclass
class Load:
    """Latencies and memory of one load run, and its summary for docs/performance.md."""

    name: str
    latencies: list[float] = field(default_factory=list)
    rss_start: float = 0.0
    rss_peak: float = 0.0
    rss_end: float = 0.0
    heap_growth_mb: float = 0.0
    threads: tuple[int, int] = (0, 0)
    leftover: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, work: Callable[..., Any], *args: Any) -> Any:
        """`work(*args)`, its latency recorded."""
        started = time.perf_counter()
        result = work(*args)
        with self._lock:
            self.latencies.append(time.perf_counter() - started)
        return result

    def run(self, jobs: list[Any], work: Callable[[Any], None], users: int) -> None:
        """Do `work(job)` for every job with `users` threads; record the wall time and peak RSS."""
        gc.collect()
        threads = threading.active_count()
        tracemalloc.start(1)
        heap = tracemalloc.get_traced_memory()[0]
        self.rss_start = self.rss_peak = rss_mb()
        sampler = threading.Thread(target=self._sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(users) as pool:
                for future in [pool.submit(work, job) for job in jobs]:
                    future.result(timeout=max(1.0, DEADLINE_S - (time.perf_counter() - started)))
        finally:
            self.wall_s = time.perf_counter() - started
            self._stop.set()
            sampler.join()
            gc.collect()
            self.heap_growth_mb = (tracemalloc.get_traced_memory()[0] - heap) / 2**20
            tracemalloc.stop()
            self.rss_end = rss_mb()
            time.sleep(1.0)  # let worker threads that just answered finish
            self.threads = (threads, threading.active_count())
            self.leftover = sorted(t.name for t in threading.enumerate() if t.name.startswith("assistant"))

    def assert_bounded(self) -> None:
        """Memory and threads did not grow with the number of questions."""
        summary = self.summary()
        assert self.heap_growth_mb < HEAP_GROWTH_MB, summary
        assert self.rss_end - self.rss_start < RSS_GROWTH_MB, summary
        # Pools (AnyIO's 40 worker threads, gradio_client's) grow on demand up to their size; nothing else may.
        assert self.threads[1] <= self.threads[0] + 48, summary
        assert not self.leftover, f"threads still answering after the run: {self.leftover}"

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.rss_peak = max(self.rss_peak, rss_mb())

    def summary(self) -> dict[str, Any]:
        q = statistics.quantiles(self.latencies, n=100)
        return {
            "path": self.name,
            "questions": len(self.latencies),
            "concurrent": USERS,
            "wall_s": round(self.wall_s, 1),
            "throughput_per_s": round(len(self.latencies) / self.wall_s, 2),
            "latency_p50_s": round(q[49], 2),
            "latency_p95_s": round(q[94], 2),
            "latency_max_s": round(max(self.latencies), 2),
            "rss_start_mb": round(self.rss_start),
            "rss_peak_mb": round(self.rss_peak),
            "rss_end_mb": round(self.rss_end),
            "python_heap_growth_mb": round(self.heap_growth_mb, 1),
            "threads_before_after": list(self.threads),
        }

    def report(self) -> None:
        print(f"\nLOAD {json.dumps(self.summary())}")


def jobs() -> list[str]:
    """TOTAL questions, each of QUESTIONS about equally often, in a fixed shuffled order."""
    out = [QUESTIONS[i % len(QUESTIONS)] for i in range(TOTAL)]
    random.Random(7).shuffle(out)
    return out


def fingerprint(answer: Answer) -> tuple:
    """What makes an answer this question's answer: text, citations and the passages retrieved for it."""
    return (
        answer.question,
        answer.answer,
        answer.refused,
        tuple((c.source, c.line_start, c.line_end, c.quote) for c in answer.citations),
        tuple(r.passage.id for r in answer.retrieved),
    )


@pytest.fixture(scope="module")
def expected(seed_index: Settings) -> dict[str, Answer]:
    """Each question answered once, alone: what every answer under load must equal."""
    assistant = Assistant(seed_index)
    assert all(assistant.read(q).standalone == q for q in QUESTIONS), "no history: never rewritten"
    answers = {q: assistant.ask(q) for q in QUESTIONS}
    assert len({fingerprint(a)[1:] for a in answers.values()}) == len(QUESTIONS), "questions must differ"
    assert all(a.error is None for a in answers.values())
    return answers


def test_python_api_under_concurrent_load(seed_index: Settings, expected: dict[str, Answer]) -> None:
    assistant = Assistant(seed_index)  # one instance shared by every thread, as the app shares it
    Load("warm-up").run(QUESTIONS * 2, assistant.ask, USERS)  # index, models, per-thread memory
    wrong: list[str] = []
    load = Load("Python API (Assistant.ask, one shared instance)")

    def ask(question: str) -> None:
        answer = load.timed(assistant.ask, question)
        if fingerprint(answer) != fingerprint(expected[question]) or answer.error or "total_s" not in answer.timings:
            wrong.append(f"{question!r} -> {answer.answer!r}")

    load.run(jobs(), ask, USERS)
    load.report()
    assert not wrong, wrong[:5]
    assert len(load.latencies) == TOTAL
    load.assert_bounded()


# -- the running app ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app_url(seed_index: Settings) -> Iterator[str]:
    """The chat app on 127.0.0.1 (fake LLM), queued as `assistant serve` queues it, in this process."""
    from assistant.ui import app as ui

    app = ui.build(Assistant(seed_index))
    app.queue(default_concurrency_limit=4)
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, share=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def message_text(message: dict[str, Any]) -> str:
    """A chat message's text, whether Gradio sends a string or a list of parts."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def test_gradio_app_under_concurrent_load(app_url: str, expected: dict[str, Answer]) -> None:
    from gradio_client import Client

    questions = jobs()
    per_user = [questions[u::USERS] for u in range(USERS)]  # one session per user, asking one after another
    clients = [Client(app_url, verbose=False, httpx_kwargs={"timeout": 120}) for _ in range(USERS)]
    wrong: list[str] = []
    load = Load("Gradio app API (gradio_client, one session per user, queue as served)")

    def converse(client: Client, question: str) -> list[dict[str, Any]]:
        client.predict(question, api_name="/add_turn")
        return client.predict(api_name="/answer_turn")

    def check(question: str, messages: list[dict[str, Any]], turn: int) -> None:
        asked, reply = message_text(messages[-2]), message_text(messages[-1])
        want = expected[question]
        problems = []
        if len(messages) != 2 * turn:
            problems.append(f"{len(messages)} messages after {turn} turns")
        if asked != question:
            problems.append(f"reply to {asked!r}")
        if 'class="pending"' in reply or "▌" in reply or "⚠️" in reply:
            problems.append("incomplete or failed")
        if want.refused and html.escape(REFUSAL_TEXT, quote=False) not in reply:
            problems.append("not the refusal")
        for c in want.citations:
            if html.escape(c.quote, quote=False) not in reply:
                problems.append(f"missing quote {c.quote[:40]!r}")
        if problems:
            wrong.append(f"{question!r}: {problems} in {reply[:200]!r}")

    def user(u: int) -> None:
        for turn, question in enumerate(per_user[u], start=1):
            check(question, load.timed(converse, clients[u], question), turn)

    # The app builds its index and loads its models on first use, and the first parallel burst grows memory:
    # warm up with other sessions before the clock starts.
    warm = Client(app_url, verbose=False, httpx_kwargs={"timeout": 300})
    check(QUESTIONS[0], converse(warm, QUESTIONS[0]), 1)
    warm_clients = [Client(app_url, verbose=False, httpx_kwargs={"timeout": 120}) for _ in range(USERS)]
    Load("warm-up").run(warm_clients, lambda c: [converse(c, q) for q in QUESTIONS[:2]], USERS)
    load.run(list(range(USERS)), user, USERS)
    load.report()
    assert not wrong, wrong[:5]
    assert len(load.latencies) == TOTAL
    load.assert_bounded()


@pytest.mark.parametrize(
    "path",
    [
        "gradio_api/file=/etc/passwd",
        "gradio_api/file=../../../../etc/passwd",
        "gradio_api/file=%2Fetc%2Fpasswd",
        "file=/etc/passwd",
        "gradio_api/file={seeds}/000_b8aa54d3edd41c2c.txt",
    ],
)
def test_running_app_serves_no_file_outside_its_own(app_url: str, seed_index: Settings, path: str) -> None:
    import httpx

    response = httpx.get(app_url + path.format(seeds=seed_index.seeds_dir), timeout=30)
    assert response.status_code in (400, 403, 404), (response.status_code, response.text[:200])
    assert "root:" not in response.text and "friendship without limits" not in response.text
