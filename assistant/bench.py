"""`assistant bench`: what a user waits for on this machine, each figure a median over several runs.

Cold start (a fresh process until its first answer; until the chat page is up and its models are loaded),
warm answers (time to first token, total, generation speed, prompt size in the LLM's own tokens), retrieval
alone, the index build for the seed, and peak RSS of the serving process, all for the assistant and, in the
same run, for the baseline recipe (`assistant.evaluation.baseline`). `benchmarks/run.py` is the script form
with every knob, and adds simultaneous chat sessions and the corpus-size curve through the hooks `served` and
`after`; docs/performance.md holds the published numbers and the command behind them.

The single measurements are in `assistant.probes` and `assistant.startup`; this module runs them and shapes
the JSON.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .bench_report import format_report
from .probes import (
    KINDS,
    CallMeter,
    Contention,
    Tokens,
    ask_assistant,
    ask_baseline,
    dev_questions,
    load_avg,
    median,
    question_mix,
    rounded,
    summarise_answers,
    time_retrieval,
    wait_for_load,
    wait_for_quiet,
)
from .settings import PROJECT_ROOT, Settings
from .startup import build_baseline_index, build_seed_index, cold_answer, ui_cold_start

__all__ = ["KEYS", "RATIO_GOALS", "TARGETS", "BenchOptions", "format_report", "run"]

#: The keys `assistant bench --json` always prints (None when a part was skipped).
KEYS = (
    "cold_first_answer_s",
    "ttft_s_p50",
    "total_s_p50",
    "tokens_per_s",
    "retrieval_ms_p50",
    "retrieval_ms_p95",
    "index_seed_s",
    "rss_mb_peak",
    "evidence_s_p50",
    "prompt_tokens_p50",
)
#: The goals of issue 16, as ratios to the baseline measured in the same run: (key, limit, what it means).
RATIO_GOALS = (
    ("ttft_s_p50", 0.6, "first token p50 ≤ 0.6× the baseline's"),
    ("total_s_p50", 0.8, "answer total p50 ≤ 0.8×"),
    ("total_s_p95", 1.0, "answer total p95 ≤ 1.0×"),
    ("cold_first_answer_s", 1.0, "cold start to a first answer ≤ 1.0×"),
    ("ui_first_answer_s", 1.0, "`assistant serve` to a first answer ≤ 1.0× (the baseline's fresh process)"),
)
#: The budgets of issue 6: (key, limit, what it means). All are upper bounds.
TARGETS = (
    ("ttft_s_p50", 2.0, "warm time to first token ≤ 2 s"),
    ("total_s_p50", 8.0, "warm answer total ≤ 8 s"),
    ("retrieval_ms_p50", 25.0, "retrieval p50 ≤ 25 ms (seed)"),
    ("retrieval_ms_p50_1000", 60.0, "retrieval p50 ≤ 60 ms at 1,000 documents"),
    ("index_seed_s", 3.0, "seed index build ≤ 3 s after model load"),
    ("rss_mb_peak", 3072.0, "peak RSS of the serving app ≤ 3 GiB"),
    ("ui_ready_s", 15.0, "cold start → UI ready (models loaded) ≤ 15 s"),
    ("evidence_s_p50", 0.5, "evidence yielded by stream() ≤ 0.5 s after asking (p50)"),
    ("prompt_tokens_p50", 450.0, "prompt tokens per answer p50 ≤ 450"),
)
GIB = 1024.0


@dataclass
class BenchOptions:
    """What to measure and how often. `BenchOptions.quick()` fits in about two minutes."""

    llm: str = "local"
    questions: int = 8  # answerable dev questions for the cold starts and the UI
    kinds: tuple[str, ...] = KINDS  # the question mix: these kinds, per document (`probes.question_mix`)
    mix_limit: int | None = None  # at most this many questions of the mix (tests)
    runs: int = 1  # passes over the question mix
    cold_runs: int = 3  # fresh processes per pipeline
    index_runs: int = 3  # seed index (re)builds per pipeline
    retrieval_runs: int = 5  # passes over the dev questions for retrieval alone
    ui_questions: int = 2  # questions asked through the served UI before reading its peak RSS
    baseline: bool = True
    cold: bool = True
    ui: bool = True
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    gold: Path = PROJECT_ROOT / "eval" / "dev.jsonl"
    followups: Path | None = PROJECT_ROOT / "eval"  # multiturn.jsonl and followups/<document>.jsonl
    shared_docs: Path | None = PROJECT_ROOT.parent / "shared" / "eval" / "docs"  # more documents with train splits
    work_dir: Path | None = None  # default: a temporary folder, removed afterwards
    results_dir: Path | None = PROJECT_ROOT / "benchmarks" / "results"
    quiet_wait: float = 0.0  # before each timed part, wait up to this many seconds for a quiet machine
    quiet_limit: float = 0.15  # "quiet": other processes use under this share of the CPU
    max_load: float | None = None  # before each timed part, also wait (up to quiet_wait s) for a lower load average
    cold_only: bool = False  # only the cold starts: the baseline's fresh process and `assistant serve`, alternating
    quick_mode: bool = False
    progress: Callable[[str], None] | None = field(default=None, repr=False)
    # run against `assistant serve` after its first answers, with its URL; the figures join the assistant's
    served: Callable[[str], dict[str, Any]] | None = field(default=None, repr=False)
    # run at the end with (options, work folder, settle); the figures join the results' top level
    after: Callable[[BenchOptions, Path, Callable[[], None]], dict[str, Any]] | None = field(default=None, repr=False)

    @classmethod
    def quick(cls, **overrides: Any) -> BenchOptions:
        """A 16-question mix, fewer runs."""
        base = cls(
            questions=2,
            kinds=("fact", "why", "unanswerable", "follow-up"),
            runs=1,
            cold_runs=1,
            index_runs=2,
            retrieval_runs=3,
            ui_questions=1,
            quick_mode=True,
        )
        return replace(base, **overrides)


# -- the question mix, both pipelines -------------------------------------------------------------------------
def warm_answers(
    options: BenchOptions,
    work: Path,
    settings: Settings,
    chat: Any,
    tokens: Tokens,
    settle: Callable[[], None],
    with_baseline: bool = True,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every question of the mix through both pipelines, on one loaded model; records per answer.

    Interleaved by document: the assistant's questions about one document, then the baseline's (the
    other way round for the next document), so that both see the same machine load while each keeps
    the KV-cache reuse it would have in a session of its own.
    """
    from .core import Assistant
    from .evaluation.baseline import Baseline

    corpora, cases = question_mix(options.seeds_dir, options.gold, options.followups, options.shared_docs)
    cases = [c for c in cases if c.kind in options.kinds][: options.mix_limit]
    meter = CallMeter(chat, tokens)
    records: dict[str, list[dict[str, Any]]] = {"assistant": [], "baseline": []}
    for i, (name, folder) in enumerate(corpora.items()):
        asked = [c for c in cases if c.corpus == name]
        if not asked:
            continue
        local = settings if name == "seed" else settings.model_copy(
            update={"seeds_dir": folder, "index_dir": work / f"mix-{name}" / "index"}
        )  # fmt: skip
        assistant = Assistant(local, chat=chat)
        assistant.prepare()
        assistant.warm()  # as the chat window does once ready and idle (`ui.server.Warmup`)
        pipelines: list[tuple[str, Callable[[Any], dict[str, Any]]]] = [
            ("assistant", functools.partial(ask_assistant, assistant, meter=meter, tokens=tokens))
        ]
        if with_baseline:
            baseline = Baseline(local, chat=chat)
            baseline.build()
            pipelines.append(("baseline", functools.partial(ask_baseline, baseline, meter=meter, tokens=tokens)))
        for pipeline, ask in pipelines if i % 2 == 0 else pipelines[::-1]:
            _say(options, f"  {pipeline}: {len(asked)} questions about {name} ...")
            for case in [c for _ in range(options.runs) for c in asked]:
                settle()
                with Contention() as contention:
                    record = ask(case)
                records[pipeline].append(record | {"others_cpu": contention.others})
                _say(
                    options,
                    f"    {case.kind}: evidence {record['evidence_s']} s, first token {record['ttft_s']} s, total "
                    f"{record['total_s']} s, {record['model_calls']} call(s), {record['prompt_tokens']} prompt tokens",
                )
    return records["assistant"], records["baseline"]


