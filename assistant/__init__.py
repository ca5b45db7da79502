"""Chat-style Q&A over your documents, with citations to the exact lines, fully offline."""

from __future__ import annotations

import os

# Offline by default, decided in code: no model hub, no telemetry (Chroma's is switched off where the client
# is made; Gradio's where the UI is built). setdefault lets a user opt back in explicitly.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .answer import Answer, Citation, Retrieved
    from .core import Assistant
    from .documents import Passage
    from .errors import (
        AssistantError,
        ConfigError,
        DocumentError,
        IndexNotReady,
        ModelUnavailable,
        PromptError,
        QuestionError,
    )
    from .settings import Settings

# Where each public name lives. Imported on first use (PEP 562), so that `import assistant.index.embeddings`,
# run by `assistant serve`'s embedding process, does not pay for LangChain's answer path (~0.6 s).
_HOMES = {
    "Answer": "answer",
    "Citation": "answer",
    "Retrieved": "answer",
    "Assistant": "core",
    "Passage": "documents",
    "AssistantError": "errors",
    "ConfigError": "errors",
    "DocumentError": "errors",
    "IndexNotReady": "errors",
    "ModelUnavailable": "errors",
    "PromptError": "errors",
    "QuestionError": "errors",
    "Settings": "settings",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "Citation",
    "ConfigError",
    "DocumentError",
    "IndexNotReady",
    "ModelUnavailable",
    "Passage",
    "PromptError",
    "QuestionError",
    "Retrieved",
    "Settings",
]
