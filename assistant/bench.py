"""`assistant bench`: what a user waits for on this machine, each figure a median over several runs.

Cold start (a fresh process until its first answer; until the chat page is up and its models are loaded),
warm answers (time to first token, total, generation speed, prompt size in the LLM's own tokens), retrieval
alone, the index build for the seed and for synthetic corpora of 10, 100 and 1,000 documents (the seed's
paragraphs shuffled, so each has the seed's size), and peak RSS of the serving process, all for the
assistant and, in the same run, for the baseline recipe (`assistant.evaluation.baseline`). `benchmarks/run.py` is the
script form with every knob; docs/performance.md holds the published numbers and the command behind them.

The single measurements are in `assistant.probes`; this module runs them, shapes the JSON and draws the chart.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .probes import (
    KINDS,
    CallMeter,
    Contention,
    Tokens,
    ask_assistant,
    ask_baseline,
    build_baseline_index,
    build_seed_index,
    cold_answer,
    dev_questions,
    load_avg,
    median,
    question_mix,
    rounded,
    scale_point,
    summarise_answers,
    synthetic_corpus,
    time_retrieval,
    ui_cold_start,
    wait_for_quiet,
)
from .settings import PROJECT_ROOT, Settings

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
    sizes: tuple[int, ...] = (10, 100, 1000)  # synthetic corpora (documents)
    ui_questions: int = 2  # questions asked through the served UI before reading its peak RSS
    baseline: bool = True
    cold: bool = True
    ui: bool = True
    isolate: bool = True  # each corpus size in its own process (memory per size is then meaningful)
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    gold: Path = PROJECT_ROOT / "eval" / "dev.jsonl"
    followups: Path | None = PROJECT_ROOT / "eval"  # multiturn.jsonl and followups/<document>.jsonl
    shared_docs: Path | None = PROJECT_ROOT.parent / "shared" / "eval" / "docs"  # more documents with train splits
    users: tuple[int, ...] = (1, 2, 4)  # simultaneous chat sessions against `assistant serve`
    session_questions: int = 1  # questions each simulated user asks (its own; no two users ask the same)
    work_dir: Path | None = None  # default: a temporary folder, removed afterwards
    results_dir: Path | None = PROJECT_ROOT / "benchmarks" / "results"
    chart: Path | None = PROJECT_ROOT / "benchmarks" / "results" / "performance.png"  # never docs/ by default
    vectors: Path | None = PROJECT_ROOT / "benchmarks" / "results" / "vectors.npz"
    quiet_wait: float = 0.0  # before each timed part, wait up to this many seconds for a quiet machine
    quiet_limit: float = 0.15  # "quiet": other processes use under this share of the CPU
    quick_mode: bool = False
    progress: Callable[[str], None] | None = field(default=None, repr=False)

    @classmethod
    def quick(cls, **overrides: Any) -> BenchOptions:
        """A 16-question mix, fewer runs, 1 and 2 users, the 10-document corpus only."""
        results = overrides.get("results_dir", PROJECT_ROOT / "benchmarks" / "results")
        base = cls(
            questions=2,
            kinds=("fact", "why", "unanswerable", "follow-up"),
            users=(1, 2),
            runs=1,
            cold_runs=1,
            index_runs=2,
            retrieval_runs=3,
            sizes=(10,),
            ui_questions=1,
            chart=results / "performance-quick.png" if results else None,
            quick_mode=True,
        )
        return replace(base, **overrides)


# -- the corpus-size curve -------------------------------------------------------------------------------------
def scale_curve(
    options: BenchOptions, work: Path, questions: Sequence[str], settle: Callable[[], None] = lambda: None
) -> list[dict[str, Any]]:
    """One point per corpus size (each in its own process unless `isolate` is off)."""
    points = []
    for n in options.sizes:
        settle()
        _say(options, f"corpus of {n} documents ...")
        seeds = synthetic_corpus(options.seeds_dir, work / f"corpus-{n}", n)
        index_dir = work / f"corpus-{n}" / "index"
        shutil.rmtree(index_dir, ignore_errors=True)
        vectors = str(options.vectors) if options.vectors else None
        if options.isolate:
            args = json.dumps(
                {"seeds": str(seeds), "index": str(index_dir), "questions": list(questions), "vectors": vectors}
            )
            code = f"from assistant.probes import scale_child; scale_child({args!r})"
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
            if done.returncode != 0:
                raise RuntimeError(f"corpus of {n} failed: {done.stderr[-800:]}")
            point = json.loads(done.stdout.strip().splitlines()[-1])
        else:
            point = scale_point(seeds, index_dir, questions, options.vectors)
        shutil.rmtree(index_dir, ignore_errors=True)
        points.append(point)
        _say(options, f"  {n} docs: build {point['build_s']} s, query p50 {point['query_ms_p50']} ms")
    return points


def project_builds(points: list[dict[str, Any]], passages_per_s: float | None) -> None:
    """Add `build_distinct_s`: the build if every passage were new text (parse + store + embedding).

    The embedding rate is the one measured in the largest corpus's build (batched, as in any big build);
    `passages_per_s` (the seed's whole build, store writes included) is the fallback.
    """
    measured = [p["embedded"] / p["embed_s"] for p in points if p.get("embedded") and p.get("embed_s")]
    rate = measured[-1] if measured else passages_per_s
    for p in points:
        if rate:
            p["build_distinct_s"] = rounded(p["parse_s"] + p["store_s"] + p["passages"] / rate, 0)


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

    def timed(name: str, measure: Callable[[], Any]) -> Any:
        settle()
        with Contention() as c:
            out = measure()
        busy[name] = c.others
        return out

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
            runs = []
            for _ in range(options.cold_runs):
                settle()
                with Contention() as c:
                    runs.append(cold_answer(settings, name, questions[0]) | {"others_cpu": 0.0})
                runs[-1]["others_cpu"] = c.others
            busy[f"cold_{name}"] = median([r["others_cpu"] for r in runs])
            part["cold_first_answer_s"] = rounded(median([r["first_answer_s"] for r in runs]))
            part["cold_rss_mb"] = rounded(median([r["peak_rss_mb"] for r in runs]), 0)
            part["cold_runs"] = runs
    if options.ui:
        step("ui", "cold start of the UI (assistant serve) ...")
        a.update(
            timed(
                "ui",
                lambda: ui_cold_start(
                    settings,
                    questions[: max(1, options.ui_questions)],
                    users=options.users,
                    # distinct questions, none asked before in that server (a cached prompt is nearly free)
                    session_questions=dev_questions(options.gold, None)[max(1, options.ui_questions) :],
                    per_user=options.session_questions,
                ),
            )
        )
    if baseline is not None and "cold_rss_mb" in b:
        b["rss_mb_peak"] = b["cold_rss_mb"]  # no UI of its own: the peak of its answering process

    results["load_avg"]["scaling"] = load_avg()
    results["scaling"] = scale_curve(options, work, all_questions[:20], settle) if options.sizes else []
    for point in results["scaling"]:
        busy[f"scale_{point['documents']}"] = point.get("others_cpu")
    project_builds(results["scaling"], a.get("passages_per_s"))
    results["load_avg"]["end"] = load_avg()
    return _shape(results, a, b)


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
    if options.chart and results.get("scaling"):
        save_chart(results["scaling"], options.chart)
        results["chart"] = str(options.chart)


# -- output ---------------------------------------------------------------------------------------------------
def save_chart(points: list[dict[str, Any]], path: Path) -> None:
    """Build time, index size, query latency and memory against the number of documents (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = [p["documents"] for p in points]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    panels = [
        (
            axes[0][0],
            "Index build (s)",
            [
                ("store_s", "parse + Chroma write (measured)"),
                ("build_distinct_s", "+ embedding every passage (projected)"),
            ],
        ),
        (axes[0][1], "Index on disk (MiB)", [("index_mb", "Chroma store")]),
        (
            axes[1][0],
            "Query latency (ms)",
            [
                ("query_ms_p50", "p50, question embedded"),
                ("query_ms_p95", "p95, question embedded"),
                ("search_ms_p50", "p50, question vector cached"),
                ("dense_ms_p50", "of which dense (Chroma)"),
                ("bm25_ms_p50", "of which BM25"),
            ],
        ),
        (
            axes[1][1],
            "Memory (MiB)",
            [("index_rss_mb", "RSS added by the open index"), ("rss_mb_peak", "peak RSS of the process")],
        ),
    ]
    for ax, title, series in panels:
        for key, label in series:
            ys = [p.get(key) for p in points]
            if any(y is not None for y in ys):
                ax.plot(docs, [float("nan") if y is None else y for y in ys], marker="o", label=label)
        ax.set_title(title)
        ax.set_xscale("log")
        ax.set_yscale("log")  # both axes: a straight line of slope 1 is linear growth
        ax.set_xlabel("documents (each the seed's size)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Cost as the corpus grows (2-core CPU)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def format_report(results: dict[str, Any]) -> str:
    """Markdown tables: headline figures with the baseline and the targets, then the corpus curve."""
    a, b = results.get("assistant", {}), results.get("baseline", {})
    limits = {t["key"]: t for t in results.get("targets", [])}
    rows = [
        ("cold start → first answer (s)", "cold_first_answer_s"),
        ("cold start → UI page up (s)", "ui_up_s"),
        ("cold start → UI ready, models loaded (s)", "ui_ready_s"),
        ("cold start → UI first answer (s)", "ui_first_answer_s"),
        ("evidence yielded p50 (s)", "evidence_s_p50"),
        ("evidence yielded p95 (s)", "evidence_s_p95"),
        ("warm time to first token p50 (s)", "ttft_s_p50"),
        ("warm time to first token p95 (s)", "ttft_s_p95"),
        ("warm total p50 (s)", "total_s_p50"),
        ("warm total p95 (s)", "total_s_p95"),
        ("generation (tokens/s)", "tokens_per_s"),
        ("prompt tokens per answer p50 (all calls)", "prompt_tokens_p50"),
        ("prompt tokens per answer p95", "prompt_tokens_p95"),
        ("model calls per answer (mean)", "model_calls_mean"),
        ("prompt tokens reused from the KV cache (share)", "kv_reused_share"),
        ("answer length p50 (tokens)", "answer_tokens_p50"),
        ("grounding + check after generation p50 (s)", "after_generation_s_p50"),
        ("retrieval alone p50 (ms)", "retrieval_ms_p50"),
        ("retrieval alone p95 (ms)", "retrieval_ms_p95"),
        ("retrieval p50 at 1,000 documents (ms)", "retrieval_ms_p50_1000"),
        ("seed index build (s)", "index_seed_s"),
        ("seed index on disk (MiB)", "index_mb"),
        ("peak RSS, serving app (MiB)", "rss_mb_peak"),
        ("peak RSS, one-shot answering process (MiB)", "cold_rss_mb"),
    ]
    lines = [
        "Load average (1 min) at the start of each part: "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in results["load_avg"].items())
        + f"; LLM: {results.get('llm')}; tokens: {results.get('token_unit')}.",
        "",
        "CPU share used by other processes during each part (0 = the benchmark had the machine alone, "
        "1 = others kept both cores busy): "
        + ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in results.get("others_cpu", {}).items())
        + (f"; waited {results['waited_s']:.0f} s for quiet moments." if results.get("waited_s") else "."),
        "",
        "| measure | assistant | baseline | assistant ÷ baseline | target | holds? |",
        "|---|---:|---:|---:|---|---|",
    ]
    for label, key in rows:
        value = results[key] if key in results else a.get(key)
        base = b.get(key) if key != "rss_mb_peak" else None
        ratio = results.get("ratios", {}).get(key)
        target = limits.get(key)
        holds = "–" if not target or target["ok"] is None else ("yes" if target["ok"] else "**no**")
        lines.append(
            f"| {label} | {_fmt(value)} | {_fmt(base)} | {_fmt(ratio)} | "
            f"{'≤ ' + _fmt(target['limit']) if target else ''} | {holds} |"
        )
    kinds = list(dict.fromkeys([*a.get("by_kind", {}), *b.get("by_kind", {})]))
    if kinds:
        lines += [
            "",
            "| kind | answers | first token p50 / p95 (s) | baseline | total p50 / p95 (s) | baseline | "
            "model calls p50 | baseline | prompt tokens p50 | baseline |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for kind in kinds:
            x, y = a.get("by_kind", {}).get(kind, {}), b.get("by_kind", {}).get(kind, {})
            lines.append(
                f"| {kind} | {x.get('answers', 0)} | {_fmt(x.get('ttft_s_p50'))} / {_fmt(x.get('ttft_s_p95'))} | "
                f"{_fmt(y.get('ttft_s_p50'))} / {_fmt(y.get('ttft_s_p95'))} | {_fmt(x.get('total_s_p50'))} / "
                f"{_fmt(x.get('total_s_p95'))} | {_fmt(y.get('total_s_p50'))} / {_fmt(y.get('total_s_p95'))} | "
                f"{_fmt(x.get('model_calls_p50'))} | {_fmt(y.get('model_calls_p50'))} | "
                f"{_fmt(x.get('prompt_tokens_p50'))} | {_fmt(y.get('prompt_tokens_p50'))} |"
            )
    if results.get("ratio_goals"):
        lines += ["", "| goal (ratio to the baseline, same run) | ratio | holds? |", "|---|---:|---|"]
        for g in results["ratio_goals"]:
            holds = "–" if g["ok"] is None else ("yes" if g["ok"] else "**no**")
            lines.append(f"| {g['what']} | {_fmt(g['ratio'])} | {holds} |")
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
    for name, part in (("assistant", a), ("baseline", b)):
        if part.get("cold_runs"):
            phases = part["cold_runs"][len(part["cold_runs"]) // 2]["phases_s"]
            steps = ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in phases.items())
            lines += ["", f"Cold start of the {name}, seconds from process start at the end of each step: {steps}."]
    if results.get("scaling"):
        lines += [
            "",
            "| documents | passages | parse (s) | embedded now | embed (s) | store (s) | build, all distinct "
            "(s, projected) | disk (MiB) | open (s) | query p50 / p95 (ms) | cached-vector search p50 (ms) | "
            "dense / BM25 p50 (ms) | index RSS (MiB) | peak RSS (MiB) | load |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for p in results["scaling"]:
            lines.append(
                f"| {p['documents']:,} | {p['passages']:,} | {_fmt(p['parse_s'])} | {p['embedded']:,} | "
                f"{_fmt(p['embed_s'])} | {_fmt(p['store_s'])} | {_fmt(p.get('build_distinct_s'))} | "
                f"{_fmt(p['index_mb'])} | {_fmt(p['open_s'])} | {_fmt(p['query_ms_p50'])} / "
                f"{_fmt(p['query_ms_p95'])} | {_fmt(p['search_ms_p50'])} | {_fmt(p.get('dense_ms_p50'))} / "
                f"{_fmt(p.get('bm25_ms_p50'))} | {_fmt(p['index_rss_mb'])} | "
                f"{_fmt(p['rss_mb_peak'])} | {p['load_before']}→{p['load_after']} |"
            )
    return "\n".join(lines)
