"""The probes of `assistant bench` for what comes before the first question: the index build, a cold first
answer in a fresh process, and `assistant serve` from start to its first answers through the UI (page up,
models loaded, peak RSS).

Heavy imports stay inside the functions: the child processes import this module first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from .probes import disk_bytes, free_port, median, proc_mb, rounded, tree_mb
from .settings import Settings


# -- index builds ----------------------------------------------------------------------------------------------
def build_seed_index(settings: Settings, runs: int) -> dict[str, Any]:
    """(Re)build the seed's index `runs` times with the embedding model already loaded."""
    from .index import ensure_index, store_dir

    seconds = []
    report = None
    for _ in range(runs):
        started = time.perf_counter()
        report = ensure_index(settings, rebuild=True)
        seconds.append(time.perf_counter() - started)
    assert report is not None
    best = median(seconds) or 0.0
    return {
        "index_seed_s": rounded(best),
        "index_seed_runs_s": [rounded(s) for s in seconds],
        "passages": report.passages,
        "passages_per_s": rounded(report.passages / best, 1) if best else None,
        "index_mb": rounded(disk_bytes(store_dir(settings)) / 2**20, 1),
    }


def build_baseline_index(settings: Settings, work: Path, runs: int) -> dict[str, Any]:
    """Build the baseline's store `runs` times, each into a fresh folder (it has no rebuild flag)."""
    from .evaluation.baseline import Baseline

    seconds, chunks, folder = [], 0, work
    for i in range(runs):
        fresh = settings.model_copy(update={"index_dir": work / f"baseline-build-{i}"})
        started = time.perf_counter()
        baseline = Baseline(fresh)
        chunks = baseline.build()
        seconds.append(time.perf_counter() - started)
        folder = baseline.directory
    best = median(seconds) or 0.0
    return {
        "index_seed_s": rounded(best),
        "index_seed_runs_s": [rounded(s) for s in seconds],
        "passages": chunks,
        "passages_per_s": rounded(chunks / best, 1) if best else None,
        "index_mb": rounded(disk_bytes(folder) / 2**20, 1),
    }


# -- fresh processes -------------------------------------------------------------------------------------------
def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ASSISTANT_SEEDS_DIR=str(settings.seeds_dir),
        ASSISTANT_INDEX_DIR=str(settings.index_dir),
        ASSISTANT_LLM=settings.llm,
        ASSISTANT_FEEDBACK_FILE=str(settings.index_dir.parent / "feedback" / "feedback.jsonl"),
        PYTHONUNBUFFERED="1",
    )
    return env


def cold_child(pipeline: str, question: str, started: float) -> None:
    """Run in a fresh process: answer one question as `assistant ask` does; print phase end times (JSON).

    The lazy loads are triggered one by one only to time them; their sum is what `ask` pays anyway.
    """
    from assistant import Assistant, Settings  # already imported with this module: `-c` imported it first
    from assistant.index import embedding_model

    phases = {"python_and_package_import": time.time() - started}
    if pipeline == "baseline":
        from assistant.evaluation.baseline import Baseline

        pipe: Any = Baseline(Settings())
        embedding_model().embed_query("warm up")
        phases["embedding_model"] = time.time() - started
        _ = pipe.store
        phases["index_open"] = time.time() - started
    else:
        pipe = Assistant()
        embedding_model().embed_query("warm up")
        phases["embedding_model"] = time.time() - started
        _ = pipe.retriever
        phases["index_open"] = time.time() - started
    chat = pipe.chat
    from assistant.llm import LlamaCppChat

    if isinstance(chat, LlamaCppChat):
        chat.llama()
    phases["llm_load"] = time.time() - started
    answer = pipe.ask(question)
    phases["first_answer"] = time.time() - started
    out = {"phases": phases, "timings": answer.timings, "peak_rss_mb": proc_mb("VmHWM")}
    print(json.dumps(out), flush=True)


