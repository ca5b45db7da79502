"""Building and updating the index: a new embedded store swapped in atomically, or an in-place diff on a server; `watch`."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..documents import Passage, discover
from ..errors import AssistantError, IndexNotReady
from ..settings import Settings

if TYPE_CHECKING:
    pass
from .embeddings import EMBEDDING_MODEL, embedding_model
from .manifest import Corpus, IndexReport, Manifest, load_corpus, manifest_for, why_stale
from .store import BATCH, _client, _forget_clients, _pages, _remote_manifest, _server, store_dir

log = logging.getLogger(__name__)

OLD_STORE_GRACE_S = 60.0  # a replaced store is kept this long for readers still querying it
STALE_BUILD_S = 3600.0  # a `.build-*` folder untouched this long belongs to a build that died
_BUILD_LOCK = threading.Lock()


def _old_embeddings(path: Path, collection: str, ids: list[str]) -> dict[str, list[float]]:
    """Embeddings already stored for these passage ids (content hashes) in the current store."""
    if not ids or not (path / "chroma.sqlite3").exists():
        return {}
    found: dict[str, list[float]] = {}
    try:
        store = _client(path).get_collection(collection)
        for start in range(0, len(ids), BATCH):  # one SQL variable per id: SQLite caps them per query
            got = store.get(ids=ids[start : start + BATCH], include=["embeddings"])
            found.update((i, list(e)) for i, e in zip(got["ids"], got["embeddings"], strict=True))
    except Exception as exc:  # a corrupt store simply gives nothing to reuse
        log.warning("Could not reuse embeddings from %s: %s", path, exc)
        return {}
    return found


def _write(collection: Any, passages: list[Passage], vectors: dict[str, list[float]], method: str = "add") -> None:
    """Write passages with their embeddings in batches (ours: else Chroma would embed with its own model)."""
    for start in range(0, len(passages), BATCH):
        batch = passages[start : start + BATCH]
        getattr(collection, method)(
            ids=[p.id for p in batch],
            documents=[p.text for p in batch],
            metadatas=[p.metadata() for p in batch],
            embeddings=[vectors[p.id] for p in batch],
        )


def _embed(passages: list[Passage]) -> dict[str, list[float]]:
    if not passages:
        return {}
    vectors = embedding_model().embed_documents([p.text for p in passages])
    return dict(zip((p.id for p in passages), vectors, strict=True))


def ensure_index(
    settings: Settings,
    rebuild: bool = False,
    progress: Callable[[str], None] | None = None,
    corpus: Corpus | None = None,
) -> IndexReport:
    """Build or update the index when seeds or settings changed; a no-op when it is current."""
    say = progress or (lambda message: log.info(message))
    started = time.perf_counter()
    corpus = corpus or load_corpus(settings)
    if not corpus.documents:
        raise IndexNotReady(
            f"No readable documents in {settings.seeds_dir}. Add .txt, .md, .html or .pdf files there, then "
            "run `assistant index`." + (f" Skipped: {corpus.skipped}" if corpus.skipped else "")
        )
    wanted = manifest_for(corpus, settings)
    with _BUILD_LOCK:
        if settings.chroma_url:
            counts = _update_server(settings, corpus, wanted, rebuild, say)
            where: Path | str = f"{settings.chroma_url.rstrip('/')}/{settings.collection}"
        else:
            counts = _build_embedded(settings, corpus, wanted, rebuild, say)
            where = settings.index_dir / "store"
    action, embedded, reused = counts
    seconds = time.perf_counter() - started
    if action != "up to date":
        counted = f"{wanted.passages} passages ({embedded} embedded, {reused} reused)"
        say(f"Index {action}: {counted} in {seconds:.1f}s")
    return IndexReport(where, action, wanted.passages, len(corpus.documents), embedded, reused, seconds, corpus.skipped)


def _build_embedded(
    settings: Settings, corpus: Corpus, wanted: Manifest, rebuild: bool, say: Callable[[str], None]
) -> tuple[str, int, int]:
    """Write a complete new store beside the live one and swap it in; (action, embedded, reused)."""
    live = store_dir(settings)
    current = Manifest.read(live / "manifest.json")
    if not rebuild and current is not None and current.same_build(wanted) and _healthy(live, settings):
        return "up to date", 0, 0
    if current is not None and (why := why_stale(current, wanted)):
        say(f"Rebuilding the index: {why}.")
    say(f"Indexing {len(corpus.documents)} document(s) into {settings.index_dir / 'store'} ...")
    passages = list({p.id: p for p in corpus.passages}.values())  # one record per content hash
    reusable = (
        {}
        if rebuild or current is None or current.embedding_model != EMBEDDING_MODEL
        else (_old_embeddings(live, settings.collection, [p.id for p in passages]))
    )
    todo = [p for p in passages if p.id not in reusable]
    vectors = {**reusable, **_embed(todo)}
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=settings.index_dir))
    try:
        client = _client(build)
        collection = client.create_collection(
            settings.collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        _write(collection, passages, vectors)
        wanted.built_at = time.time()
        (build / "manifest.json").write_text(wanted.to_json(), encoding="utf-8")
        del collection, client
        _forget_clients()
        _swap(build, settings.index_dir / "store")
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return ("rebuilt" if current is not None else "built"), len(todo), len(reusable)


def join_served(settings: Settings, corpus: Corpus) -> IndexReport | None:
    """Server mode: the shared index as it is, when the collection holds one built the way this code builds.

    Why: several app replicas share one collection. If each synced it to its own copy of seeds/, a replica
    with a stale copy would undo the writer's updates; so replicas read, and `assistant index` (one writer,
    e.g. `--watch`) writes. Files that differ from the index are named in a warning. None: nothing to join.
    """
    started = time.perf_counter()
    try:
        current = _remote_manifest(_server(str(settings.chroma_url)).get_collection(settings.collection))
    except AssistantError:
        raise
    except Exception:  # no such collection yet
        return None
    wanted = manifest_for(corpus, settings)
    if current is None or current.embedding_model != wanted.embedding_model or current.chunker != wanted.chunker:
        return None  # nothing to join, or vectors and passages this code cannot read: let index() update it
    differ = sorted(
        s for s in {*current.documents, *wanted.documents} if current.documents.get(s) != wanted.documents.get(s)
    )
    if differ:
        log.warning(
            "The shared index at %s differs from %s for: %s. Answers follow the shared index; run "
            "`assistant index` where the documents are kept to update it.",
            settings.chroma_url, settings.seeds_dir, ", ".join(differ),
        )  # fmt: skip
    where = f"{str(settings.chroma_url).rstrip('/')}/{settings.collection}"
    action = "shared, differs from seeds/" if differ else "up to date"
    seconds = time.perf_counter() - started
    return IndexReport(where, action, current.passages, len(current.documents), 0, 0, seconds, corpus.skipped)


def _update_server(
    settings: Settings, corpus: Corpus, wanted: Manifest, rebuild: bool, say: Callable[[str], None]
) -> tuple[str, int, int]:
    """Bring the server's collection to `wanted` in place: add new ids, refresh changed files, drop stale ids.

    The manifest is written last, so after a crash the next run sees a stale manifest and diffs again.
    """
    client = _server(str(settings.chroma_url))
    collection = client.get_or_create_collection(
        settings.collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
    )
    current = _remote_manifest(collection)
    if current is not None and current.embedding_model != EMBEDDING_MODEL:  # other vector space: start over
        client.delete_collection(settings.collection)
        collection = client.create_collection(
            settings.collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        current = None
    if not rebuild and current and current.same_build(wanted) and collection.count() == current.passages:
        return "up to date", 0, 0
    say(f"Updating {len(corpus.documents)} document(s) in {settings.chroma_url} ...")
    passages = list({p.id: p for p in corpus.passages}.values())
    existing = {i for got in _pages(collection.get, []) for i in got["ids"]}
    changed = {s for s, h in wanted.documents.items() if current is None or current.documents.get(s) != h}
    todo = [p for p in passages if rebuild or p.id not in existing]
    # Same text, same id, but a changed file may have a new title: refresh metadata without re-embedding.
    refresh = [p for p in passages if not rebuild and p.id in existing and p.source in changed]
    stale = sorted(existing - {p.id for p in passages})
    _write(collection, todo, _embed(todo), method="upsert")
    for start in range(0, len(refresh), BATCH):  # metadata only: same id, same text, same embedding
        batch = refresh[start : start + BATCH]
        collection.update(ids=[p.id for p in batch], metadatas=[p.metadata() for p in batch])
    for start in range(0, len(stale), BATCH):
        collection.delete(ids=stale[start : start + BATCH])
    wanted.built_at = time.time()
    collection.modify(metadata={"manifest": wanted.to_json(), "built_at": repr(wanted.built_at)})
    return ("updated" if current is not None else "built"), len(todo), len(passages) - len(todo)


def _swap(build: Path, link: Path) -> None:
    """Point `index/store` at the new store by renames only: there is always a complete store on disk.

    Each build lives in its own `store-<ms>` folder and is never renamed afterwards, because Chroma reopens
    its files by path: a reader still holding the previous store keeps working until it notices
    `index_version` changed. Replaced stores are deleted `OLD_STORE_GRACE_S` after they were replaced.
    """
    folder = link.parent
    target = folder / f"store-{int(time.time() * 1000)}"
    build.rename(target)
    previous = link.resolve() if link.is_symlink() else None
    if link.exists() and not link.is_symlink():  # a store from before versioned folders
        previous = link.rename(folder / f".old-{int(time.time() * 1000)}")
    pointer = folder / f".link-{target.name}"
    pointer.symlink_to(target.name)
    os.replace(pointer, link)
    if previous is not None and previous.exists():
        os.utime(previous)  # its mtime now says when it was replaced
    for old in [*folder.glob("store-*"), *folder.glob(".old-*")]:
        if old != target and time.time() - old.stat().st_mtime > OLD_STORE_GRACE_S:
            shutil.rmtree(old, ignore_errors=True)
    for stale in folder.glob(".build-*"):  # left by a build killed before its `finally` (SIGKILL, power loss)
        try:
            newest = max(p.stat().st_mtime for p in [stale, *stale.rglob("*")])
        except OSError:  # files coming and going: a build is running there
            continue
        if time.time() - newest > STALE_BUILD_S:
            shutil.rmtree(stale, ignore_errors=True)


def _healthy(live: Path, settings: Settings) -> bool:
    """The store opens and holds as many passages as its manifest says."""
    manifest = Manifest.read(live / "manifest.json")
    if manifest is None or not (live / "chroma.sqlite3").exists():
        return False
    try:
        return _client(live).get_collection(settings.collection).count() == manifest.passages
    except Exception as exc:
        log.warning("Index at %s is unreadable (%s); it will be rebuilt.", live, exc)
        _forget_clients()
        return False


def _seeds_state(settings: Settings) -> tuple[tuple[str, int, int], ...]:
    """Name, size and mtime of every indexable file and sidecar: cheap to poll, changes on any edit."""
    state = []
    for path in discover(settings.seeds_dir):
        for candidate in (path, path.with_name(path.name + ".segments.json")):
            try:
                stat = candidate.stat()
            except OSError:
                continue
            state.append((str(candidate), stat.st_size, stat.st_mtime_ns))
    return tuple(state)


def watch(
    settings: Settings,
    interval: float = 2.0,
    progress: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Keep the index current while the app runs: poll seeds/ every `interval` s, update on any change.

    Runs until `stop` is set (or Ctrl-C). A failed update is reported and retried at the next poll.
    """
    say = progress or (lambda message: log.info(message))
    stop = stop or threading.Event()
    last: tuple[tuple[str, int, int], ...] | None = None
    error = ""
    while not stop.is_set():
        state = _seeds_state(settings)
        if state != last:
            try:
                ensure_index(settings, progress=say)
                last, error = state, ""
            except AssistantError as exc:
                if str(exc) != error:
                    say(f"Index not updated: {exc}")
                error = str(exc)
        stop.wait(interval)
