"""The `assistant` command: a thin shell over `Assistant`; expected failures print one line, exit 1."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .answer import Answer
from .errors import AssistantError

if TYPE_CHECKING:
    from .documents import Document

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(func: F) -> F:
    """Turn `AssistantError` into a one-line message and exit code 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _assistant(**overrides: Any) -> Any:
    from .core import Assistant

    return Assistant(**{k: v for k, v in overrides.items() if v is not None})


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    """Text from documents or the model with control characters replaced: no terminal escape gets through."""
    return _CONTROL.sub("\ufffd", text)


def _where(documents: dict[str, Document], source: str, line_start: int, line_end: int) -> str:
    """`seeds/x.pdf page 2, lines 3-4`: pages and page-relative lines where the format has pages."""
    document = documents.get(source)
    if document is not None:
        return f"{source} {document.where(line_start, line_end)}"
    return f"{source} lines {line_start}" + (f"-{line_end}" if line_end != line_start else "")


def _print_answer(answer: Answer, documents: dict[str, Document]) -> None:
    if answer.citations:
        click.echo("\nSources:")
        for c in answer.citations:
            where = f", {c.section}" if c.section else ""
            place = _where(documents, c.source, c.line_start, c.line_end)
            click.echo(_safe(f"  [{c.n}] {place} ({c.role}{where}): “{c.quote}”"))
    if answer.error and answer.retrieved:
        click.echo("\nPassages found (no answer was written from them):")
        for n, r in enumerate(answer.retrieved, start=1):
            p = r.passage
            text = " ".join(p.text.split())
            snippet = text if len(text) <= 160 else text[:160].rsplit(" ", 1)[0] + "…"
            place = _where(documents, p.source, p.line_start, p.line_end)
            click.echo(_safe(f"  [{n}] {place} ({p.role}): {snippet}"))


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what the assistant does.")
def main(verbose: bool) -> None:
    """Ask questions about the documents in seeds/ and get answers with line-level citations."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")


@main.command()
@click.option("--rebuild", is_flag=True, help="Rebuild from scratch even if the index is current.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--watch", is_flag=True, help="Keep running; re-index whenever a file in seeds/ changes.")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between polls.")
@_friendly
def index(rebuild: bool, as_json: bool, watch: bool, interval: float) -> None:
    """Build or update the index from seeds/ (.txt, .md, .html, .pdf, recursively).

    With --watch it keeps polling seeds/ and re-indexes only what changed; a running `assistant serve`
    picks the new index up at its next question. Set ASSISTANT_CHROMA_URL to index into a Chroma server.

    \b
    Example: assistant index --rebuild
    Example: assistant index --watch --interval 5
    """
    assistant = _assistant()
    report = assistant.index(rebuild=rebuild, progress=None if as_json else click.echo)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(f"Index {report.action}: {report.passages} passages from {report.documents} document(s).")
    for name, why in report.skipped.items():
        click.echo(f"Warning: skipped {name}: {why}", err=True)
    if watch:
        from .index import watch as watch_seeds

        click.echo(f"Watching {assistant.settings.seeds_dir} every {interval:g}s; Ctrl-C stops.", err=True)
        with contextlib.suppress(KeyboardInterrupt):
            watch_seeds(assistant.settings, interval, progress=lambda line: click.echo(line, err=as_json))


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the full answer as JSON.")
@click.option(
    "--source", "sources", multiple=True, help="Limit to this document: path, file name or title (repeatable)."
)
@click.option("--top-k", type=int, default=None, help="Passages given to the LLM.")
@click.option("--llm", type=click.Choice(["local", "openai", "fake"]), default=None, help="LLM backend.")
@_friendly
def ask(question: str, as_json: bool, sources: tuple[str, ...], top_k: int | None, llm: str | None) -> None:
    """Answer one question, streaming the text, then list the sources.

    Example: assistant ask "why does the author think the split will backfire?" --json
    """
    assistant = _assistant(top_k=top_k, llm=llm)
    answer: Answer | None = None
    for item in assistant.stream(question, sources=list(sources) or None):
        if isinstance(item, Answer):
            answer = item
        elif isinstance(item, str) and not as_json:
            click.echo(_safe(item), nl=False)
    assert answer is not None
    if as_json:
        click.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return
    text = _safe(answer.answer)
    click.echo(f"\r\033[K{text}" if sys.stdout.isatty() else f"\n\n{text}")
    _print_answer(answer, assistant.documents)


@main.command()
@click.option("--llm", type=click.Choice(["local", "openai", "fake"]), default=None, help="LLM backend.")
@_friendly
def chat(llm: str | None) -> None:
    """Chat in the terminal; follow-up questions keep the conversation. Empty line or Ctrl-D quits.

    Example: assistant chat
    """
    assistant = _assistant(llm=llm)
    history: list[tuple[str, str]] = []
    while True:
        try:
            question = click.prompt("\nYou", prompt_suffix="> ", default="", show_default=False)
        except (EOFError, click.Abort):
            break
        if not question.strip():
            break
        try:
            answer = None
            for item in assistant.stream(question, history=history):
                if isinstance(item, Answer):
                    answer = item
                elif isinstance(item, str):
                    click.echo(_safe(item), nl=False)
        except AssistantError as exc:
            click.echo(f"Error: {exc}", err=True)
            continue
        assert answer is not None
        click.echo(f"\n\n{_safe(answer.answer)}")
        _print_answer(answer, assistant.documents)
        history.append((question, answer.answer))


@main.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 7860).")
@click.option("--llm", type=click.Choice(["local", "openai", "fake"]), default=None, help="LLM backend.")
@_friendly
def serve(host: str | None, port: int | None, llm: str | None) -> None:
    """Start the chat window in the browser (local only by default; no share link).

    Example: assistant serve --port 7860
    """
    from .ui import serve as serve_ui

    serve_ui(llm=llm, host=host, port=port)


def _gates(func: F) -> F:
    """--min-METRIC / --max-METRIC options for every metric of the report (hidden; eval's help names them)."""
    from .evaluation.report import METRICS

    for key, bound in [(key, bound) for key in METRICS for bound in ("min", "max")]:
        flag = f"--{bound}-{key.replace('_', '-')}"
        func = click.option(flag, f"{bound}_{key}", type=float, hidden=True)(func)
    return func


@main.command(name="eval")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Output folder [eval/runs/<timestamp>/].")
@click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout.")
@click.option("--pipeline", type=click.Choice(["assistant", "baseline"]), default="assistant", help="Pipeline to run.")
@click.option("--compare", is_flag=True, help="Run the assistant and the baseline side by side.")
@click.option("--k", type=int, default=None, help="Passages per question [6; baseline 4].")
@click.option("--limit", type=int, default=None, help="Only the first N gold items.")
@click.option(
    "--split",
    type=click.Choice(["train", "test"]),
    default=None,
    help="Only the gold items of this split (train: tune on; test: report on) [all items].",
)
@click.option("--llm", type=click.Choice(["local", "openai", "fake"]), default=None, help="LLM backend.")
@_gates
@_friendly
def eval_(gold: str, out: str | None, as_json: bool, pipeline: str, compare: bool, **options: Any) -> None:
    """Score the assistant (or the baseline) on gold Q&A pairs; write the reports, items and a chart.

    --split test keeps only the gold items whose split field is "test" (report on these, tune on train);
    items without a split field are then left out, and a file with no item in that split is an error.
    To score another corpus, point ASSISTANT_SEEDS_DIR (and a fresh ASSISTANT_INDEX_DIR) at its folder.

    --min-METRIC=VALUE / --max-METRIC=VALUE turn it into a CI gate (exit 1 naming the metric) for any
    metric of the report (see docs/evaluation.md), e.g.:

    \b
    Example: assistant eval eval/dev.jsonl --compare
    Example: assistant eval eval/dev.jsonl --min-citation-precision 0.8 --max-total-p95 30
    Example: ASSISTANT_SEEDS_DIR=DOCS ASSISTANT_INDEX_DIR=/tmp/ix assistant eval DOCS/gold.jsonl --split test
    """
    from .evaluation.evaluate import check, run, run_dict, summary

    gates = {key: options.pop(key) for key in list(options) if key.startswith(("min_", "max_"))}
    names = ("assistant", "baseline") if compare else (pipeline,)
    reports, folder = run(gold, pipelines=names, out=out, **options)
    click.echo(json.dumps(run_dict(reports), indent=2) if as_json else summary(reports, folder))
    if failed := check(reports[0], gates):
        click.echo("Gate failed: " + "; ".join(failed), err=True)
        sys.exit(1)


@main.command()
@click.option("--quick", is_flag=True, help="The 16-question mix, one run of each part.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (progress goes to stderr).")
@_friendly
def bench(quick: bool, as_json: bool) -> None:
    """Measure cold start, answer latency, retrieval, index build and memory; compare with the baseline.

    Results go to benchmarks/results/. Simultaneous chat sessions and the corpus-size curve are measured by
    `python benchmarks/run.py` (a checkout's script, outside the package). See docs/performance.md.

    Example: assistant bench --quick --json
    """
    from .bench import BenchOptions, format_report, run

    say = functools.partial(click.echo, err=True)
    results = run(BenchOptions.quick(progress=say) if quick else BenchOptions(progress=say))
    click.echo(json.dumps(results, indent=2, ensure_ascii=False) if as_json else format_report(results))


if __name__ == "__main__":
    main()
