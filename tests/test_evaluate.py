"""The evaluation harness: metric code on hand-made cases with known scores, gold validation, the end-to-end
run on a few dev items with the fake LLM, the `assistant eval` command, and the example notebook."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import Answer, Citation, DocumentError, Retrieved, Settings
from assistant.documents import Document, Passage, load_document
from assistant.evaluation.dataset import locate_quote, parse_case
from assistant.evaluation.evaluate import (
    Case,
    Context,
    Dataset,
    ItemResult,
    Report,
    check,
    compare_markdown,
    run,
    summarize,
    token_f1,
)
from assistant.evaluation.report import percentile
from assistant.evaluation.scorers import score_citations, score_retrieval

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "eval" / "dev.jsonl"
NOTEBOOK = ROOT / "examples" / "evaluate.ipynb"

TEXT = """\
The alpha line says hello.
Beta holds the first quote. It continues here.
Gamma is filler text.
Delta holds the second quote.
Beta holds the first quote.
"""


@pytest.fixture
def doc(tmp_path: Path) -> Document:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "tiny.txt").write_text(TEXT)
    return load_document(folder / "tiny.txt", folder)


def _case(doc: Document, evidence: list[str], answerable: bool = True, **extra: object) -> Case:
    raw = {
        "id": "c1",
        "question": "q?",
        "answer": "the first quote",
        "evidence": evidence,
        "type": "fact",
        "answerable": answerable,
        **extra,
    }
    return parse_case(json.dumps(raw), "gold line 1", {doc.source: doc})


def _passage(doc: Document, a: int, b: int, text: str | None = None) -> Passage:
    return Passage(doc.source, a, b, "author", None, doc.text_of(a, b) if text is None else text)


def _answer(
    retrieved: list[Passage] = (),
    citations: list[Citation] = (),
    refused: bool = False,
    text: str = "x",
    first: float = 1.0,
    total: float = 2.0,
) -> Answer:
    return Answer(
        "q?",
        text,
        refused,
        list(citations),
        [Retrieved(p, 1.0) for p in retrieved],
        {"first_token_s": first, "total_s": total},
    )


def _cite(doc: Document, n: int, a: int, b: int, quote: str) -> Citation:
    return Citation(n, doc.source, a, b, "author", None, quote)


def _embed(texts: list[str]) -> list[list[float]]:
    return [[1.0, float(len(t))] for t in texts]


# -- locating evidence -------------------------------------------------------------------------------------
def test_quotes_are_located_by_line_every_time_they_occur(doc: Document) -> None:
    spans = locate_quote("Beta holds the first quote.", {doc.source: doc})
    assert [(s.line_start, s.line_end) for s in spans] == [(2, 2), (5, 5)]
    across = locate_quote("filler text.\nDelta holds", {doc.source: doc})
    assert [(s.line_start, s.line_end) for s in across] == [(3, 4)]
    assert locate_quote("not in there", {doc.source: doc}) == ()


# -- retrieval metrics -------------------------------------------------------------------------------------
def test_recall_at_k_mrr_and_chars_on_a_known_ranking(doc: Document) -> None:
    case = _case(doc, ["It continues here.", "Delta holds the second quote."])
    ranked = [_passage(doc, 1, 1), _passage(doc, 4, 4), _passage(doc, 2, 3)]
    answer = _answer(ranked)
    at3 = score_retrieval(Context(case, answer, {doc.source: doc}, 3, _embed))
    assert at3["recall_at_k"] == 1.0 and at3["reciprocal_rank"] == 0.5
    assert at3["chars_retrieved"] == sum(len(p.text) for p in ranked)
    at2 = score_retrieval(Context(case, answer, {doc.source: doc}, 2, _embed))
    assert at2["recall_at_k"] == 0.5 and at2["evidence_found"] == 1 and at2["evidence_total"] == 2
    at1 = score_retrieval(Context(case, answer, {doc.source: doc}, 1, _embed))
    assert at1["recall_at_k"] == 0.0 and at1["reciprocal_rank"] == 0.0


def test_a_passage_holding_only_part_of_the_line_does_not_count(doc: Document) -> None:
    case = _case(doc, ["It continues here."])
    half = _passage(doc, 2, 2, text="Beta holds the first quote.")  # the line's first sentence only
    got = score_retrieval(Context(case, _answer([half]), {doc.source: doc}, 4, _embed))
    assert got["recall_at_k"] == 0.0


def test_unanswerable_items_have_no_recall(doc: Document) -> None:
    case = _case(doc, [], answerable=False)
    got = score_retrieval(Context(case, _answer([_passage(doc, 1, 1)]), {doc.source: doc}, 4, _embed))
    assert got["recall_at_k"] is None and got["reciprocal_rank"] is None


# -- citation metrics --------------------------------------------------------------------------------------
def test_citation_precision_recall_and_verbatim_quotes(doc: Document) -> None:
    case = _case(doc, ["Delta holds the second quote."])
    citations = [
        _cite(doc, 1, 4, 4, "Delta holds the second quote."),  # on evidence, verbatim
        _cite(doc, 2, 3, 4, "Gamma is filler text."),  # overlaps the evidence line, verbatim
        _cite(doc, 3, 1, 1, "A quote nobody wrote."),  # off evidence, not verbatim
    ]
    got = score_citations(Context(case, _answer(citations=citations), {doc.source: doc}, 4, _embed))
    assert got == {"citations": 3, "citations_on_evidence": 2, "citations_verified": 2, "cited_evidence": 1.0}


def test_citations_on_an_unanswerable_item_are_all_off_evidence(doc: Document) -> None:
    case = _case(doc, [], answerable=False)
    got = score_citations(
        Context(case, _answer(citations=[_cite(doc, 1, 1, 1, "The alpha line")]), {doc.source: doc}, 4, _embed)
    )
    assert got["citations_on_evidence"] == 0 and got["cited_evidence"] is None


# -- answer metrics ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("the cat sat", "a cat sat down", 0.8),  # P = 2/2, R = 2/3
        ("Trump said it.", "trump SAID it", 1.0),  # case, punctuation
        ("nothing shared", "entirely different", 0.0),
        ("", "", 1.0),
        ("", "something", 0.0),
    ],
)
def test_token_f1(prediction: str, reference: str, expected: float) -> None:
    assert token_f1(prediction, reference) == pytest.approx(expected)


def test_percentile_interpolates() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([None, 7.0], 95) == 7.0
    assert percentile([], 50) is None


# -- aggregation, comparison, gates ------------------------------------------------------------------------
def _item(
    doc: Document,
    answerable: bool,
    refused: bool,
    found: int,
    total: int,
    cites: int,
    on: int,
    kind: str = "fact",
) -> ItemResult:
    case = Case("i", "q?", "a", (), kind, answerable)
    metrics = {
        "evidence_total": float(total),
        "evidence_found": float(found),
        "recall_at_k": found / total if total else None,
        "reciprocal_rank": 1.0 if found else (0.0 if total else None),
        "chars_retrieved": 100.0,
        "citations": float(cites),
        "citations_on_evidence": float(on),
        "citations_verified": float(cites),
        "cited_evidence": float(on > 0) if answerable else None,
        "refused": float(refused),
        "token_f1": 0.5,
        "similarity": 0.5,
        "first_token_s": 1.0,
        "total_s": 2.0,
    }
    return ItemResult(case, _answer(refused=refused), metrics)


def test_summary_micro_averages_and_refusal_rates(doc: Document) -> None:
    items = [
        _item(doc, True, False, found=1, total=1, cites=2, on=2),
        _item(doc, True, True, found=0, total=3, cites=0, on=0, kind="why"),
        _item(doc, False, True, found=0, total=0, cites=0, on=0, kind="unanswerable"),
        _item(doc, False, False, found=0, total=0, cites=2, on=0, kind="unanswerable"),
    ]
    s = summarize(items)
    assert s["evidence_recall"] == 0.25  # 1 of 4 quotes, not the mean of 1.0 and 0.0
    assert s["mrr"] == 0.5
    assert s["citation_precision"] == 1.0  # 2 of 2 on answerable items; the unanswerable item's 2 do not count
    assert s["citation_recall"] == 0.5  # 1 of 2 answerable items
    assert s["refusal_rate"] == 0.5 and s["false_refusal_rate"] == 0.5
    assert s["total_p50"] == 2.0
    report = Report("assistant", items, {"gold": "g", "k": 4})
    assert report.by_type["unanswerable"]["evidence_recall"] is None
    assert list(report.by_type) == ["fact", "why", "unanswerable"]
    assert "### By type" in report.markdown()


def test_citation_precision_counts_answerable_items_only(doc: Document) -> None:
    refusal = _item(doc, False, True, found=0, total=0, cites=3, on=0, kind="unanswerable")  # shows what it says
    items = [
        _item(doc, True, False, found=1, total=1, cites=4, on=3),
        _item(doc, True, False, found=1, total=1, cites=2, on=0, kind="why"),
        refusal,
    ]
    s = summarize(items)
    assert s["citation_precision"] == 0.5  # 3 of the 6 citations on answerable items, not 3 of 9
    assert s["quotes_verified"] == 1.0  # still every citation shown
    assert summarize([refusal])["citation_precision"] is None  # no answerable item: nothing to measure
    by_type = Report("assistant", items).by_type
    assert by_type["fact"]["citation_precision"] == 0.75 and by_type["unanswerable"]["citation_precision"] is None


def test_gates_name_the_failed_metric(doc: Document) -> None:
    report = Report("assistant", [_item(doc, True, False, 1, 2, 2, 1)])
    assert check(report, {"min_citation_precision": 0.5, "max_total_p95": 3.0, "min_mrr": None}) == []
    failed = check(report, {"min_evidence_recall": 0.9, "max_false_refusal_rate": -0.1})
    assert failed[0].startswith("evidence_recall 0.50 < 0.9") and "--min-evidence-recall" in failed[0]
    assert failed[1].startswith("false_refusal_rate 0.00 > -0.1")


def test_comparison_names_the_better_pipeline(doc: Document) -> None:
    good = Report("assistant", [_item(doc, True, False, 2, 2, 1, 1)])
    bad = Report("baseline", [_item(doc, True, True, 1, 2, 4, 1)])
    table = compare_markdown([good, bad])
    assert "| citation precision | 1.00 | 0.25 | assistant |" in table
    assert "| false-refusal rate (answerable) | 0.00 | 1.00 | assistant |" in table
    assert "| avg chars retrieved | 100 | 100 |  |" in table


# -- gold validation ---------------------------------------------------------------------------------------
def test_the_dev_set_is_valid(seeds: Path) -> None:
    doc = load_document(next(seeds.iterdir()), seeds)
    dataset = Dataset.load(DEV, {doc.source: doc})
    assert len(dataset.cases) == 32 and len(dataset.limit(3).cases) == 3
    assert all(all(spans) for c in dataset.cases for spans in c.spans)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        (
            '{"id": "x", "question": "q", "answer": "a", "evidence": [], "type": "fact"}',
            "'answerable' must be",
        ),
        (
            '{"id": "x", "question": "q", "answer": "a", "evidence": ["Nowhere in the text."], '
            '"type": "fact", "answerable": true}',
            "line 2 (x): evidence quote “Nowhere in the text.” does not occur",
        ),
        (
            '{"id": "x", "question": "q", "answer": "a", "evidence": [], "type": "fact", "answerable": true}',
            "line 2 (x): an answerable item needs",
        ),
        (
            '{"id": "ok", "question": "q", "answer": "a", "evidence": [], "type": "u", "answerable": false}',
            "line 2: duplicate id 'ok'",
        ),
        (
            '{"id": "x", "question": "q", "answer": "a", "evidence": [], "type": "u", "answerable": false, '
            '"history": ["q"]}',
            "history must be a list of [question, answer] pairs",
        ),
    ],
)
def test_bad_gold_lines_are_named(doc: Document, tmp_path: Path, line: str, message: str) -> None:
    good = (
        '{"id": "ok", "question": "q", "answer": "a", "evidence": ["Gamma is filler"], "type": "fact", '
        '"answerable": true}'
    )
    gold = tmp_path / "gold.jsonl"
    gold.write_text(good + "\n" + line + "\n")
    with pytest.raises(DocumentError) as err:
        Dataset.load(gold, {doc.source: doc})
    assert message in str(err.value) and str(gold) in str(err.value)


def _split_gold(tmp_path: Path, splits: list[str | None]) -> Path:
    lines = []
    for n, split in enumerate(splits, start=1):
        item = {"id": f"s{n}", "question": "q", "answer": "a", "evidence": ["Gamma is filler"], "type": "fact"}
        lines.append(json.dumps({**item, "answerable": True, **({"split": split} if split else {})}))
    gold = tmp_path / "split.jsonl"
    gold.write_text("\n".join(lines) + "\n")
    return gold


def test_a_split_keeps_only_its_items(doc: Document, tmp_path: Path) -> None:
    gold = _split_gold(tmp_path, ["train", "test", None, "test", "train"])
    dataset = Dataset.load(gold, {doc.source: doc})
    assert [c.split for c in dataset.cases] == ["train", "test", None, "test", "train"]
    assert [c.id for c in dataset.split("test").cases] == ["s2", "s4"]
    assert [c.id for c in dataset.split("train").cases] == ["s1", "s5"]  # the item without a split is left out
    assert dataset.split(None) is dataset  # no split asked: every item, with or without one
    assert [c.id for c in dataset.split("test").limit(1).cases] == ["s2"]
    assert dataset.split("test").name == "split.jsonl"


def test_asking_for_a_missing_split_names_the_splits_there_are(doc: Document, tmp_path: Path) -> None:
    only_train = Dataset.load(_split_gold(tmp_path, ["train", None]), {doc.source: doc})
    with pytest.raises(DocumentError, match=r"No item of split.jsonl is in the split 'test': its splits are train"):
        only_train.split("test")
    none = Dataset.load(_split_gold(tmp_path, [None, None]), {doc.source: doc})
    with pytest.raises(DocumentError, match="its items have no split field"):
        none.split("train")


def test_a_split_that_is_not_a_name_is_named(doc: Document) -> None:
    with pytest.raises(DocumentError, match=r"gold line 1 \(c1\): split must be a name"):
        _case(doc, ["Gamma is filler"], split=3)


def test_items_jsonl_and_the_report_record_the_split(doc: Document) -> None:
    case = _case(doc, ["Gamma is filler"], split="test")
    item = ItemResult(case, _answer(), _item(doc, True, False, 1, 1, 1, 1).metrics)
    assert item.to_dict("assistant")["split"] == "test"
    assert ItemResult(_case(doc, ["Gamma is filler"]), _answer(), item.metrics).to_dict("a")["split"] is None
    report = Report("assistant", [item], {"gold": "g.jsonl", "k": 4, "split": "test"})
    assert "from `g.jsonl` (split test) · k=4" in report.markdown()
    assert report.to_dict()["config"]["split"] == "test"


def test_history_is_kept_for_multi_turn_items(doc: Document) -> None:
    case = _case(doc, ["Gamma is filler"], history=[["Who?", "Beta."]])
    assert case.history == (("Who?", "Beta."),)


# -- the harness end to end (real MiniLM, real Chroma in tmp, fake LLM) ------------------------------------
def _limited_gold(tmp_path: Path, n: int = 3) -> Path:
    gold = tmp_path / "gold" / "dev.jsonl"
    gold.parent.mkdir(parents=True, exist_ok=True)
    gold.write_text("".join(DEV.read_text().splitlines(keepends=True)[:n]))
    return gold


@pytest.mark.slow
def test_run_writes_every_file_for_both_pipelines(seed_index: Settings, tmp_path: Path) -> None:
    reports, out = run(
        DEV,
        pipelines=("assistant", "baseline"),
        out=tmp_path / "run",
        limit=3,
        progress=False,
        settings=seed_index,
    )
    assert [r.name for r in reports] == ["assistant", "baseline"]
    assert sorted(p.name for p in out.iterdir()) == [
        "compare.md",
        "items.jsonl",
        "report.json",
        "report.md",
        "scores.png",
    ]
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert [(i["pipeline"], i["id"]) for i in items] == [
        ("assistant", "q001"),
        ("assistant", "q003"),
        ("assistant", "q005"),
        ("baseline", "q001"),
        ("baseline", "q003"),
        ("baseline", "q005"),
    ]
    first = items[0]
    assert set(first["answer"]) >= {"question", "answer", "refused", "citations", "retrieved", "timings"}
    assert first["metrics"]["recall_at_k"] == 1.0 and first["timings"]["total_s"] > 0
    report = json.loads((out / "report.json").read_text())
    assert report["pipelines"]["assistant"]["config"]["k"] == 6
    assert report["pipelines"]["baseline"]["config"]["k"] == 4
    assert set(report["compare"]) >= {"evidence_recall", "citation_precision", "refusal_rate", "total_p95"}
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Side by side" in (out / "report.md").read_text()
    # the baseline's chunks carry line ranges computed from their offsets, so its citations verify
    baseline = reports[1]
    assert all(i.metrics["citations_verified"] == i.metrics["citations"] == 4 for i in baseline.items)
    assert (seed_index.index_dir / "baseline").is_dir()


@pytest.fixture
def seed_env(seed_index: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the CLI (and a notebook kernel) at the session's ready index."""
    monkeypatch.setenv("ASSISTANT_SEEDS_DIR", str(seed_index.seeds_dir))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(seed_index.index_dir))
    return seed_index


