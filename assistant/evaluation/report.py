"""The evaluation report: summary metrics over scored items, tables people read, a chart, files and gates.

`Report` is one pipeline's run (what `Dataset.evaluate` returns); `write_run` leaves report.json, report.md,
items.jsonl, scores.png (and compare.md when several pipelines ran side by side) in one folder.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..answer import Answer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .dataset import Case

TYPES = ("fact", "why", "who", "multi", "comments", "unanswerable", "adversarial")


@dataclass(frozen=True)
class Metric:
    """A summary metric: its label in tables and which way is better (None: shown for context only)."""

    key: str
    label: str
    higher_is_better: bool | None
    unit: str = ""


METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("evidence_recall", "evidence recall@k", True),
        Metric("mrr", "MRR", True),
        Metric("chars_retrieved", "avg chars retrieved", None, "chars"),
        Metric("citation_precision", "citation precision", True),
        Metric("citation_recall", "citation recall", True),
        Metric("quotes_verified", "quotes verified verbatim", True),
        Metric("refusal_rate", "refusal rate (unanswerable)", True),
        Metric("false_refusal_rate", "false-refusal rate (answerable)", False),
        Metric("token_f1", "token F1 vs reference", True),
        Metric("similarity", "MiniLM similarity vs reference", True),
        Metric("first_token_p50", "first token p50", False, "s"),
        Metric("first_token_p95", "first token p95", False, "s"),
        Metric("total_p50", "total time p50", False, "s"),
        Metric("total_p95", "total time p95", False, "s"),
    )
}

# The per-type table's columns (the plot draws the unitless ones).
BY_TYPE = (
    "evidence_recall",
    "mrr",
    "chars_retrieved",
    "citation_precision",
    "citation_recall",
    "refusal_rate",
    "false_refusal_rate",
    "token_f1",
    "similarity",
    "total_p50",
)


# -- aggregation -------------------------------------------------------------------------------------------
def percentile(values: Sequence[float | None], q: float) -> float | None:
    """The q-th percentile with linear interpolation (None when there are no values)."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _mean(values: Sequence[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return statistics.fmean(xs) if xs else None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


@dataclass
class ItemResult:
    """One case, the pipeline's answer and the metrics scored on it."""

    case: Case
    answer: Answer
    metrics: dict[str, float | None]

    def to_dict(self, pipeline: str) -> dict[str, Any]:
        c = self.case
        return {
            "pipeline": pipeline,
            "id": c.id,
            "type": c.type,
            "answerable": c.answerable,
            "split": c.split,
            "question": c.question,
            "history": [list(t) for t in c.history],
            "reference": c.answer,
            "answer": self.answer.to_dict(),
            "metrics": self.metrics,
            "timings": self.answer.to_dict()["timings"],
        }


def summarize(items: Sequence[ItemResult]) -> dict[str, float | None]:
    """The summary metrics over some items (all of a run, or one type)."""
    m = [i.metrics for i in items]

    def total(key: str, rows: Sequence[dict[str, float | None]] = m) -> float:
        return sum(x[key] or 0.0 for x in rows)

    answerable = [x for i, x in zip(items, m, strict=True) if i.case.answerable]
    unanswerable = [x for i, x in zip(items, m, strict=True) if not i.case.answerable]
    first, whole = [x["first_token_s"] for x in m], [x["total_s"] for x in m]
    return {
        "evidence_recall": _ratio(total("evidence_found"), total("evidence_total")),
        "mrr": _mean([x["reciprocal_rank"] for x in m]),
        "chars_retrieved": _mean([x["chars_retrieved"] for x in m]),
        # answerable only: an unanswerable item has no evidence, so a refusal citing what the document does
        # say would count as off evidence and punish the right behaviour
        "citation_precision": _ratio(total("citations_on_evidence", answerable), total("citations", answerable)),
        "citation_recall": _mean([x["cited_evidence"] for x in answerable]),
        "quotes_verified": _ratio(total("citations_verified"), total("citations")),
        "refusal_rate": _mean([x["refused"] for x in unanswerable]),
        "false_refusal_rate": _mean([x["refused"] for x in answerable]),
        "token_f1": _mean([x["token_f1"] for x in m]),
        "similarity": _mean([x["similarity"] for x in m]),
        "first_token_p50": percentile(first, 50),
        "first_token_p95": percentile(first, 95),
        "total_p50": percentile(whole, 50),
        "total_p95": percentile(whole, 95),
    }


