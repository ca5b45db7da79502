"""The single measurements behind `assistant bench`: each returns a small dict of rounded figures.

In-process: warm answers with token counts, retrieval alone, index builds (the fresh-process probes are in
`assistant.coldstart`; simultaneous sessions and the corpus-size curve in `benchmarks/`). Heavy imports stay
inside the functions, because the cold-start probes time fresh interpreters that import this module.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .evaluation.report import percentile  # one definition for the bench and `assistant eval`


# -- small helpers -----------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def disk_bytes(path: Path) -> int:
    """Bytes of the files under `path` (symlinks not followed)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def proc_mb(field_name: str, pid: int | str = "self") -> float | None:
    """VmRSS / VmHWM (peak RSS) of a process in MiB, from /proc (None elsewhere or once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def tree_mb(field_name: str, pid: int) -> float | None:
    """`proc_mb` summed over a process and its children (`assistant serve` embeds in a child process); for
    VmHWM the sum of each one's peak, an upper bound of the peak they held together."""
    own = proc_mb(field_name, pid)
    if own is None:
        return None
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return own + sum(proc_mb(field_name, child) or 0.0 for child in children)


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def _machine_cpu_s() -> float:
    """CPU seconds spent busy by the whole machine since boot, all cores together (/proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """CPU seconds of this process and of its waited-for children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Contention:
    """Share of the machine's CPU that *other* processes used while a measurement ran (0 = it had it alone).

    Why: on a shared 2-core machine the load average alone does not say whether a given figure was
    disturbed; this does, per measurement. Children count as ours once they have been waited for.
    """

    def __enter__(self) -> Contention:
        self.started, self.machine, self.own = time.perf_counter(), _machine_cpu_s(), _own_cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.started
        others = (_machine_cpu_s() - self.machine) - (_own_cpu_s() - self.own)
        self.others = round(max(0.0, others) / (wall * (os.cpu_count() or 1)), 2) if wall > 0 else 0.0


def wait_for_quiet(limit: float, timeout: float) -> float:
    """Wait (at most `timeout` s) until other processes use under `limit` of the CPU for 2 s; seconds waited."""
    started = time.perf_counter()
    quiet = 0
    while time.perf_counter() - started < timeout and quiet < 2:
        with Contention() as c:
            time.sleep(1.0)
        quiet = quiet + 1 if c.others < limit else 0
    return round(time.perf_counter() - started, 1)


def wait_for_load(limit: float, timeout: float) -> float:
    """Wait (at most `timeout` s) until the 1-minute load average is under `limit`; seconds waited.

    Why besides `wait_for_quiet`: the load average also counts this benchmark's previous part, whose processes
    are gone but whose threads still weigh on it for a minute or two."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout and load_avg() >= limit:
        time.sleep(2.0)
    return round(time.perf_counter() - started, 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dev_questions(gold: Path, n: int | None = None, answerable: bool | None = True) -> list[str]:
    """Questions of the dev set in file order (answerable ones by default: they reach the LLM)."""
    rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if answerable is None or bool(r.get("answerable", True)) == answerable]
    questions = [str(r["question"]) for r in rows]
    return questions[:n] if n else questions


def _clear_query_cache() -> None:
    """Forget cached query vectors, so that a timed search pays for embedding the question as a user does."""
    from .retrieval import hybrid as retrieve

    cached = getattr(retrieve, "_cached", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


# -- token counting with the LLM's own tokenizer -------------------------------------------------------------
class Tokens:
    """Counts tokens with the local model's tokenizer and chat template; words for other backends."""

    def __init__(self, chat: Any):
        from .llm import LlamaCppChat

        self.llama = None
        self.formatter: Any = None
        if isinstance(chat, LlamaCppChat):
            self.llama = chat.llama()
            with suppress(Exception):  # a template the formatter cannot render: count message texts instead
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                template = self.llama.metadata["tokenizer.chat_template"]
                eos, bos = self.llama.token_eos(), self.llama.token_bos()
                self.formatter = Jinja2ChatFormatter(
                    template=template,
                    eos_token=self.llama._model.token_get_text(eos) if eos != -1 else "",
                    bos_token=self.llama._model.token_get_text(bos) if bos != -1 else "",
                )

    @property
    def unit(self) -> str:
        return "llama tokens" if self.llama is not None else "words (no local tokenizer)"

    def text(self, text: str) -> int:
        if self.llama is None:
            return len(text.split())
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt(self, messages: Sequence[Any]) -> int:
        """Tokens of the prompt as the model sees it (chat template included)."""
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        chat = [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in messages]
        if self.llama is not None and self.formatter is not None:
            rendered = self.formatter(messages=chat).prompt
            return len(self.llama.tokenize(rendered.encode("utf-8"), add_bos=False, special=True))
        return sum(self.text(m["content"]) for m in chat)


# -- the question mix ------------------------------------------------------------------------------------------
#: The kinds of question a realistic mix holds, one of each per document where the gold set has it.
KINDS = ("fact", "why", "who", "comments", "unanswerable", "follow-up")


