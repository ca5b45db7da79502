"""What built an index (the manifest), the corpus it is built from, and why an index is stale."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..documents import CHUNKER_VERSION, Document, Passage, discover, load_document
from ..errors import DocumentError
from ..settings import Settings

if TYPE_CHECKING:
    pass
from .embeddings import EMBEDDING_MODEL

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1


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