def fmt(key: str, value: float | None) -> str:
    """A metric value as a table shows it."""
    if value is None:
        return "–"
    unit = METRICS[key].unit if key in METRICS else ""
    return f"{value:,.0f}" if unit == "chars" else f"{value:.2f} s" if unit == "s" else f"{value:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


@dataclass
class Report:
    """One pipeline's run: per-item metrics, the summary and the breakdown by question type."""

    name: str
    items: list[ItemResult]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, float | None]:
        return summarize(self.items)

    @property
    def by_type(self) -> dict[str, dict[str, float | None]]:
        present = {i.case.type for i in self.items}
        order = [t for t in TYPES if t in present] + sorted(present - set(TYPES))
        return {t: summarize([i for i in self.items if i.case.type == t]) for t in order}

    def counts(self) -> dict[str, int]:
        return dict(Counter(i.case.type for i in self.items))

    def to_dict(self) -> dict[str, Any]:
        """The JSON a CI job or a notebook reads (report.json holds one per pipeline)."""
        errors = sum(1 for i in self.items if i.answer.error)
        return {
            "pipeline": self.name,
            "config": self.config,
            "items": len(self.items),
            "errors": errors,
            "counts": self.counts(),
            "summary": self.summary,
            "by_type": self.by_type,
        }

    def markdown(self) -> str:
        """The report a person reads: summary, per-type table, and one row per question."""
        c = self.config
        split = f" (split {c['split']})" if c.get("split") else ""
        head = (
            f"## {self.name}\n\n{len(self.items)} questions from `{c.get('gold')}`{split} · k={c.get('k')} · "
            f"LLM `{c.get('llm', '?')}`"
        )
        summary = _table(["metric", "value"], [[METRICS[k].label, fmt(k, v)] for k, v in self.summary.items()])
        keys = BY_TYPE
        counts = self.counts()
        per_type = _table(
            ["type", "n", *(METRICS[k].label for k in keys)],
            [[t, str(counts[t]), *(fmt(k, s[k]) for k in keys)] for t, s in self.by_type.items()],
        )
        rows = []
        for i in self.items:
            m, text = i.metrics, i.answer.answer.replace("\n", " ").replace("|", "\\|")
            rows.append(
                [
                    i.case.id,
                    i.case.type,
                    "yes" if i.answer.refused else "",
                    fmt("", m["recall_at_k"]),
                    fmt("", m["reciprocal_rank"]),
                    f"{m['citations_on_evidence']:.0f}/{m['citations']:.0f}",
                    fmt("", m["token_f1"]),
                    fmt("total_p50", m["total_s"]),
                    text[:117] + "..." if len(text) > 120 else text,
                ]
            )
        items = _table(["id", "type", "refused", "recall@k", "RR", "cites on evidence", "F1", "total", "answer"], rows)
        return f"{head}\n\n### Summary\n\n{summary}\n\n### By type\n\n{per_type}\n\n### Items\n\n{items}\n"

    def print(self) -> None:
        """Print the markdown report to stdout."""
        print(self.markdown())

    def _repr_markdown_(self) -> str:
        return self.markdown()


# -- runs: several reports side by side, files on disk, gates -----------------------------------------------
def compare_markdown(reports: Sequence[Report]) -> str:
    """A side-by-side table of the summaries, naming the better pipeline for each metric."""
    names = [r.name for r in reports]
    summaries = [r.summary for r in reports]
    rows = []
    for key, metric in METRICS.items():
        values = [s[key] for s in summaries]
        better = ""
        if metric.higher_is_better is not None and all(v is not None for v in values) and len(set(values)) > 1:
            pick = max if metric.higher_is_better else min
            better = names[values.index(pick(values))]  # type: ignore[type-var]
        rows.append([metric.label, *(fmt(key, v) for v in values), better])
    return _table(["metric", *names, "better"], rows)