# -- the whole run ---------------------------------------------------------------------------------------------
def _say(options: BenchOptions, message: str) -> None:
    if options.progress:
        options.progress(f"[bench {time.strftime('%H:%M:%S')} load {load_avg():.1f}] {message}")


def run(options: BenchOptions | None = None) -> dict[str, Any]:
    """Measure everything the options ask for; returns the results dict (see `KEYS`), also saved as JSON."""
    options = options or BenchOptions()
    temporary = options.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="assistant-bench-")) if temporary else Path(options.work_dir or "")
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = _run(options, work)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
    _save(results, options)
    return results


def _run(options: BenchOptions, work: Path) -> dict[str, Any]:
    from .core import Assistant
    from .evaluation.baseline import Baseline
    from .index import embedding_model

    seeds = work / "seeds"
    shutil.rmtree(seeds, ignore_errors=True)
    shutil.copytree(options.seeds_dir, seeds)
    settings = Settings(
        seeds_dir=seeds,
        index_dir=work / "index",
        llm=options.llm,  # type: ignore[arg-type]
        feedback_file=work / "feedback" / "feedback.jsonl",
    )
    questions = dev_questions(options.gold, options.questions)
    all_questions = dev_questions(options.gold, None, answerable=None)
    results: dict[str, Any] = {
        "command": " ".join(["assistant bench", *(["--quick"] if options.quick_mode else [])]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": sys.platform},
        "llm": options.llm,
        "load_avg": {"start": load_avg()},
        "questions": questions,
    }
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    busy: dict[str, Any] = {}  # share of the CPU other processes used during each part
    results["others_cpu"] = busy

    def step(name: str, message: str) -> None:  # the load average at the start of each part, for the record
        results["load_avg"][name] = load_avg()
        _say(options, message)

    def settle() -> None:  # on a shared machine: let other processes' bursts pass before a timed part
        if options.quiet_wait > 0:
            results["waited_s"] = results.get("waited_s", 0) + wait_for_quiet(options.quiet_limit, options.quiet_wait)
        if options.max_load is not None:
            results["waited_s"] = results.get("waited_s", 0) + wait_for_load(options.max_load, options.quiet_wait)

    def timed(name: str, measure: Callable[[], Any]) -> Any:
        settle()
        with Contention() as c:
            out = measure()
        busy[name] = c.others
        return out

    if options.cold_only:
        _cold_starts(options, settings, questions[0], a, b, step, settle)
        results["load_avg"]["end"] = load_avg()
        return _shape(results, a, b)

    step("embedding_model", "loading the embedding model ...")
    started = time.perf_counter()
    embedding_model().embed_query("warm up")
    a["embedding_load_s"] = rounded(time.perf_counter() - started)

    step("index", "seed index builds ...")
    a.update(timed("index", lambda: build_seed_index(settings, options.index_runs)))
    if options.baseline:
        b.update(timed("index_baseline", lambda: build_baseline_index(settings, work, options.index_runs)))

    assistant = Assistant(settings)
    baseline = Baseline(settings, chat=None) if options.baseline else None
    step("retrieval", "retrieval alone ...")
    _ = assistant.retriever  # open the store first: a server does that once
    search = assistant.retriever.search
    a.update(
        timed(
            "retrieval",
            lambda: time_retrieval(lambda q: search(q, settings.top_k), all_questions, options.retrieval_runs),
        )
    )
    if baseline is not None:
        baseline.build()
        store = baseline.store
        b.update(
            timed(
                "retrieval_baseline",
                lambda: time_retrieval(
                    lambda q: store.similarity_search_with_score(q, k=baseline.k), all_questions,
                    options.retrieval_runs,
                ),
            )
        )  # fmt: skip

    step("llm_load", "loading the LLM ...")
    started = time.perf_counter()
    chat = assistant.chat
    tokens = Tokens(chat)
    a["llm_load_s"] = rounded(time.perf_counter() - started)
    results["token_unit"] = tokens.unit
    if tokens.llama is not None:  # page the weights in, so the first timed answer is a warm one
        tokens.llama.create_completion("Hello", max_tokens=1)

    step("warm_answers", "the question mix, both pipelines, interleaved by document ...")
    a_records, b_records = warm_answers(options, work, settings, chat, tokens, settle, baseline is not None)
    a.update(summarise_answers(a_records))
    busy["warm_answers"] = median([r["others_cpu"] for r in a_records])
    results["answers"] = {"assistant": a_records}
    if b_records:
        b.update(summarise_answers(b_records))
        busy["warm_answers_baseline"] = median([r["others_cpu"] for r in b_records])
        results["answers"]["baseline"] = b_records

    if options.cold:
        for name, part in (("assistant", a), ("baseline", b)):
            if name == "baseline" and baseline is None:
                continue
            step(f"cold_{name}", f"cold start of the {name}: {options.cold_runs} fresh process(es) ...")
            fresh = functools.partial(cold_answer, settings, name, questions[0])
            runs = [_alone(fresh, settle) for _ in range(options.cold_runs)]
            busy[f"cold_{name}"] = median([r["others_cpu"] for r in runs])
            part["cold_first_answer_s"] = rounded(median([r["first_answer_s"] for r in runs]))
            part["cold_rss_mb"] = rounded(median([r["peak_rss_mb"] for r in runs]), 0)
            part["cold_runs"] = runs
    if options.ui:
        step("ui", "cold start of the UI (assistant serve) ...")
        a.update(
            timed(
                "ui",
                lambda: ui_cold_start(settings, questions[: max(1, options.ui_questions)], served=options.served),
            )
        )
    if baseline is not None and "cold_rss_mb" in b:
        b["rss_mb_peak"] = b["cold_rss_mb"]  # no UI of its own: the peak of its answering process

    if options.after is not None:
        results.update(options.after(options, work, settle))
    results["load_avg"]["end"] = load_avg()
    return _shape(results, a, b)


def _cold_starts(
    options: BenchOptions,
    settings: Settings,
    question: str,
    a: dict[str, Any],
    b: dict[str, Any],
    step: Callable[[str, str], None],
    settle: Callable[[], None],
) -> None:
    """The cold-start goal alone: `cold_runs` pairs of the baseline's fresh process and `assistant serve`, one
    after the other so that both see the same machine; the indexes are built first, untimed."""
    from .evaluation.baseline import Baseline
    from .index import ensure_index

    step("index", "building both indexes (not timed) ...")
    ensure_index(settings)
    Baseline(settings).build()
    step("cold", f"cold starts: {options.cold_runs} of the baseline and of `assistant serve`, alternating ...")
    base_runs: list[dict[str, Any]] = []
    ui_runs: list[dict[str, Any]] = []
    for n in range(options.cold_runs):
        for runs, measure in (
            (base_runs, lambda: cold_answer(settings, "baseline", question)),
            (ui_runs, lambda: ui_cold_start(settings, [question])),
        ):
            runs.append(_alone(measure, settle, with_load=True))
        _say(
            options,
            f"  {n + 1}: baseline {base_runs[-1]['first_answer_s']} s; serve up {ui_runs[-1]['ui_up_s']} s, ready "
            f"{ui_runs[-1]['ui_ready_s']} s, first answer {ui_runs[-1]['ui_first_answer_s']} s",
        )
    b["cold_first_answer_s"] = rounded(median([r["first_answer_s"] for r in base_runs]))
    b["cold_rss_mb"] = rounded(median([r["peak_rss_mb"] for r in base_runs]), 0)
    b["cold_runs"] = base_runs
    for key in ("ui_up_s", "ui_ready_s", "ui_first_answer_s", "rss_mb_peak"):
        a[key] = rounded(median([r[key] for r in ui_runs]))
    a["ui_runs"] = ui_runs


def _alone(
    measure: Callable[[], dict[str, Any]], settle: Callable[[], None], with_load: bool = False
) -> dict[str, Any]:
    """One fresh-process run once the machine has settled, with the CPU share other processes used meanwhile
    (`others_cpu`) and, `with_load`, the load average it started at."""
    settle()
    loaded = load_avg()
    with Contention() as c:
        record = measure()
    return record | ({"load_avg": loaded} if with_load else {}) | {"others_cpu": c.others}


def _shape(results: dict[str, Any], a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The JSON contract: the headline keys at the top, the rest under `assistant`/`baseline`."""
    for key in KEYS:
        results[key] = a.get(key)
    thousand = next((p for p in results.get("scaling", []) if p["documents"] == 1000), None)
    results["retrieval_ms_p50_1000"] = thousand["query_ms_p50"] if thousand else None
    results["ui_up_s"], results["ui_ready_s"] = a.get("ui_up_s"), a.get("ui_ready_s")
    results["baseline"] = ({key: b.get(key) for key in KEYS} | b) if b else {}
    results["assistant"] = a
    ratios = {}
    for key in (*KEYS, "ttft_s_p95", "total_s_p95", "cold_rss_mb", "model_calls_mean"):
        if a.get(key) and b.get(key) and key != "rss_mb_peak":
            ratios[key] = rounded(a[key] / b[key])
    if a.get("ui_first_answer_s") and b.get("cold_first_answer_s"):  # `assistant serve` to a first answer
        ratios["ui_first_answer_s"] = rounded(a["ui_first_answer_s"] / b["cold_first_answer_s"])
    results["ratios"] = ratios  # assistant / baseline: > 1 means the assistant takes more
    results["ratio_goals"] = [
        {"key": key, "limit": limit, "what": what, "ratio": ratio, "ok": None if ratio is None else ratio <= limit}
        for key, limit, what in RATIO_GOALS
        for ratio in [ratios.get(key)]
    ]
    results["sessions"] = a.get("sessions", {})
    results["targets"] = [
        {
            "key": key,
            "limit": limit,
            "what": what,
            "value": results.get(key),
            "ok": None if results.get(key) is None else results[key] <= limit,
        }
        for key, limit, what in TARGETS
    ]
    return results


def _save(results: dict[str, Any], options: BenchOptions) -> None:
    if options.results_dir:
        options.results_dir.mkdir(parents=True, exist_ok=True)
        name = ("quick-" if options.quick_mode else "full-") + time.strftime("%Y%m%d-%H%M%S") + ".json"
        path = options.results_dir / name
        path.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
        results["saved"] = str(path)