@dataclass(frozen=True)
class Case:
    """One question of the mix: which corpus it is asked of, its kind, and the conversation before it."""

    corpus: str
    kind: str
    question: str
    history: tuple[tuple[str, str], ...] = ()


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def question_mix(
    seeds_dir: Path, dev: Path, followups: Path | None, shared_docs: Path | None
) -> tuple[dict[str, Path], list[Case]]:
    """The corpora (name → seeds folder) and the questions asked of them, the same for both pipelines.

    Per document: the first fact, why, who, comments (else multi) and unanswerable question of its dev or
    train split, and the first follow-up of its conversations. Test splits are never used: they are for
    reporting quality. Why a mix: a bench of two answerable dev questions misses the refusals (cheap) and
    the follow-ups (an extra model call) that real conversations hold.
    """
    corpora: dict[str, Path] = {"seed": seeds_dir}
    sources: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
        ("seed", _rows(dev), _rows(followups / "multiturn.jsonl") if followups else [])
    ]
    if shared_docs is not None and shared_docs.is_dir():
        for folder in sorted(p for p in shared_docs.iterdir() if (p / "gold.jsonl").is_file()):
            corpora[folder.name] = folder
            conv = followups / "followups" / f"{folder.name}.jsonl" if followups else None
            sources.append((folder.name, _rows(folder / "gold.jsonl"), _rows(conv) if conv and conv.is_file() else []))
    cases: list[Case] = []
    for name, gold, conversations in sources:
        gold = [r for r in gold if r.get("split", "train") == "train" and not r.get("history")]
        for kind in KINDS[:-1]:
            wanted = (kind, "multi") if kind == "comments" else (kind,)
            row = next((r for want in wanted for r in gold if r.get("type") == want), None)
            if row is not None:
                cases.append(Case(name, kind, str(row["question"])))
        row = next((r for r in conversations if r.get("split", "train") == "train" and r.get("history")), None)
        if row is not None:
            history = tuple((str(q), str(a)) for q, a in row["history"])
            cases.append(Case(name, "follow-up", str(row["question"]), history))
    return corpora, cases


# -- counting model calls and prompt tokens ------------------------------------------------------------------
class CallMeter:
    """Counts the model calls of an answer and their prompt tokens; with llama.cpp, also the KV-cache reuse.

    Installed as a LangChain callback on the shared chat model (so it sees the follow-up rewrite too) and,
    for the local model, around `Llama.generate`, where llama.cpp decides how much of the previous prompt's
    evaluated prefix it keeps: `reused` tokens are not evaluated again.
    """

    def __init__(self, chat: Any, tokens: Tokens):
        from langchain_core.callbacks import BaseCallbackHandler

        meter = self
        self.calls: list[dict[str, int]] = []

        class Handler(BaseCallbackHandler):
            def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
                meter.calls.append({"prompt_tokens": tokens.prompt(messages[0])})

            def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
                meter.calls.append({"prompt_tokens": sum(tokens.text(p) for p in prompts)})

        chat.callbacks = [*(chat.callbacks or []), Handler()]
        self.reuse: list[tuple[int, int]] = []  # (prompt tokens, of which reused from the KV cache)
        llama = tokens.llama
        if llama is not None and not hasattr(llama, "_meter_wrapped"):
            generate = llama.generate

            def metered(prompt: Any, *args: Any, **kwargs: Any) -> Any:
                cached = llama._input_ids[: llama.n_tokens].tolist()
                same = 0
                for a, b in zip(cached, prompt, strict=False):
                    if a != b:
                        break
                    same += 1
                meter.reuse.append((len(prompt), min(same, len(prompt) - 1)))
                return generate(prompt, *args, **kwargs)

            llama.generate = metered
            llama._meter_wrapped = True

    def take(self) -> dict[str, Any]:
        """The calls since the last `take()`: their number, prompt tokens and KV-cache reuse; then reset."""
        calls, reuse = self.calls, self.reuse
        self.calls, self.reuse = [], []
        return {
            "model_calls": len(calls),
            "prompt_tokens": sum(c["prompt_tokens"] for c in calls),
            "prompt_tokens_last": calls[-1]["prompt_tokens"] if calls else 0,
            "kv_reused_tokens": sum(r for _, r in reuse) if reuse else None,
            "kv_prompt_tokens": sum(n for n, _ in reuse) if reuse else None,
        }


# -- the measurements ------------------------------------------------------------------------------------------
def ask_assistant(assistant: Any, case: Case, meter: CallMeter, tokens: Tokens) -> dict[str, Any]:
    """Ask through `Assistant.stream`, timestamping the evidence, the first and the last token."""
    from .answer import Answer
    from .answering.evidence import Found

    meter.take()
    started = time.perf_counter()
    found = first = last = None
    parts: list[str] = []
    answer: Answer | None = None
    for item in assistant.stream(case.question, history=list(case.history) or None):
        now = time.perf_counter() - started
        if isinstance(item, Answer):
            answer = item
        elif isinstance(item, Found):
            found = now
        else:
            first = first if first is not None else now
            last = now
            parts.append(item)
    total = time.perf_counter() - started
    assert answer is not None
    calls = meter.take()
    if not calls["model_calls"]:  # answered without the model (early refusal, outline): all of it at once
        first, parts = total, []
    return _record(case, found, first, last, total, parts, calls, tokens, answer.refused)