@pytest.mark.slow
def test_cli_eval_json_and_gates(seed_env: Settings, tmp_path: Path) -> None:
    from assistant.cli import main

    gold = _limited_gold(tmp_path)
    ok = CliRunner().invoke(main, ["eval", str(gold), "--out", str(tmp_path / "a"), "--json", "--llm", "fake"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["pipelines"]["assistant"]["items"] == 3
    assert (tmp_path / "a" / "report.md").exists()

    gated = CliRunner().invoke(
        main, ["eval", str(gold), "--out", str(tmp_path / "b"), "--llm", "fake", "--min-evidence-recall=1.01"]
    )
    assert gated.exit_code == 1
    assert "Gate failed: evidence_recall" in gated.stderr and "--min-evidence-recall" in gated.stderr
    assert "assistant: evidence recall@k" in gated.stdout


@pytest.mark.slow
def test_cli_eval_split_runs_that_split_and_records_it(seed_env: Settings, tmp_path: Path) -> None:
    from assistant.cli import main

    gold = tmp_path / "gold" / "split.jsonl"
    gold.parent.mkdir()
    lines = DEV.read_text().splitlines()[:4]
    splits = ["train", "test", "test", None]
    gold.write_text(
        "".join(
            json.dumps({**json.loads(line), **({"split": s} if s else {})}) + "\n"
            for line, s in zip(lines, splits, strict=True)
        )
    )
    args = ["eval", str(gold), "--out", str(tmp_path / "a"), "--json", "--llm", "fake", "--split", "test"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["pipelines"]["assistant"]
    assert report["items"] == 2 and report["config"]["split"] == "test"
    items = [json.loads(line) for line in (tmp_path / "a" / "items.jsonl").read_text().splitlines()]
    assert [i["split"] for i in items] == ["test", "test"]


def test_cli_eval_missing_split_is_one_line_error(seeds: Path, tmp_path: Path) -> None:
    from assistant.cli import main

    gold = _limited_gold(tmp_path, 2)  # the dev set has no split field
    result = CliRunner().invoke(
        main, ["eval", str(gold), "--llm", "fake", "--split", "test", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: No item of dev.jsonl is in the split 'test'")
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_cli_eval_bad_gold_is_one_line_error(seeds: Path, tmp_path: Path) -> None:
    from assistant.cli import main

    gold = tmp_path / "bad.jsonl"
    gold.write_text(DEV.read_text().splitlines()[0] + "\n{oops\n")
    result = CliRunner().invoke(main, ["eval", str(gold), "--llm", "fake", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "line 2: not valid JSON" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_eval_command_has_help() -> None:
    from assistant.cli import main

    result = CliRunner().invoke(main, ["eval", "--help"])
    assert result.exit_code == 0 and "--min-METRIC" in result.output and "--compare" in result.output
    assert "--split [train|test]" in result.output and "--split test" in result.output


# -- the notebook ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_notebook_runs(seed_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("ASSISTANT_LLM", "fake")
    monkeypatch.setenv("EVAL_ITEMS", "3")
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # the kernel inherits this test's ASSISTANT_* environment
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
