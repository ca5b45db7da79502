"""benchmarks/failures.py puts an item in the first stage that lost it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _failures() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_failures", ROOT / "benchmarks" / "failures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(recall: float, cited: float, refused: bool = False) -> dict:
    return {"metrics": {"recall_at_k": recall, "cited_evidence": cited}, "refused": refused}


def test_each_item_lands_in_the_first_stage_that_lost_it() -> None:
    failures = _failures()
    retrieval, choice, refused, other, gold = failures.STAGES
    assert failures.stage(_record(0.0, 0.0), held=False) == retrieval
    assert failures.stage(_record(1.0, 0.0), held=False) == choice
    assert failures.stage(_record(1.0, 0.0, refused=True), held=True) == refused
    assert failures.stage(_record(1.0, 0.0), held=True) == other
    assert failures.stage(_record(0.5, 1.0, refused=True), held=True) == gold  # a refusal citing the gold line