def cold_answer(settings: Settings, pipeline: str, question: str) -> dict[str, Any]:
    """Process start → first answer in a fresh interpreter (models loaded there), and its peak RSS."""
    started = time.time()
    code = f"from assistant.startup import cold_child; cold_child({pipeline!r}, {question!r}, {started!r})"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_child_env(settings), check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"cold {pipeline} run failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    phases = {k: rounded(v) for k, v in data["phases"].items()}
    return {
        "first_answer_s": phases["first_answer"],
        "peak_rss_mb": rounded(data["peak_rss_mb"], 0),
        "answer_s": rounded(data["timings"].get("total_s")),
        "phases_s": phases,  # seconds from process start at the end of each phase
    }


def _ui_command() -> list[str]:
    script = Path(sys.executable).with_name("assistant")
    return [str(script)] if script.exists() else [sys.executable, "-m", "assistant.cli"]


def _wait_until_served(url: str, proc: subprocess.Popen[bytes], log: Any, deadline: float) -> None:
    """Poll `url` until it answers 200; fail with the server's log when it exits or takes too long."""
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"`assistant serve` exited: {log.read().decode()[-800:]}")
        if time.time() > deadline:
            raise RuntimeError("`assistant serve` did not come up")
        with suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.05)


def _watch_status(client: Any, pid: int, started: float, timeout: float, out: dict[str, Any]) -> None:
    """Ask the page's status line once a second, as its own timer does, until "Ready" (`out["ui_ready_s"]`,
    to the second); the server's RSS then."""
    while time.time() - started < timeout:
        note = str(client.predict(api_name="/status")[0])
        if "status ready" in note:
            out["ui_ready_s"] = rounded(time.time() - started)
            out["rss_mb_ready"] = rounded(tree_mb("VmRSS", pid), 0)
            return
        if "status error" in note:
            out["ui_status"] = note
            return
        time.sleep(1.0)


def ui_cold_start(
    settings: Settings,
    questions: Sequence[str],
    timeout: float = 300.0,
    served: Callable[[str], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`assistant serve` in a fresh process: page up, warm-up done, first answers through the UI; peak RSS.

    The first question is asked as soon as the page is up, as the page invites ("you can type already"); the
    page's status line is read once a second meanwhile, as its timer does, for when it says "Ready".

    `served(url)`, if given, runs against the same server after those answers and its figures are added
    (`benchmarks/sessions.py`: simultaneous chat sessions)."""
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    out: dict[str, Any] = {}
    with tempfile.TemporaryFile() as log:
        started = time.time()
        proc = subprocess.Popen(
            [*_ui_command(), "serve", "--port", str(port)], stdout=log, stderr=log, env=_child_env(settings)
        )
        try:
            _wait_until_served(url, proc, log, started + timeout)
            out["ui_up_s"] = rounded(time.time() - started)
            client = Client(url, verbose=False)
            ready = threading.Thread(target=_watch_status, args=(client, proc.pid, started, timeout, out), daemon=True)
            ready.start()
            answers = []
            for n, question in enumerate(questions):  # the first asked at once, as the page invites
                asked = time.time()
                client.predict(question, api_name="/add_turn")
                client.predict(settings.llm, "", settings.top_k, False, api_name="/answer_turn")
                if n == 0:
                    out["ui_first_answer_s"] = rounded(time.time() - started)
                    ready.join(timeout)
                    if "ui_ready_s" not in out:
                        raise RuntimeError(f"the UI's warm-up did not finish: {out.get('ui_status')}")
                    # Seen to the second; the answer came after "Ready" (the page answers only then).
                    out["ui_ready_s"] = min(out["ui_ready_s"], out["ui_first_answer_s"])
                else:
                    answers.append(time.time() - asked)
            out["ui_answer_s_p50"] = rounded(median(answers)) if answers else None
            if served is not None:
                out.update(served(url))
            out["rss_mb_peak"] = rounded(tree_mb("VmHWM", proc.pid), 0)
            out["rss_mb_after"] = rounded(tree_mb("VmRSS", proc.pid), 0)
        finally:
            proc.send_signal(signal.SIGINT)  # as Ctrl-C: the server stops its child, so its CPU counts as ours
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return out
