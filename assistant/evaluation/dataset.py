"""The gold cases (`Case`, `Dataset`): read, validated against the documents they quote, run through a pipeline."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, cast

from ..answer import Answer
from ..documents import Document, line_at, line_starts
from ..errors import ConfigError, DocumentError
from ..index import embedding_model
from .report import ItemResult, Report
from .scorers import SCORERS, Context

Embed = Callable[[list[str]], list[list[float]]]
Task = Callable[["Case"], Answer]


# -- the dataset -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    """Where a gold quote occurs: a source file and an inclusive 1-based line range."""

    source: str
    line_start: int
    line_end: int

    def within(self, source: str, line_start: int, line_end: int) -> bool:
        return source == self.source and line_start <= self.line_start and self.line_end <= line_end

    def overlaps(self, source: str, line_start: int, line_end: int) -> bool:
        return source == self.source and line_start <= self.line_end and self.line_start <= line_end


@dataclass(frozen=True)
class Case:
    """One gold item: the question (and the conversation so far), the reference answer and its evidence.

    split is the gold line's "train" or "test" (None when the line has none).
    """

    id: str
    question: str
    answer: str
    evidence: tuple[str, ...]
    type: str
    answerable: bool
    history: tuple[tuple[str, str], ...] = ()
    spans: tuple[tuple[Span, ...], ...] = ()  # for each evidence quote, every place it occurs
    line: int = 0
    split: str | None = None


def locate_quote(quote: str, documents: dict[str, Document]) -> tuple[Span, ...]:
    """Every place `quote` occurs verbatim in the documents, as line ranges."""
    spans = []
    for doc in documents.values():
        text, starts = "\n".join(doc.lines), line_starts(doc.lines)
        at = text.find(quote)
        while at >= 0 and quote:
            spans.append(Span(doc.source, line_at(starts, at), line_at(starts, at + len(quote) - 1)))
            at = text.find(quote, at + 1)
    return tuple(spans)


def parse_case(raw: str, where: str, documents: dict[str, Document]) -> Case:
    """One gold line → a `Case` whose evidence is located in the documents; errors name the line."""
    try:
        item = json.loads(raw)
    except ValueError as exc:
        raise DocumentError(f"{where}: not valid JSON ({exc}). Fix or remove the line.") from None
    if not isinstance(item, dict):
        raise DocumentError(f"{where}: expected a JSON object, got {type(item).__name__}.")
    problems = [
        f"{key!r} must be {kind.__name__}"
        for key, kind in (
            ("id", str),
            ("question", str),
            ("answer", str),
            ("type", str),
            ("answerable", bool),
            ("evidence", list),
        )
        if not isinstance(item.get(key), kind)
    ]
    if problems:
        raise DocumentError(
            f"{where}: {'; '.join(problems)} (fields: id, question, answer, evidence, type, "
            "answerable, optional history and split)."
        )
    label = f"{where} ({item['id']})"
    if not item["question"].strip():
        raise DocumentError(f"{label}: the question is empty.")
    evidence = item["evidence"]
    if not all(isinstance(q, str) and q.strip() for q in evidence):
        raise DocumentError(f"{label}: every evidence entry must be a non-empty string.")
    if item["answerable"] and not evidence:
        raise DocumentError(f"{label}: an answerable item needs at least one evidence quote.")
    history = item.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(t, list) and len(t) == 2 and all(isinstance(s, str) for s in t) for t in history
    ):
        raise DocumentError(f"{label}: history must be a list of [question, answer] pairs.")
    split = item.get("split")
    if split is not None and not (isinstance(split, str) and split.strip()):
        raise DocumentError(f'{label}: split must be a name such as "train" or "test", got {split!r}.')
    spans = []
    for quote in evidence:
        found = locate_quote(quote, documents)
        if not found:
            short = quote if len(quote) <= 80 else quote[:77] + "..."
            raise DocumentError(
                f"{label}: evidence quote “{short}” does not occur in the documents "
                f"({', '.join(sorted(documents)) or 'none loaded'}). Copy it verbatim from the document."
            )
        spans.append(found)
    return Case(
        item["id"],
        item["question"],
        item["answer"],
        tuple(evidence),
        item["type"],
        item["answerable"],
        tuple((q, a) for q, a in history),
        tuple(spans),
        split=split,
    )


@dataclass
class Dataset:
    """The gold cases of one file, validated against the documents they quote."""

    cases: list[Case]
    name: str = "gold"

    @classmethod
    def load(cls, path: Path, documents: dict[str, Document]) -> Dataset:
        """Read a gold JSON Lines file; a malformed line or unknown quote is a `DocumentError` naming it."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DocumentError(f"Cannot read the gold file {path}: {exc}.") from None
        cases, seen = [], set()
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            case = replace(parse_case(raw, f"{path} line {number}", documents), line=number)
            if case.id in seen:
                raise DocumentError(f"{path} line {number}: duplicate id {case.id!r}.")
            seen.add(case.id)
            cases.append(case)
        if not cases:
            raise DocumentError(f"The gold file {path} holds no items.")
        return cls(cases, Path(path).name)

    def limit(self, n: int | None) -> Dataset:
        """The first `n` cases (all when `n` is None)."""
        return self if n is None else Dataset(self.cases[:n], self.name)

    def split(self, name: str | None) -> Dataset:
        """The cases of one split ("train" or "test"; all cases when `name` is None).

        A case without a split is kept only when no split is asked for.
        """
        if name is None:
            return self
        cases = [c for c in self.cases if c.split == name]
        if not cases:
            found = sorted({c.split for c in self.cases if c.split is not None})
            hint = (
                f"its splits are {', '.join(found)}; ask for one of those"
                if found
                else "its items have no split field; run it without a split"
            )
            raise DocumentError(f"No item of {self.name} is in the split {name!r}: {hint}.")
        return Dataset(cases, self.name)

    def evaluate(
        self,
        task: Task | Pipeline,
        *,
        name: str,
        documents: dict[str, Document],
        k: int | None = None,
        embed: Embed | None = None,
        progress: bool = True,
        config: dict[str, Any] | None = None,
    ) -> Report:
        """Run `task` (a Case → Answer function, or an `Assistant`/`Baseline`) on every case and score it.

        k is the retrieval depth that recall@k scores; for a pipeline it defaults to what the pipeline
        retrieves. A progress bar goes to stderr.
        """
        from tqdm import tqdm

        if not callable(task):
            pipeline = cast(Pipeline, task)
            task, k = as_task(pipeline), k or pipeline_depth(pipeline)
        if k is None:
            raise ConfigError("Pass k, the number of passages the task retrieves, to score recall@k.")

        if embed is None:
            embed = embedding_model().embed_documents
        items = []
        for case in tqdm(self.cases, desc=name, unit="q", file=sys.stderr, disable=not progress):
            answer = task(case)
            ctx = Context(case, answer, documents, k, embed)
            metrics: dict[str, float | None] = {}
            for scorer in SCORERS:
                metrics.update(scorer(ctx))
            items.append(ItemResult(case, answer, metrics))
        return Report(name, items, {"gold": self.name, "k": k, **(config or {})})


class Pipeline(Protocol):
    """Anything that answers like `Assistant.ask` (the assistant, the baseline)."""

    def ask(self, question: str, history: Sequence[tuple[str, str]] | None = None) -> Answer: ...


def as_task(pipeline: Pipeline) -> Task:
    """A pipeline as a Case → Answer function (the conversation so far goes in as history)."""
    return lambda case: pipeline.ask(case.question, list(case.history) or None)


def pipeline_depth(pipeline: Pipeline) -> int:
    """How many passages a pipeline retrieves: `.k` (baseline) or `settings.top_k` (assistant)."""
    depth = getattr(pipeline, "k", None) or getattr(getattr(pipeline, "settings", None), "top_k", None)
    if not isinstance(depth, int):
        raise ConfigError(f"Cannot tell how many passages {type(pipeline).__name__} retrieves; pass k.")
    return depth
