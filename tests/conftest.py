"""Shared fixtures: every test gets its own seeds/ and index/ under tmp_path; models are real but shared."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import Settings

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_b8aa54d3edd41c2c.txt"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the repository's seeds/, index/ or feedback/ through the defaults."""
    for name in ("SEEDS_DIR", "INDEX_DIR", "FEEDBACK_FILE", "LLM", "TOP_K", "CHROMA_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(f"ASSISTANT_{name}", raising=False)
    monkeypatch.setenv("ASSISTANT_SEEDS_DIR", str(tmp_path / "seeds"))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("ASSISTANT_FEEDBACK_FILE", str(tmp_path / "feedback" / "feedback.jsonl"))
    monkeypatch.setenv("ASSISTANT_LLM", "fake")


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A seeds/ folder holding a copy of the real seed document."""
    folder = tmp_path / "seeds"
    folder.mkdir(exist_ok=True)
    shutil.copy(SEED, folder / SEED.name)
    return folder


@pytest.fixture
def settings(seeds: Path, tmp_path: Path) -> Settings:
    """Settings pointing at the tmp seeds/ and index/, with the fake LLM."""
    return Settings(seeds_dir=seeds, index_dir=tmp_path / "index", llm="fake")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One real index of the seed (real MiniLM, real Chroma), built once per test session."""
    base = tmp_path_factory.mktemp("seed-index")
    (base / "seeds").mkdir()
    shutil.copy(SEED, base / "seeds" / SEED.name)
    settings = Settings(seeds_dir=base / "seeds", index_dir=base / "index", llm="fake")
    from assistant.index import ensure_index

    ensure_index(settings)
    return settings
