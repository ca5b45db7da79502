"""Any OpenAI-compatible server (`ASSISTANT_LLM=openai`): `ChatOpenAI` whose failures say which setting to fix."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from typing import Any

from langchain_core.outputs import ChatGenerationChunk, ChatResult

from ..errors import AssistantError, ModelUnavailable


def _secret(value: Any) -> str:
    """The plain text of a key given as `str` or pydantic `SecretStr`."""
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value or "")


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def openai_error_message(exc: Exception, url: str, model: str, timeout: Any = None) -> str:
    """What went wrong talking to an OpenAI-compatible server, and which setting fixes it."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        waited = f"{timeout:g} s" if isinstance(timeout, int | float) else "the timeout"
        return (
            f"The OpenAI-compatible server at {url} did not answer within {waited}. Check that it is running "
            "and not overloaded, or raise ASSISTANT_LLM_TIMEOUT_S."
        )
    if isinstance(exc, openai.APIConnectionError):
        root: BaseException = exc
        while root.__cause__ is not None:  # langchain → openai → httpx: the innermost says why
            root = root.__cause__
        why = _short(str(root)) or "connection failed"
        return (
            f"Cannot reach the OpenAI-compatible server at {url} ({why}). Start it, or fix ASSISTANT_OPENAI_BASE_URL."
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"The server at {url} refused the API key (HTTP {exc.status_code}). Fix ASSISTANT_OPENAI_API_KEY."
    if isinstance(exc, openai.NotFoundError):
        return (
            f"The server at {url} has no model {model!r} or no chat endpoint there (HTTP 404). Fix "
            "ASSISTANT_OPENAI_MODEL, or ASSISTANT_OPENAI_BASE_URL (it usually ends in /v1)."
        )
    if isinstance(exc, openai.APIStatusError):
        return (
            f"The server at {url} failed with HTTP {exc.status_code} ({_short(exc.message)}). Check its log, "
            "ASSISTANT_OPENAI_MODEL and ASSISTANT_MAX_TOKENS."
        )
    what = f"{exc.__class__.__name__}: {_short(str(exc))}"
    if isinstance(exc, NoCompletion):
        what = "no chat completion"
    return (
        f"The server at {url} did not answer like an OpenAI-compatible API ({what}). Check that "
        "ASSISTANT_OPENAI_BASE_URL points at one (it usually ends in /v1)."
    )


class NoCompletion(Exception):
    """A reply that parsed but held no chat completion (no text, no finish reason)."""


def _says_something(chunk: ChatGenerationChunk) -> bool:
    """Whether a streamed chunk carries text or a finish reason (a garbage reply carries neither)."""
    info = {**(chunk.generation_info or {}), **chunk.message.response_metadata}
    return bool(chunk.text or info.get("finish_reason") or getattr(chunk.message, "tool_call_chunks", None))


@lru_cache(maxsize=1)
def _openai_chat_class() -> type[Any]:
    """`ChatOpenAI` whose failures are `ModelUnavailable` naming the setting to fix (made lazily: heavy import).

    Why a subclass: a server that is down, slow or answers garbage raises a dozen exception types from
    openai, httpx, json and pydantic; callers should see one error that says what to do, with the API key
    never in it. A stream that carries no completion at all is an error too, not an empty answer.
    """
    from langchain_openai import ChatOpenAI

    class OpenAICompatibleChat(ChatOpenAI):  # type: ignore[misc]
        def _failure(self, exc: Exception) -> ModelUnavailable:
            message = openai_error_message(exc, str(self.openai_api_base), self.model_name, self.request_timeout)
            key = _secret(self.openai_api_key)
            return ModelUnavailable(message.replace(key, "***") if len(key) >= 4 else message)

        @contextlib.contextmanager
        def _translated(self) -> Iterator[None]:
            try:
                yield
            except AssistantError:
                raise
            except Exception as exc:
                raise self._failure(exc) from None

        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            said = False
            with self._translated():
                for chunk in super()._stream(*args, **kwargs):
                    said = said or _says_something(chunk)
                    yield chunk
            if not said:
                raise self._failure(NoCompletion())

        def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
            with self._translated():
                return super()._generate(*args, **kwargs)

        async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
            said = False
            with self._translated():
                async for chunk in super()._astream(*args, **kwargs):
                    said = said or _says_something(chunk)
                    yield chunk
            if not said:
                raise self._failure(NoCompletion())

        async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
            with self._translated():
                return await super()._agenerate(*args, **kwargs)

    return OpenAICompatibleChat
