"""Simultaneous chat sessions against one `assistant serve`: time to first token per user with 1, 2, 4 users.

Run by `benchmarks/run.py` through the `served` hook of `assistant.bench.run` (the server it starts for its
cold start); not part of the installed package.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from assistant.evaluation.report import percentile
from assistant.probes import rounded
from assistant.settings import Settings


def served(
    settings: Settings, questions: Sequence[str], users: Sequence[int], per_user: int = 1
) -> Callable[[str], dict[str, Any]]:
    """The `served` hook: the sessions against the running server's URL, as `{"sessions": ...}`."""
    return lambda url: {"sessions": ui_sessions(url, settings, questions, users, per_user)}


def _first_token_s(client: Any, settings: Settings, question: str) -> tuple[float, float]:
    """One chat turn through the served UI: seconds to the first model token on the page, and to the end.

    The first output that is no longer a "Searching…/Waiting…" note (a draft with its cursor, or an answer
    that needed no model) counts as the first token.
    """
    asked = time.perf_counter()
    client.predict(question, api_name="/add_turn")
    job = client.submit(settings.llm, "", settings.top_k, False, api_name="/answer_turn")
    first = None
    for out in job:
        messages = out[0] if isinstance(out, tuple) else out
        last = str(messages[-1]) if isinstance(messages, list) and messages else str(messages)
        if first is None and ("▌" in last or 'class="pending"' not in last):
            first = time.perf_counter() - asked
    total = time.perf_counter() - asked
    return (first if first is not None else total), total


def ui_sessions(
    url: str, settings: Settings, questions: Sequence[str], users: Sequence[int], per_user: int = 1
) -> dict[str, Any]:
    """Time to first token per user with 1, 2, 4 … chat sessions asking at once against one served UI.

    Each simulated user has its own session (its own `Client`, so its own conversation state) and asks its
    own questions, `per_user` of them, starting together with the others: user k asks the k-th slice of
    `questions`, so no prompt repeats one llama.cpp still holds in its cache (a repeated prompt costs almost
    nothing and would flatter the figure). The model answers one prompt at a time, so a user's wait
    includes the answers ahead of theirs.
    """
    out = {}
    for n in users:
        asked, questions = questions[: n * per_user], questions[n * per_user :]
        if len(asked) < n * per_user:
            raise ValueError(f"{n} users asking {per_user} question(s) each need {n * per_user} new questions")
        out[str(n)] = _sessions_at_once(url, settings, asked, n, per_user)
    return out


def _sessions_at_once(url: str, settings: Settings, questions: Sequence[str], n: int, per_user: int) -> dict[str, Any]:
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(n)]
    ttft: list[float] = []
    totals: list[float] = []
    errors: list[str] = []
    start = threading.Barrier(n)

    def user(client: Any, k: int) -> None:
        start.wait()
        for question in questions[k * per_user : (k + 1) * per_user]:
            try:
                first, total = _first_token_s(client, settings, question)
            except Exception as exc:  # recorded, not fatal: one failed session should not hide the others
                errors.append(f"{exc.__class__.__name__}: {exc}")
                continue
            ttft.append(first)
            totals.append(total)

    threads = [threading.Thread(target=user, args=(c, k)) for k, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "users": n,
        "answers": len(ttft),
        "ttft_s_p50": rounded(percentile(ttft, 50)),
        "ttft_s_p95": rounded(percentile(ttft, 95)),
        "total_s_p50": rounded(percentile(totals, 50)),
        "total_s_p95": rounded(percentile(totals, 95)),
        "errors": errors[:3],
    }


def format_sessions(results: dict[str, Any]) -> str:
    """The sessions as a Markdown table (empty without them)."""
    from assistant.bench_report import _fmt

    lines: list[str] = []
    if results.get("sessions"):
        lines += [
            "",
            "| simultaneous chat sessions | answers | first token p50 / p95 (s) | total p50 / p95 (s) |",
            "|---:|---:|---:|---:|",
        ]
        for n, row in results["sessions"].items():
            lines.append(
                f"| {n} | {row['answers']} | {_fmt(row['ttft_s_p50'])} / {_fmt(row['ttft_s_p95'])} | "
                f"{_fmt(row['total_s_p50'])} / {_fmt(row['total_s_p95'])} |"
            )
    return "\n".join(lines)
