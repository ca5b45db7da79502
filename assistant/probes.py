"""The single measurements behind `assistant bench`: each returns a small dict of rounded figures.

In-process: warm answers with token counts, retrieval alone, index builds, one corpus-size point.
Fresh processes: the cold first answer and the cold start of `assistant serve` (page up, models loaded,
first answers through the UI, peak RSS). Heavy imports stay inside the functions, because the cold-start
probes time fresh interpreters that import this module.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .evaluation.report import percentile  # one definition for the bench and `assistant eval`
from .settings import Settings


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


def synthetic_corpus(seeds_dir: Path, folder: Path, n: int) -> Path:
    """`n` documents, each the seed's non-empty lines (its paragraphs) in a shuffled order; reused if present.

    Same recipe and random seeds as the scaling study of docs/scaling.md, so the passage texts (and any
    cached vectors) match it.
    """
    out = folder / "seeds"
    if out.is_dir() and len(list(out.glob("doc*.txt"))) == n:
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    lines: list[str] = []
    for path in sorted(seeds_dir.glob("*.txt")) + sorted(seeds_dir.glob("*.md")):
        lines += [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    for i in range(n):
        order = lines[:]
        random.Random(i).shuffle(order)
        (out / f"doc{i:04d}.txt").write_text("\n".join(order) + "\n", encoding="utf-8")
    return out


# -- embeddings: a timed wrapper with an optional text → vector cache (synthetic corpora only) ---------------
def timed_embedder(real: Any, table: dict[str, list[float]] | None = None) -> Any:
    """Wrap an `Embeddings`: time its document calls; with a table, embed each distinct text only once."""
    from langchain_core.embeddings import Embeddings

    class Timed(Embeddings):
        def __init__(self) -> None:
            self.real, self.table, self.embedded, self.seconds = real, table, 0, 0.0

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            started = time.perf_counter()
            try:
                if self.table is None:
                    self.embedded += len(texts)
                    return list(self.real.embed_documents(texts))
                missing = [t for t in dict.fromkeys(texts) if t not in self.table]
                if missing:
                    self.embedded += len(missing)
                    self.table.update(zip(missing, self.real.embed_documents(missing), strict=True))
                return [self.table[t] for t in texts]
            finally:
                self.seconds += time.perf_counter() - started

        def embed_query(self, text: str) -> list[float]:
            return list(self.real.embed_query(text))

    return Timed()


def load_vectors(path: Path | None) -> dict[str, list[float]]:
    """The text → vector cache of the synthetic corpora (`texts` and `vectors` arrays in an .npz)."""
    if path is None or not path.is_file():
        return {}
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return dict(zip(data["texts"].tolist(), data["vectors"].tolist(), strict=True))


def save_vectors(path: Path, table: dict[str, list[float]]) -> None:
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez_compressed(partial, texts=np.array(list(table)), vectors=np.array(list(table.values()), dtype=np.float32))
    partial.replace(path)


@contextmanager
def _embedder(wrapper: Any) -> Iterator[None]:
    """Make the index module use `wrapper` as its embedding model for a while (benchmark only)."""
    from .index import build, embeddings, store

    modules = (embeddings, build, store)  # each looks the embedder up in its own namespace
    real = embeddings.embedding_model
    for module in modules:
        module.embedding_model = lambda: wrapper  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in modules:
            module.embedding_model = real  # type: ignore[attr-defined]


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
    code = f"from assistant.probes import cold_child; cold_child({pipeline!r}, {question!r}, {started!r})"
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


def ui_cold_start(
    settings: Settings,
    questions: Sequence[str],
    timeout: float = 300.0,
    users: Sequence[int] = (),
    session_questions: Sequence[str] = (),
    per_user: int = 1,
) -> dict[str, Any]:
    """`assistant serve` in a fresh process: page up, warm-up done, first answers through the UI; peak RSS.

    With `users`, then simultaneous chat sessions against the same server (`ui_sessions`)."""
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
            while True:  # the page's own status line: "Ready" once the index and the models are loaded
                note = str(client.predict(api_name="/status")[0])
                if "status ready" in note or "status error" in note:
                    break
                if time.time() - started > timeout:
                    raise RuntimeError("the UI did not finish its warm-up")
                time.sleep(0.1)
            out["ui_ready_s"] = rounded(time.time() - started)
            if "status error" in note:
                raise RuntimeError(f"the UI's warm-up failed: {note}")
            out["rss_mb_ready"] = rounded(proc_mb("VmRSS", proc.pid), 0)
            answers = []
            for n, question in enumerate(questions):
                asked = time.time()
                client.predict(question, api_name="/add_turn")
                client.predict(settings.llm, "", settings.top_k, False, api_name="/answer_turn")
                answers.append(time.time() - asked)
                if n == 0:
                    out["ui_first_answer_s"] = rounded(time.time() - started)
            out["ui_answer_s_p50"] = rounded(median(answers))
            if users:
                out["sessions"] = ui_sessions(url, settings, session_questions, users, per_user)
            out["rss_mb_peak"] = rounded(proc_mb("VmHWM", proc.pid), 0)
            out["rss_mb_after"] = rounded(proc_mb("VmRSS", proc.pid), 0)
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return out


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
    import threading

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


# -- the corpus-size curve --------------------------------------------------------------------------------------
def scale_point(
    seeds: Path, index_dir: Path, questions: Sequence[str], vectors: Path | None, runs: int = 2
) -> dict[str, Any]:
    """Build an index of the corpus in `seeds`, then open it as the app does and time queries.

    With `vectors`, a passage text embedded by an earlier run is looked up instead of embedded again (the
    synthetic documents share their paragraphs), so `build_s` is mostly parsing and Chroma; `embed_s`
    is the model time actually spent. docs/performance.md projects the build of distinct documents from it.
    """
    from .index import all_passages, embedding_model, ensure_index, load_corpus, open_store, store_dir
    from .retrieval.hybrid import HybridRetriever

    settings = Settings(seeds_dir=seeds, index_dir=index_dir, llm="fake")
    model = embedding_model()
    model.embed_query("warm up")
    table = load_vectors(vectors) if vectors else None
    known = len(table) if table is not None else 0
    wrapper = timed_embedder(model, table)
    out: dict[str, Any] = {"documents": len(list(seeds.glob("*.txt"))), "load_before": load_avg()}
    contention = Contention().__enter__()
    started = time.perf_counter()
    corpus = load_corpus(settings)
    out["parse_s"] = rounded(time.perf_counter() - started)
    with _embedder(wrapper):
        started = time.perf_counter()
        report = ensure_index(settings, rebuild=True, corpus=corpus)
        out["build_s"] = rounded(time.perf_counter() - started)
        out["passages"] = report.passages
        out["distinct_texts"] = len({p.text for p in corpus.passages})
        out["embedded"] = wrapper.embedded
        out["embed_s"] = rounded(wrapper.seconds)
        out["store_s"] = rounded(out["build_s"] - wrapper.seconds)
        out["index_mb"] = rounded(disk_bytes(store_dir(settings)) / 2**20, 1)
        rss = proc_mb("VmRSS") or 0.0
        started = time.perf_counter()
        store = open_store(settings)
        retriever = HybridRetriever(store=store, passages=all_passages(store), k=settings.top_k)
        out["open_s"] = rounded(time.perf_counter() - started)
        timed = time_retrieval(lambda q: retriever.search(q, settings.top_k), questions, runs)
        out["query_ms_p50"], out["query_ms_p95"] = timed["retrieval_ms_p50"], timed["retrieval_ms_p95"]
        for q in questions:  # fill the query-vector cache (each timed search above cleared it)
            retriever.search(q, settings.top_k)
        warm: list[float] = []
        for q in questions:  # query vectors cached: what the index itself costs
            started = time.perf_counter()
            retriever.search(q, settings.top_k)
            warm.append(1000 * (time.perf_counter() - started))
        out["search_ms_p50"] = rounded(median(warm))
        out.update(_split_search(retriever, questions))
        out["index_rss_mb"] = rounded((proc_mb("VmRSS") or 0.0) - rss, 0)
        out["rss_mb_peak"] = rounded(proc_mb("VmHWM"), 0)
    if vectors is not None and table is not None and len(table) > known:
        save_vectors(vectors, table)
    contention.__exit__()
    out["others_cpu"] = contention.others
    out["load_after"] = load_avg()
    return out


def _split_search(retriever: Any, questions: Sequence[str]) -> dict[str, Any]:
    """Dense and BM25 halves of a search (query vectors cached), to see which one grows with the corpus."""
    dense, lexical = getattr(retriever, "_dense", None), getattr(retriever, "_lexical", None)
    if dense is None or lexical is None:  # the retriever changed shape: skip the split, keep the total
        return {}
    times: dict[str, list[float]] = {"dense": [], "bm25": []}
    for q in questions:
        for name, part in (("dense", dense), ("bm25", lexical)):
            started = time.perf_counter()
            part(q, None)
            times[name].append(1000 * (time.perf_counter() - started))
    return {f"{name}_ms_p50": rounded(median(values)) for name, values in times.items()}


def scale_child(args: str) -> None:
    """Entry point of one isolated corpus size: JSON arguments in, one JSON line out."""
    a = json.loads(args)
    out = scale_point(Path(a["seeds"]), Path(a["index"]), a["questions"], a["vectors"] and Path(a["vectors"]))
    print(json.dumps(out), flush=True)