def ask_baseline(baseline: Any, case: Case, meter: CallMeter, tokens: Tokens) -> dict[str, Any]:
    """Ask the baseline recipe (it has no memory: a follow-up is asked as it was typed)."""
    meter.take()
    answer = baseline.ask(case.question)
    t = answer.timings  # seconds from the start: its stream ends at `total_s`
    calls = meter.take()
    return _record(case, None, t["first_token_s"], t["total_s"], t["total_s"], [answer.answer], calls, tokens,
                   answer.refused)  # fmt: skip


def _record(
    case: Case,
    found: float | None,
    first: float | None,
    last: float | None,
    total: float,
    parts: list[str],
    calls: dict[str, Any],
    tokens: Tokens,
    refused: bool,
) -> dict[str, Any]:
    """One answer: when the evidence, the first and last token came, model calls, tokens, generation speed."""
    n = tokens.text("".join(parts)) if calls["model_calls"] else 0
    gen_s = (last - first) if (first is not None and last is not None) else 0.0
    return {
        "corpus": case.corpus,
        "kind": case.kind,
        "question": case.question,
        "refused": refused,
        "evidence_s": rounded(found, 3),
        "ttft_s": rounded(first if first is not None else total, 3),
        "total_s": rounded(total, 3),
        **calls,
        "answer_tokens": n,
        "tokens_per_s": rounded((n - 1) / gen_s, 1) if n > 1 and gen_s > 0 else None,
        "after_generation_s": rounded(total - last, 3) if calls["model_calls"] and last is not None else None,
    }


def summarise_answers(records: list[dict[str, Any]]) -> dict[str, Any]:
    """p50 and p95 over every answer of the mix (an early refusal counts with its own, short, time)."""

    def p(key: str, q: float, rows: list[dict[str, Any]] = records, digits: int = 2) -> float | None:
        return rounded(percentile([r.get(key) for r in rows], q), digits)

    llm = [r for r in records if r["model_calls"]]
    reused, evaluated = (
        sum(r["kv_reused_tokens"] or 0 for r in records),
        sum(r["kv_prompt_tokens"] or 0 for r in records),
    )
    by_kind = {}
    for kind in dict.fromkeys(r["kind"] for r in records):
        rows = [r for r in records if r["kind"] == kind]
        by_kind[kind] = {
            "answers": len(rows),
            "ttft_s_p50": p("ttft_s", 50, rows),
            "ttft_s_p95": p("ttft_s", 95, rows),
            "total_s_p50": p("total_s", 50, rows),
            "total_s_p95": p("total_s", 95, rows),
            "model_calls_p50": p("model_calls", 50, rows, 1),
            "prompt_tokens_p50": p("prompt_tokens", 50, rows, 0),
        }
    return {
        "evidence_s_p50": p("evidence_s", 50),
        "evidence_s_p95": p("evidence_s", 95),
        "ttft_s_p50": p("ttft_s", 50),
        "ttft_s_p95": p("ttft_s", 95),
        "total_s_p50": p("total_s", 50),
        "total_s_p95": p("total_s", 95),
        "tokens_per_s": p("tokens_per_s", 50, llm, 1),
        "prompt_tokens_p50": p("prompt_tokens", 50, llm, 0),
        "prompt_tokens_p95": p("prompt_tokens", 95, llm, 0),
        "prompt_tokens_max": max((r["prompt_tokens"] for r in llm), default=None),
        "model_calls_p50": p("model_calls", 50, records, 1),
        "model_calls_mean": rounded(statistics.fmean(r["model_calls"] for r in records)) if records else None,
        "kv_reused_share": rounded(reused / evaluated) if evaluated else None,
        "answer_tokens_p50": p("answer_tokens", 50, llm, 0),
        "after_generation_s_p50": p("after_generation_s", 50, llm),
        "answers": len(records),
        "early_refusals": len(records) - len(llm),
        "by_kind": by_kind,
    }


def time_retrieval(search: Callable[[str], Any], questions: Sequence[str], runs: int) -> dict[str, Any]:
    """Retrieval alone, question embedding included (the query cache is cleared before every search)."""
    cold: list[float] = []
    for _ in range(runs):
        for q in questions:
            _clear_query_cache()
            started = time.perf_counter()
            search(q)
            cold.append(1000 * (time.perf_counter() - started))
    return {
        "retrieval_ms_p50": rounded(median(cold)),
        "retrieval_ms_p95": rounded(percentile(cold, 95)),
        "retrievals": len(cold),
    }
