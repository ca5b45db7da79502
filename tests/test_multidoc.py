"""Many documents, embedded store: the right file is cited, a deleted one vanishes, updates are per file."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, SEED
from test_loaders import LIGHTHOUSE_PDF, make_pdf

from assistant import Assistant, Settings
from assistant.index import Manifest, ensure_index, index_version, open_store, store_dir, watch

pytestmark = pytest.mark.slow

SECOND = ROOT / "tests" / "data" / "second.md"
HANDBOOK = "seeds/handbook/second.md"
ARTICLE = f"seeds/{SEED.name}"
STEPS = "How many steps does the keeper climb to reach the lantern room?"


def _add_handbook(seeds: Path) -> Path:
    target = seeds / "handbook" / "second.md"  # in a subfolder: seeds/ is read recursively
    target.parent.mkdir(exist_ok=True)
    shutil.copy(SECOND, target)
    return target


def _ids(settings: Settings) -> list[str]:
    return open_store(settings).get(include=[])["ids"]


def test_second_document_is_cited_then_forgotten(settings: Settings, seeds: Path) -> None:
    handbook = _add_handbook(seeds)
    assistant = Assistant(settings)
    answer = assistant.ask(STEPS)
    assert not answer.refused and answer.citations
    assert {c.source for c in answer.citations} == {HANDBOOK}
    document = assistant.documents[HANDBOOK]
    assert document.title == "The Keeper's Handbook of Skerryvore Light"
    for c in answer.citations:
        assert c.quote in document.text_of(c.line_start, c.line_end) and c.section == "The Lantern"
    cited = answer.to_dict()["citations"][0]
    assert cited["title"] == document.title and "page" not in cited  # the UI and CLI name the document by it
    assert not assistant.ask("Why does the author think the split will backfire?").refused

    handbook.unlink()
    report = assistant.index()
    assert report.documents == 1 and report.embedded == 0
    after = assistant.ask(STEPS)
    assert all(r.passage.source == ARTICLE for r in after.retrieved)
    assert all(c.source == ARTICLE for c in after.citations)


def test_sources_limit_retrieval_to_one_document(settings: Settings, seeds: Path) -> None:
    _add_handbook(seeds)
    assistant = Assistant(settings)
    hits = assistant.retriever.search(STEPS, k=6, sources=[ARTICLE])
    assert hits and {r.passage.source for r in hits} == {ARTICLE}
    limited = assistant.ask(STEPS, sources=[ARTICLE])
    assert all(c.source == ARTICLE for c in limited.citations)
    assert {r.passage.source for r in assistant.ask(STEPS, sources=[HANDBOOK]).retrieved} == {HANDBOOK}
    title = assistant.documents[HANDBOOK].title or ""
    for typed in ("second.md", title.upper()):  # as a person would type it: the file name, the title
        assert assistant.resolve_sources([typed]) == [HANDBOOK], typed
    assert assistant.resolve_sources(["../etc/passwd"]) == ["../etc/passwd"]  # unknown: filters to nothing


def test_add_change_delete_readd_touch_only_that_file(settings: Settings, seeds: Path) -> None:
    seed_only = ensure_index(settings)
    handbook = _add_handbook(seeds)
    added = ensure_index(settings)
    n_handbook = added.passages - seed_only.passages
    assert n_handbook == 6 and added.embedded == n_handbook and added.reused == seed_only.passages
    manifest = Manifest.read(store_dir(settings) / "manifest.json")
    assert manifest and set(manifest.documents) == {ARTICLE, HANDBOOK}
    ids_with = sorted(_ids(settings))

    text = handbook.read_text()
    handbook.write_text(text.replace("151 steps", "153 steps"))
    changed = ensure_index(settings)
    assert changed.embedded == 1 and changed.passages == added.passages  # one passage's text changed
    texts = open_store(settings).get(where={"source": HANDBOOK})["documents"]
    assert any("153 steps" in t for t in texts) and not any("151 steps" in t for t in texts)

    handbook.write_text(text)  # back to the first version, then delete and re-add the very same file
    ensure_index(settings)
    handbook.unlink()
    removed = ensure_index(settings)
    assert removed.passages == seed_only.passages and not open_store(settings).get(where={"source": HANDBOOK})["ids"]
    _add_handbook(seeds)
    ensure_index(settings)
    ids = _ids(settings)
    assert sorted(ids) == ids_with and len(ids) == len(set(ids))  # no duplicates
    handbook.touch()  # a new mtime, same bytes: nothing to do
    assert ensure_index(settings).action == "up to date"


def test_pdf_and_html_are_indexed_with_pages(settings: Settings, seeds: Path) -> None:
    (seeds / "light.pdf").write_bytes(make_pdf(LIGHTHOUSE_PDF))
    (seeds / "bees.html").write_text("<title>Bees</title><h1>Bees</h1><p>A hive holds fifty thousand bees.</p>")
    assistant = Assistant(settings)
    hits = assistant.retriever.search("How often does the fog horn sound?", k=3)
    top = hits[0].passage
    assert top.source == "seeds/light.pdf" and top.page == 2
    assert assistant.documents[top.source].where(top.line_start, top.line_end) == "page 2, lines 1-4"
    assert assistant.retriever.search("How many bees live in a hive?", k=1)[0].passage.source == "seeds/bees.html"
    answer = assistant.ask("How often does the fog horn sound?", sources=["seeds/light.pdf"])
    assert answer.citations and {c.page for c in answer.citations} == {2}
    assert all(c["page"] == 2 for c in answer.to_dict()["citations"])
    assert answer.to_dict()["retrieved"][0]["page"] == 2


def test_watch_updates_the_index_while_it_runs(settings: Settings, seeds: Path) -> None:
    ensure_index(settings)
    before = index_version(settings)
    stop = threading.Event()
    messages: list[str] = []
    thread = threading.Thread(target=watch, args=(settings, 0.2, messages.append, stop), daemon=True)
    thread.start()
    try:
        _add_handbook(seeds)
        deadline = time.monotonic() + 120
        while index_version(settings) == before and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert index_version(settings) != before
    assert any(m.startswith("Index rebuilt") for m in messages), messages
    assert open_store(settings).get(where={"source": HANDBOOK})["ids"]


def test_store_swapped_by_another_process_is_picked_up(settings: Settings, seeds: Path) -> None:
    ensure_index(settings)
    old = open_store(settings)
    old_ids = set(old.get(include=[])["ids"])
    version = index_version(settings)
    _add_handbook(seeds)
    code = (
        "from assistant import Settings; from assistant.index import ensure_index; "
        f"ensure_index(Settings(seeds_dir={str(seeds)!r}, index_dir={str(settings.index_dir)!r}))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)
    assert index_version(settings) != version
    # The reader that opened the old store keeps answering from it; a new open sees the new one.
    assert set(old.get(include=[])["ids"]) == old_ids
    assert old.similarity_search("lantern room", k=1)
    new = open_store(settings)
    assert new.get(where={"source": HANDBOOK})["ids"] and len(new.get(include=[])["ids"]) > len(old_ids)


def test_store_from_before_versioned_folders_is_taken_over(
    settings: Settings, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ensure_index(settings)
    link = settings.index_dir / "store"
    target = link.resolve()
    link.unlink()
    target.rename(link)  # the layout of earlier versions: index/store is the store itself
    assert ensure_index(settings).action == "up to date"
    monkeypatch.setattr("assistant.index.build.OLD_STORE_GRACE_S", 0.0)
    _add_handbook(seeds)
    report = ensure_index(settings)
    assert report.action == "rebuilt" and report.reused == first.passages
    assert link.is_symlink() and sorted(p.name for p in settings.index_dir.iterdir()) == ["store", link.resolve().name]
