"""Server mode: a real `chroma run` on a free local port, updated in place, shared by several assistants."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, SEED

from assistant import Assistant, ConfigError, IndexNotReady, Settings
from assistant.cli import main
from assistant.index import Manifest, ensure_index, index_version, open_store
from assistant.probes import free_port

SECOND = ROOT / "tests" / "data" / "second.md"
HANDBOOK = "seeds/handbook/second.md"
ARTICLE = f"seeds/{SEED.name}"
STEPS = "How many steps does the keeper climb to reach the lantern room?"


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server (`chroma run`, shipped with chromadb) for this module, stopped afterwards."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert chroma, "the `chroma` command comes with the chromadb package; run `make install`"
    folder = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [chroma, "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((folder / "server.log").read_text(errors="replace")[-2000:]) from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _server_settings(settings: Settings, url: str, collection: str) -> Settings:
    return settings.model_copy(update={"chroma_url": url, "collection": collection})


def _records(settings: Settings, source: str | None = None) -> dict:
    return open_store(settings).get(where={"source": source} if source else None)


@pytest.mark.slow
def test_server_mode_indexes_answers_and_forgets(
    settings: Settings, seeds: Path, chroma_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handbook = seeds / "handbook" / "second.md"
    handbook.parent.mkdir()
    shutil.copy(SECOND, handbook)
    served = _server_settings(settings, chroma_url, "server-answers")

    # Nothing else changes for the user: the same command, one environment variable.
    monkeypatch.setenv("ASSISTANT_CHROMA_URL", chroma_url)
    monkeypatch.setenv("ASSISTANT_COLLECTION", served.collection)
    result = CliRunner().invoke(main, ["index", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["action"] == "built" and report["documents"] == 2 and report["path"].startswith(chroma_url)
    assert not (settings.index_dir / "store").exists()  # nothing written under index/

    first, second = Assistant(served), Assistant(served)  # two app processes sharing one index
    answer = first.ask(STEPS)
    assert not answer.refused and {c.source for c in answer.citations} == {HANDBOOK}
    c = answer.citations[0]
    assert c.quote in first.documents[HANDBOOK].text_of(c.line_start, c.line_end)
    other = second.ask("Why does the author think the split will backfire?")
    assert not other.refused and {c.source for c in other.citations} == {ARTICLE}
    assert second.last_index is not None and second.last_index.action == "up to date"

    version = index_version(served)
    handbook.unlink()
    removed = ensure_index(served)
    assert removed.action == "updated" and removed.embedded == 0 and removed.documents == 1
    assert not _records(served, HANDBOOK)["ids"] and index_version(served) != version
    after = Assistant(served).ask(STEPS)
    assert all(r.passage.source == ARTICLE for r in after.retrieved)

    shutil.copy(SECOND, handbook)
    readded = ensure_index(served)
    assert readded.embedded == 6 and readded.reused == removed.passages
    ids = _records(served)["ids"]
    assert len(ids) == len(set(ids)) == readded.passages  # no duplicates

    handbook.write_text(SECOND.read_text().replace("151 steps", "153 steps"))
    changed = ensure_index(served)
    assert changed.embedded == 1 and len(_records(served)["ids"]) == changed.passages
    texts = _records(served, HANDBOOK)["documents"]
    assert any("153 steps" in t for t in texts) and not any("151 steps" in t for t in texts)
    manifest = Manifest.parse(open_store(served)._collection.metadata["manifest"])
    assert manifest and set(manifest.documents) == {ARTICLE, HANDBOOK}
    assert ensure_index(served).action == "up to date"


@pytest.mark.slow  # starts a `chroma run` server
def test_missing_collection_says_to_index(settings: Settings, chroma_url: str) -> None:
    with pytest.raises(IndexNotReady, match="Run `assistant index` first"):
        open_store(_server_settings(settings, chroma_url, "never-indexed"))
    assert index_version(_server_settings(settings, chroma_url, "never-indexed")) == ""


def test_unreachable_server_and_bad_url_are_actionable(settings: Settings) -> None:
    down = _server_settings(settings, f"http://127.0.0.1:{free_port()}", "passages")
    with pytest.raises(IndexNotReady, match="Cannot reach the Chroma server .* `chroma run --path DIR --port N`"):
        open_store(down)
    with pytest.raises(ConfigError, match="not a URL"):
        open_store(_server_settings(settings, "localhost:8000", "passages"))


@pytest.mark.slow
def test_replicas_use_the_shared_index_and_only_the_indexer_writes(
    settings: Settings, seeds: Path, chroma_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handbook = seeds / "handbook" / "second.md"
    handbook.parent.mkdir()
    shutil.copy(SECOND, handbook)
    served = _server_settings(settings, chroma_url, "server-replicas")
    assert Assistant(served).prepare().action == "built"  # no shared index yet: the first one builds it
    version = index_version(served)

    behind = tmp_path / "replica" / "seeds"  # a replica whose copy of seeds/ lacks the handbook
    behind.mkdir(parents=True)
    shutil.copy(SEED, behind / SEED.name)
    replica = Assistant(served.model_copy(update={"seeds_dir": behind}))
    with caplog.at_level("WARNING", logger="assistant"):
        answer = replica.ask("Why does the author think the split will backfire?")
    assert not answer.refused and {c.source for c in answer.citations} == {ARTICLE}
    assert replica.last_index is not None and replica.last_index.action == "shared, differs from seeds/"
    assert HANDBOOK in caplog.text and "assistant index" in caplog.text
    assert index_version(served) == version and _records(served, HANDBOOK)["ids"]  # it wrote nothing

    assert Assistant(served).prepare().action == "up to date"  # a replica in step joins without a word
    ensure_index(served.model_copy(update={"seeds_dir": behind}))  # the indexer's view is what counts
    assert not _records(served, HANDBOOK)["ids"]
