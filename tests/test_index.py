"""The persisted index: manifest, no-op when current, incremental re-embedding, atomic swap, corruption."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import Assistant, IndexNotReady, Settings
from assistant.index import Manifest, ensure_index, open_store, store_dir

pytestmark = pytest.mark.slow


def test_build_then_up_to_date(settings: Settings) -> None:
    first = ensure_index(settings)
    assert first.action == "built" and first.embedded == first.passages > 40
    manifest = Manifest.read(store_dir(settings) / "manifest.json")
    assert manifest and manifest.documents.keys() == {"seeds/000_b8aa54d3edd41c2c.txt"}
    assert "all-MiniLM-L6-v2" in manifest.embedding_model
    assert ensure_index(settings).action == "up to date"
    assert open_store(settings).get()["ids"]


def test_changing_one_document_reembeds_only_it(settings: Settings, seeds: Path) -> None:
    ensure_index(settings)
    (seeds / "extra.md").write_text("# Tea\n\nGreen tea is steamed, black tea is oxidised before drying.\n")
    added = ensure_index(settings)
    assert added.action == "rebuilt" and added.embedded == 1 and added.reused == added.passages - 1
    (seeds / "extra.md").unlink()
    removed = ensure_index(settings)
    assert removed.embedded == 0 and removed.passages == added.passages - 1


def test_settings_change_triggers_rebuild(settings: Settings) -> None:
    ensure_index(settings)
    report = ensure_index(settings.model_copy(update={"chunk_max_chars": 400}))
    assert report.action == "rebuilt"


def test_corrupt_store_is_detected_and_rebuilt(settings: Settings) -> None:
    ensure_index(settings)
    (store_dir(settings) / "chroma.sqlite3").write_bytes(b"not a database")
    assert ensure_index(settings).action == "rebuilt"
    assert open_store(settings).get()["ids"]


def test_crash_during_build_keeps_previous_index(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, seeds: Path
) -> None:
    ensure_index(settings)
    before = Manifest.read(store_dir(settings) / "manifest.json")
    (seeds / "extra.md").write_text("# Tea\n\nGreen tea is steamed.\n")
    import assistant.index.build as build_module

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_module, "_swap", boom)
    with pytest.raises(RuntimeError):
        ensure_index(settings)
    after = Manifest.read(store_dir(settings) / "manifest.json")
    assert after == before
    assert not list(settings.index_dir.glob(".build-*"))


def test_missing_index_and_empty_seeds_are_actionable(tmp_path: Path) -> None:
    settings = Settings(seeds_dir=tmp_path / "empty", index_dir=tmp_path / "index")
    with pytest.raises(IndexNotReady, match="Run `assistant index`"):
        open_store(settings)
    with pytest.raises(IndexNotReady, match="No readable documents"):
        Assistant(settings).ask("anything?")


def test_unreadable_file_is_skipped_with_its_name(settings: Settings, seeds: Path) -> None:
    (seeds / "broken.txt").write_bytes(b"\xff\xfe\x00garbage")
    report = ensure_index(settings)
    assert "broken.txt" in report.skipped and report.documents == 1


def test_deleted_index_is_rebuilt_on_first_question(settings: Settings) -> None:
    ensure_index(settings)
    shutil.rmtree(store_dir(settings))
    assert not Assistant(settings).ask("What is the friendship without limits?").refused