def plot(reports: Sequence[Report]) -> Figure:
    """Per-type scores of each pipeline as grouped bars (Agg canvas: no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = [k for k in BY_TYPE if not METRICS[k].unit]  # the 0..1 scores share one axis; chars and seconds do not
    types = list(reports[0].by_type)
    fig = Figure(figsize=(16, 7), layout="constrained")
    FigureCanvasAgg(fig)
    width = 0.8 / len(reports)
    for n, key in enumerate(keys):
        ax = fig.add_subplot(2, 4, n + 1)
        for j, report in enumerate(reports):
            by_type = report.by_type
            values = [by_type.get(t, {}).get(key) for t in types]
            xs = [x + j * width for x in range(len(types))]
            bars = ax.bar(
                [x for x, v in zip(xs, values, strict=True) if v is not None],
                [v for v in values if v is not None],
                width,
                label=report.name,
            )
            ax.bar_label(bars, fmt="%.2f", fontsize=6)  # why: a 0.00 bar is otherwise invisible
        ax.set_title(METRICS[key].label, fontsize=10)
        ax.set_xticks([x + width * (len(reports) - 1) / 2 for x in range(len(types))], types, rotation=45, fontsize=8)
        ax.set_ylim(0, 1.05)
    fig.axes[0].legend(fontsize=8)
    fig.suptitle("Scores by question type (no bar and no label: the metric does not apply)")
    return fig


def run_dict(reports: Sequence[Report]) -> dict[str, Any]:
    """report.json: every pipeline's report, and the comparison when there are several."""
    out: dict[str, Any] = {"pipelines": {r.name: r.to_dict() for r in reports}}
    if len(reports) > 1:
        out["compare"] = {k: {r.name: r.summary[k] for r in reports} for k in METRICS}
    return out


def run_markdown(reports: Sequence[Report]) -> str:
    """report.md: the comparison (when several pipelines ran), then each pipeline's report."""
    parts = ["# Evaluation report", "Metric definitions: docs/evaluation.md."]
    if len(reports) > 1:
        parts.append("## Side by side\n\n" + compare_markdown(reports))
    return "\n\n".join(parts + [r.markdown() for r in reports])


def write_run(reports: Sequence[Report], out: Path) -> Path:
    """Write report.json, report.md, items.jsonl, scores.png (and compare.md for several pipelines)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(run_dict(reports), indent=2, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(run_markdown(reports))
    with (out / "items.jsonl").open("w", encoding="utf-8") as f:
        for r in reports:
            for item in r.items:
                f.write(json.dumps(item.to_dict(r.name), ensure_ascii=False) + "\n")
    if len(reports) > 1:
        (out / "compare.md").write_text("# Side by side\n\n" + compare_markdown(reports) + "\n")
    plot(reports).savefig(out / "scores.png", dpi=100)
    return out


def check(report: Report, gates: dict[str, float | None]) -> list[str]:
    """Failed gates, e.g. {"min_citation_precision": 0.8} → ["citation_precision 0.62 < 0.80"]."""
    failed = []
    for gate, bound in gates.items():
        if bound is None:
            continue
        kind, key = gate.split("_", 1)
        value = report.summary.get(key)
        if value is None or (value < bound if kind == "min" else value > bound):
            op = "<" if kind == "min" else ">"
            failed.append(f"{key} {fmt(key, value)} {op} {bound:g} (--{kind}-{key.replace('_', '-')})")
    return failed


HEADLINE = (
    "evidence_recall",
    "citation_precision",
    "refusal_rate",
    "false_refusal_rate",
    "token_f1",
    "total_p50",
)


def summary(reports: Sequence[Report], folder: Path) -> str:
    """What `assistant eval` prints: the headline metrics of each pipeline and where the report is."""
    lines = [
        f"{r.name}: " + " · ".join(f"{METRICS[k].label} {fmt(k, r.summary[k])}" for k in HEADLINE) for r in reports
    ]
    for r in reports:
        if failed := [i for i in r.items if i.answer.error]:
            lines.append(f"{r.name}: {len(failed)} of {len(r.items)} answers failed, e.g. {failed[0].answer.error}")
    return "\n".join([*lines, f"Report: {folder / 'report.md'}"])
