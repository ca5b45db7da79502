"""Evaluation against gold Q&A pairs: a dataset of cases and scorers as small functions.

Shaped like pydantic_evals: `Dataset.load(path, documents)` → `dataset.evaluate(task, ...)` → `Report`
(`.print()`, `.to_dict()`, `.markdown()`, in report.py), and `run(...)` for what `assistant eval` does.
Every metric is deterministic and offline; docs/evaluation.md says what each one means.

`dataset.py` (cases, `Dataset`), `scorers.py` (the metrics), `report.py` (tables, files), `baseline.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import Assistant
from ..errors import ConfigError
from ..index import load_corpus
from .baseline import Baseline
from .dataset import Case, Dataset, Pipeline, Span, as_task
from .report import (
    METRICS,
    ItemResult,
    Metric,
    Report,
    check,
    compare_markdown,
    plot,
    run_dict,
    summarize,
    summary,
    write_run,
)
from .scorers import Context, token_f1

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "METRICS",
    "Case",
    "Context",
    "Dataset",
    "ItemResult",
    "Metric",
    "Pipeline",
    "Report",
    "Span",
    "as_task",
    "check",
    "compare_markdown",
    "plot",
    "run",
    "run_dict",
    "summarize",
    "summary",
    "token_f1",
    "write_run",
]


def default_out(gold: Path) -> Path:
    """eval/runs/<timestamp>/ next to the gold file."""
    return Path(gold).parent / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")


def run(
    gold: str | Path,
    *,
    pipelines: Sequence[str] = ("assistant",),
    out: str | Path | None = None,
    k: int | None = None,
    limit: int | None = None,
    split: str | None = None,
    progress: bool = True,
    settings: Settings | None = None,
    **overrides: Any,
) -> tuple[list[Report], Path]:
    """What `assistant eval` does: validate the gold file, run each pipeline on it, write the reports.

    split keeps only the gold items of that split ("train" or "test"), before `limit` applies.
    """
    if k is not None:
        overrides["top_k"] = k
    assistant = Assistant(settings, **{key: v for key, v in overrides.items() if v is not None})
    documents = {d.source: d for d in load_corpus(assistant.settings).documents}
    dataset = Dataset.load(Path(gold), documents).split(split).limit(limit)
    folder = Path(out) if out else default_out(Path(gold))  # named by when the run started
    if "assistant" in pipelines:
        _ = assistant.retriever  # why: loading the index and MiniLM must not be billed to the first question
    assistant.chat.invoke("Reply with OK.")  # same for loading the LLM
    chosen: dict[str, Pipeline] = {"assistant": assistant}
    if "baseline" in pipelines:
        baseline = Baseline(assistant.settings, chat=assistant.chat, k=k or 4)
        baseline.build()  # why: building its store must not be billed to the first question either
        chosen["baseline"] = baseline
    if unknown := set(pipelines) - set(chosen):
        raise ConfigError(f"Unknown pipeline(s) {sorted(unknown)}; use assistant or baseline.")
    config = {"llm": assistant.settings.llm, "gold_path": str(gold), "split": split}
    reports = [
        dataset.evaluate(chosen[name], name=name, documents=documents, progress=progress, config=config)
        for name in pipelines
    ]
    return reports, write_run(reports, folder)
