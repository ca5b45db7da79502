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

from .answer import Answer, Citation, Retrieved  # noqa: E402
from .core import Assistant  # noqa: E402
from .documents import Passage  # noqa: E402
from .errors import (  # noqa: E402
    AssistantError,
    ConfigError,
    DocumentError,
    IndexNotReady,
    ModelUnavailable,
    PromptError,
    QuestionError,
)
from .settings import Settings  # noqa: E402

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
