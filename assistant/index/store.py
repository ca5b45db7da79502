"""The Chroma store: embedded (a folder per build, `index/store` links to the live one) or a Chroma server; opened, read, versioned."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..documents import Passage
from ..errors import ConfigError, IndexNotReady
from ..settings import Settings

if TYPE_CHECKING:
    pass
from .embeddings import embedding_model
from .manifest import Manifest

BATCH = 1000  # records per Chroma write or lookup by id (well under the server's max batch size)
PAGE = 10_000  # records per Chroma read of a whole collection


def chroma_settings() -> Any:
    """Chroma client settings with telemetry off (set in code, not only documented)."""
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


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
