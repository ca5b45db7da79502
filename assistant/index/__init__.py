"""The Chroma index: built from seeds/, remembered by a manifest, updated by content hash.

Embedded (default): under `index_dir`, `store` links to the live Chroma store, a `store-<ms>/` folder with
`manifest.json` beside its files. A (re)build writes a complete new store into `.build-*`, renames it to its
own `store-<ms>` and repoints the link, so a crash never leaves a half-written index. Passages whose content
hash is already in the old store keep their embeddings, so changing one document re-embeds only it.

Server (`ASSISTANT_CHROMA_URL=http://host:port`, a `chroma run` server shared by several app processes): there
is no folder to swap, so an update is an in-place diff: passages with new ids are embedded and added, ids no
longer produced by seeds/ are deleted, and the manifest is written last, into the collection's metadata.
`index_version` tells a running app, cheaply, that the index changed under it; `watch` keeps it current.

`embeddings.py` (the MiniLM model, sentence vectors), `manifest.py` (what built an index, the corpus, why an
index is stale), `store.py` (opening and reading a Chroma store), `build.py` (building, updating, watching).
"""

from __future__ import annotations

from .build import ensure_index, join_served, watch
from .embeddings import EMBEDDING_MODEL, embed_sentences, embedding_model, start_embedding_process
from .manifest import Corpus, IndexReport, Manifest, load_corpus, manifest_for, why_stale
from .store import all_passages, chroma_settings, index_version, open_store, store_dir

__all__ = [
    "EMBEDDING_MODEL",
    "Corpus",
    "IndexReport",
    "Manifest",
    "all_passages",
    "chroma_settings",
    "embed_sentences",
    "embedding_model",
    "ensure_index",
    "index_version",
    "join_served",
    "load_corpus",
    "manifest_for",
    "open_store",
    "start_embedding_process",
    "store_dir",
    "watch",
    "why_stale",
]
