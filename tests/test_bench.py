"""The benchmark runs end to end on a tiny corpus with the fake LLM, so it does not rot between real runs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from assistant.bench import KEYS, BenchOptions, format_report, run
from assistant.probes import percentile, wait_for_quiet
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_b8aa54d3edd41c2c.txt"


def _script(name: str = "run") -> ModuleType:
    """A script of benchmarks/, loaded as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass in it looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """The seed's first 30 lines: editor's note, byline and the article's opening."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    lines = SEED.read_text(encoding="utf-8").splitlines()[:30]
    (folder / "tiny.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def gold(tmp_path: Path) -> Path:
    """Three dev questions, one of them unanswerable (used for retrieval only)."""
    rows = [json.loads(line) for line in (ROOT / "eval" / "dev.jsonl").read_text().splitlines()[:4]]
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows if r["id"] != "q003"), encoding="utf-8")
    return path


def test_the_bench_uses_the_one_percentile_of_the_evaluation() -> None:
    from assistant.evaluation import report

    values = [float(v) for v in range(1, 21)]  # 1..20, interpolated as `assistant eval` does
    assert percentile is report.percentile
    assert percentile(values, 50) == 10.5 and percentile(values, 95) == pytest.approx(19.05)
    assert percentile([], 50) is None


def test_waiting_for_quiet_is_bounded() -> None:
    assert 1.9 <= wait_for_quiet(limit=1.01, timeout=10) < 5  # everything counts as quiet: two 1-s samples
    assert wait_for_quiet(limit=0.0, timeout=1) <= 2.5  # nothing is quieter than 0: gives up at the timeout


def test_synthetic_corpus_shuffles_the_seed_paragraphs(tiny: Path, tmp_path: Path) -> None:
    seeds = _script("scaling").synthetic_corpus(tiny, tmp_path / "c3", 3)
    docs = sorted(seeds.glob("doc*.txt"))
    paragraphs = sorted(line for line in (tiny / "tiny.txt").read_text().split("\n") if line.strip())
    assert len(docs) == 3
    assert all(sorted(d.read_text().strip().split("\n")) == paragraphs for d in docs)
    assert docs[0].read_text() != docs[1].read_text()


@pytest.mark.slow  # real MiniLM and Chroma over a small corpus
def test_script_quick_run_with_the_fake_llm(
    tiny: Path, gold: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--quick", "--json", "--llm", "fake", "--seeds", str(tiny), "--gold", str(gold), "--sizes", "2",
            "--no-cold", "--no-ui",
            "--no-isolate", "--questions", "2", "--index-runs", "1", "--retrieval-runs", "1",
            "--no-shared-docs", "--mix-limit", "3",
            "--results", str(tmp_path / "results"), "--chart", str(tmp_path / "curve.png"),
            "--vectors", str(tmp_path / "vectors.npz")]  # fmt: skip
    assert _script().main(argv) == 0
    results = json.loads(capsys.readouterr().out)
    for key in KEYS:
        assert key in results and key in results["baseline"], key
    assert results["ttft_s_p50"] > 0 and results["index_seed_s"] > 0
    assert results["retrieval_ms_p50"] <= results["retrieval_ms_p95"]
    assert results["assistant"]["answers"] == 3 and results["ratios"]["total_s_p50"] > 0
    assert results["evidence_s_p50"] is not None and results["evidence_s_p50"] <= results["ttft_s_p50"]
    assert results["prompt_tokens_p50"] > 0 and results["assistant"]["model_calls_mean"] >= 1
    assert set(results["assistant"]["by_kind"]) <= {"fact", "why", "who", "comments", "unanswerable", "follow-up"}
    assert 0 <= results["others_cpu"]["warm_answers"] <= 1  # how disturbed each part was, for the record
    [point] = results["scaling"]
    assert point["documents"] == 2 and point["passages"] > 0 and point["index_mb"] > 0
    assert (tmp_path / "curve.png").stat().st_size > 1000
    assert json.loads(Path(results["saved"]).read_text())["llm"] == "fake"
    assert (tmp_path / "vectors.npz").exists()  # a second run embeds nothing again
    assert "| warm total p50 (s) |" in format_report(results)
    assert "| 2 |" in _script("scaling").format_scaling(results)


@pytest.mark.slow
def test_cold_start_and_served_ui_in_fresh_processes(tiny: Path, gold: Path, tmp_path: Path) -> None:
    sessions, scaling = _script("sessions"), _script("scaling")
    options = BenchOptions.quick(
        llm="fake", seeds_dir=tiny, gold=gold, questions=1, index_runs=1, retrieval_runs=1, baseline=False,
        results_dir=None, work_dir=tmp_path / "work",
        served=sessions.served(Settings(llm="fake"), ["What is Trump's plan?"], (1,)),
        after=scaling.Curve(sizes=(2,), vectors=None, chart=None),
    )  # fmt: skip
    results = run(options)
    assert results["sessions"]["1"]["answers"] == 1  # one simulated user, through the served UI
    a = results["assistant"]
    assert 0 < results["ui_up_s"] <= results["ui_ready_s"] <= a["ui_first_answer_s"]
    assert results["cold_first_answer_s"] > 0 and a["cold_runs"][0]["phases_s"]["first_answer"] > 0
    assert results["rss_mb_peak"] > 100  # the served app with MiniLM loaded
    assert results["scaling"][0]["rss_mb_peak"] > 100  # measured in its own process


@pytest.mark.slow
def test_cold_only_alternates_the_baseline_and_assistant_serve(tiny: Path, gold: Path, tmp_path: Path) -> None:
    options = BenchOptions.quick(
        llm="fake", seeds_dir=tiny, gold=gold, questions=1, cold_runs=2, cold_only=True, max_load=1000.0,
        results_dir=None, work_dir=tmp_path / "work",
    )  # fmt: skip
    results = run(options)
    a, b = results["assistant"], results["baseline"]
    assert len(a["ui_runs"]) == len(b["cold_runs"]) == 2
    assert {"load_avg", "others_cpu"} <= set(a["ui_runs"][0]) & set(b["cold_runs"][1])  # how quiet each run was
    assert 0 < results["ui_up_s"] <= results["ui_ready_s"] <= a["ui_first_answer_s"]
    assert results["ratios"]["ui_first_answer_s"] == round(a["ui_first_answer_s"] / b["cold_first_answer_s"], 2)
    [goal] = [g for g in results["ratio_goals"] if g["key"] == "ui_first_answer_s"]
    assert goal["ratio"] == results["ratios"]["ui_first_answer_s"]
    assert results["ttft_s_p50"] is None and "index_seed_s" not in a  # nothing else was measured


@pytest.mark.slow  # real MiniLM and Chroma over a small corpus
def test_retrieval_sweep_prints_one_row_per_setting(
    seeds: Path, gold: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _script("retrieval_sweep").main(str(gold))  # the seed under the test's own seeds/, three dev questions
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 27  # RRF_K x small-to-big x grow-to, less the 6 rows where nothing grows
    recall = [float(r.split("|")[4]) for r in rows]
    assert all(0.0 <= x <= 1.0 for x in recall) and max(recall) > 0  # the three questions' evidence is found


@pytest.mark.slow  # real MiniLM and Chroma over a small corpus
def test_replay_eval_scores_the_same_from_the_cache_without_calling_the_model(
    seeds: Path, gold: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replay = _script("replay_eval")
    args = [str(gold), "--cache", str(tmp_path / "replies.json"), "--llm", "fake"]

    first = replay.main(args)
    assert " 0 from the cache" in capsys.readouterr().out  # every reply came from the model once
    second = replay.main(args)
    out = capsys.readouterr().out
    assert " 0 from the model" in out and len(json.loads((tmp_path / "replies.json").read_text())) > 0
    scores = [{k: v for k, v in s.items() if not k.endswith(("_p50", "_p95"))} for s in (first, second)]
    assert scores[0] == scores[1] and first["quotes_verified"] == 1.0
