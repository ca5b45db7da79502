"""The corpus-size curve of the benchmark: index build, disk, query latency and memory at 10, 100 and 1,000
documents (the seed's paragraphs shuffled, so each document has the seed's size), and its chart.

Run by `benchmarks/run.py` after the rest of `assistant.bench.run` (its `after` hook); not part of the
installed package. Each corpus size runs in a fresh process of this script (`--child`), so that memory per
size means something.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.bench_report import _fmt
from assistant.probes import (
    Contention,
    disk_bytes,
    load_avg,
    median,
    proc_mb,
    rounded,
    time_retrieval,
)
from assistant.settings import PROJECT_ROOT, Settings


@dataclass
class Curve:
    """Which corpus sizes to measure, and how."""

    sizes: tuple[int, ...] = (10, 100, 1000)  # synthetic corpora (documents)
    isolate: bool = True  # each corpus size in its own process (memory per size is then meaningful)
    vectors: Path | None = PROJECT_ROOT / "benchmarks" / "results" / "vectors.npz"
    chart: Path | None = PROJECT_ROOT / "benchmarks" / "results" / "performance.png"  # never docs/ by default
    progress: Callable[[str], None] | None = None

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(f"[bench {time.strftime('%H:%M:%S')} load {load_avg():.1f}] {message}")

    def __call__(self, options: Any, work: Path, settle: Callable[[], None]) -> dict[str, Any]:
        """The `after` hook of `assistant.bench.run`: the curve, its projected builds and chart."""
        from assistant.probes import dev_questions

        questions = dev_questions(options.gold, None, answerable=None)[:20]
        out: dict[str, Any] = {"scaling": scale_curve(self, options.seeds_dir, work, questions, settle)}
        project_builds(out["scaling"], None)
        if self.chart and out["scaling"]:
            save_chart(out["scaling"], self.chart)
            out["chart"] = str(self.chart)
        return out


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
    from assistant.index import build, embeddings, store

    modules = (embeddings, build, store)  # each looks the embedder up in its own namespace
    real = embeddings.embedding_model
    for module in modules:
        module.embedding_model = lambda: wrapper  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in modules:
            module.embedding_model = real  # type: ignore[attr-defined]


# -- the corpus-size curve --------------------------------------------------------------------------------------
def scale_point(
    seeds: Path, index_dir: Path, questions: Sequence[str], vectors: Path | None, runs: int = 2
) -> dict[str, Any]:
    """Build an index of the corpus in `seeds`, then open it as the app does and time queries.

    With `vectors`, a passage text embedded by an earlier run is looked up instead of embedded again (the
    synthetic documents share their paragraphs), so `build_s` is mostly parsing and Chroma; `embed_s`
    is the model time actually spent. docs/performance.md projects the build of distinct documents from it.
    """
    from assistant.index import all_passages, embedding_model, ensure_index, load_corpus, open_store, store_dir
    from assistant.retrieval.hybrid import HybridRetriever

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


def _child(args: str) -> None:
    """Entry point of one isolated corpus size: JSON arguments in, one JSON line out."""
    a = json.loads(args)
    out = scale_point(Path(a["seeds"]), Path(a["index"]), a["questions"], a["vectors"] and Path(a["vectors"]))
    print(json.dumps(out), flush=True)


def scale_curve(
    plan: Curve, seeds_dir: Path, work: Path, questions: Sequence[str], settle: Callable[[], None] = lambda: None
) -> list[dict[str, Any]]:
    """One point per corpus size (each in its own process unless `isolate` is off)."""
    points = []
    for n in plan.sizes:
        settle()
        plan.say(f"corpus of {n} documents ...")
        seeds = synthetic_corpus(seeds_dir, work / f"corpus-{n}", n)
        index_dir = work / f"corpus-{n}" / "index"
        shutil.rmtree(index_dir, ignore_errors=True)
        vectors = str(plan.vectors) if plan.vectors else None
        if plan.isolate:
            args = json.dumps(
                {"seeds": str(seeds), "index": str(index_dir), "questions": list(questions), "vectors": vectors}
            )
            done = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child", args],
                capture_output=True,
                text=True,
                env=dict(os.environ),
            )
            if done.returncode != 0:
                raise RuntimeError(f"corpus of {n} failed: {done.stderr[-800:]}")
            point = json.loads(done.stdout.strip().splitlines()[-1])
        else:
            point = scale_point(seeds, index_dir, questions, plan.vectors)
        shutil.rmtree(index_dir, ignore_errors=True)
        points.append(point)
        plan.say(f"  {n} docs: build {point['build_s']} s, query p50 {point['query_ms_p50']} ms")
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


def format_scaling(results: dict[str, Any]) -> str:
    """The corpus curve as a Markdown table (empty without one)."""
    lines: list[str] = []
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


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    _child(sys.argv[2])
