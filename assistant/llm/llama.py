"""The local chat model: a GGUF file through llama.cpp (llama-cpp-python), behind LangChain's `BaseChatModel`."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, cast

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from ..errors import ModelUnavailable
from .weights import QWEN_15B_FILE


class LlamaCppChat(BaseChatModel):
    """A thin LangChain chat model over llama-cpp-python: chat template from the GGUF, real token streaming.

    One model instance serves the process; a lock per loaded model serialises generation because a llama.cpp
    context is not thread-safe (chat models with other settings, e.g. a chat tab's own top-k, share it). llama.cpp reuses the KV cache for the prompt prefix shared with the previous call. Messages and
    the last stream chunk carry `usage_metadata` (token counts) and the model's name, as LangChain's own
    integrations do; tool calling and structured output are not supported.
    """

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 2
    max_tokens: int = 256
    temperature: float = 0.0
    n_batch: int = 512
    n_ubatch: int = 512
    flash_attn: bool = False
    draft_tokens: int = 0
    stop: list[str] | None = None

    def model_post_init(self, context: Any) -> None:
        # Why: callers that only know (path, n_ctx, n_threads), such as the UI's warm-up, must get this
        # model's instance, with these llama.cpp settings, not load a second copy with the defaults.
        _KNOBS[(self.model_path, self.n_ctx, self.n_threads)] = self.knobs

    @property
    def knobs(self) -> Knobs:
        """The llama.cpp settings beyond path, context and threads."""
        return Knobs(self.n_batch, self.n_ubatch, self.flash_attn, self.draft_tokens)

    def llama(self) -> Any:
        """The loaded `llama_cpp.Llama` behind this chat model (loaded on first use)."""
        return load_llama(self.model_path, self.n_ctx, self.n_threads, self.knobs)

    def prime(self, prompts: Sequence[Sequence[BaseMessage]], threads: int = 1) -> int:
        """Evaluate the tokens these prompts all begin with into the KV cache of a model that holds nothing yet,
        on `threads` threads; how many (0 when it already holds a prompt: a question came first).

        Why: an answer reuses the cached prefix it shares with the previous call (the system text), so a
        server that primes the cache while it starts up spares its first answer that part of the prompt, and
        the first evaluation's one-off costs (paging the weights in, allocating buffers) with it. One thread by
        default: llama.cpp's threads spin while they wait for each other, so two of them on a 2-core machine
        starve the start-up's Python work that runs meanwhile (the page came up 11 s later with two).
        """
        llama = self.llama()
        tokens = [prompt_tokens(llama, self._convert(list(messages))) for messages in prompts]
        shared = 0
        while all(len(t) > shared for t in tokens) and len({t[shared] for t in tokens}) == 1:
            shared += 1
        with _exclusive(llama):
            if llama.n_tokens or not shared:
                return 0
            llama._ctx.set_n_threads(threads, threads)  # llama-cpp-python has no public setter
            try:
                llama.eval(tokens[0][:shared])
            finally:
                llama._ctx.set_n_threads(llama.n_threads, llama.n_threads_batch)
        return shared

    def hold(self) -> AbstractContextManager[Any]:
        """The model for this thread alone until the block ends (other answers wait, as for a generation).

        Why: an answer scores its refusal on the prompt llama.cpp still holds after writing it
        (`continuation_logprob`); if another answer's prompt came in between, the scoring would evaluate the
        whole prompt again, and that answer's next call would in turn lose its own. With two to four chat
        sessions at once that nearly doubled the answers' totals (docs/performance.md, *The levers*). Calls
        made inside the block on the same thread pass the lock; the block must end on the thread it began."""
        return _held(self.llama())

    def continuation_logprob(self, messages: Sequence[BaseMessage], text: str) -> float:
        """log P(`text` as the start of the model's reply to `messages`), summed over its tokens.

        Why: how likely the model finds a reply it did not write (its refusal, for the refusal decision). After
        answering the same messages this costs only `text`'s tokens: llama.cpp's KV cache still holds the prompt.
        """
        llama = self.llama()
        with _exclusive(llama):
            prompt = prompt_tokens(llama, self._convert(list(messages)))
            target = llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
            if not prompt or not target or len(target) >= llama.n_batch:
                raise ModelUnavailable("The local model cannot score an empty or over-long reply.")
            cached = llama.input_ids[: llama.n_tokens].tolist()
            keep = 0
            while keep < min(len(cached), len(prompt) - 1) and cached[keep] == prompt[keep]:
                keep += 1
            llama.n_tokens = keep  # eval() drops the KV cache beyond this
            try:
                llama.eval(prompt[keep:])  # what the cache lacks (at least the last prompt token, for its odds)
                total = 0.0
                for token in target:
                    # One token at a time, as the model writes: a batch of them scores ~0.1 differently in
                    # llama.cpp (other kernels), and the refusal floor was fitted on these numbers.
                    total += _log_softmax(llama, llama._ctx.get_logits_ith(-1), token)
                    llama.eval([token])
            except (ValueError, RuntimeError) as exc:  # the prompt does not fit the context; a failed decode
                raise ModelUnavailable(f"The local model could not score a reply ({exc}).") from None
            return total

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def model_name(self) -> str:
        """The GGUF file's name without its extension, as traces and usage callbacks show it."""
        return Path(self.model_path).stem

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="llamacpp",
            ls_model_name=kwargs.get("model") or self.model_name,
            ls_model_type="chat",
            ls_temperature=kwargs.get("temperature", self.temperature),
            ls_max_tokens=kwargs.get("max_tokens", self.max_tokens),
        )
        if ls_stop := stop or self.stop:
            params["ls_stop"] = ls_stop
        return params

    def _convert(self, messages: list[BaseMessage]) -> list[dict[str, str]]:
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        return [{"role": roles.get(m.type, "user"), "content": str(m.text)} for m in messages]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks = list(self._stream(messages, stop, run_manager, **kwargs))
        last = cast(AIMessageChunk, chunks[-1].message)  # the closing chunk, with the token counts
        text = "".join(str(c.message.content) for c in chunks)
        message = AIMessage(content=text, usage_metadata=last.usage_metadata, response_metadata=last.response_metadata)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        llama = self.llama()
        chat = self._convert(messages)
        with _exclusive(llama):
            written: list[str] = []
            finish = None
            try:
                parts = llama.create_chat_completion(
                    messages=chat,
                    stream=True,
                    max_tokens=kwargs.get("max_tokens", self.max_tokens),
                    temperature=self.temperature,
                    stop=stop or self.stop,
                )
                for part in parts:
                    choice = part["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    delta = choice["delta"].get("content")
                    if delta:
                        written.append(delta)
                        if run_manager:
                            run_manager.on_llm_new_token(delta)
                        yield ChatGenerationChunk(message=AIMessageChunk(content=delta))
            except ValueError as exc:  # llama.cpp's way of saying the prompt does not fit the context
                raise ModelUnavailable(
                    f"The local model could not answer ({exc}). Raise ASSISTANT_N_CTX, or send less text with "
                    "a lower ASSISTANT_TOP_K or ASSISTANT_EVIDENCE_SENTENCES."
                ) from None
            prompt_tokens, output_tokens = token_counts(llama, chat, "".join(written))
        # One closing chunk carries what LangChain's usage callbacks and tracers read (counted once, not per token).
        usage = UsageMetadata(
            input_tokens=prompt_tokens, output_tokens=output_tokens, total_tokens=prompt_tokens + output_tokens
        )
        closing = AIMessageChunk(
            content="",
            usage_metadata=usage,
            response_metadata={"finish_reason": finish or "stop", "model_name": self.model_name},
            chunk_position="last",
        )
        yield ChatGenerationChunk(message=closing)


_FORMATTERS: dict[str, Any] = {}


def token_counts(llama: Any, chat: list[dict[str, str]], written: str) -> tuple[int, int]:
    """Prompt and answer tokens of one chat completion (llama-cpp-python reports no usage when streaming).

    The prompt is the GGUF's chat template applied to the messages, tokenized as llama-cpp-python does it;
    the answer is its text tokenized again, which gives the count generated for ordinary text.
    """
    answer = llama.tokenize(written.encode("utf-8"), add_bos=False, special=False) if written else []
    return len(prompt_tokens(llama, chat)), len(answer)


def prompt_tokens(llama: Any, chat: list[dict[str, str]]) -> list[int]:
    """The tokens llama-cpp-python's `create_chat_completion` evaluates for these messages: the GGUF's chat
    template applied, tokenized as it does it (without a template: the messages' text, a lower bound)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if template and template not in _FORMATTERS:
        eos, bos = llama.token_eos(), llama.token_bos()
        _FORMATTERS[template] = Jinja2ChatFormatter(
            template=template,
            eos_token=llama.detokenize([eos], special=True).decode("utf-8", "replace") if eos != -1 else "",
            bos_token=llama.detokenize([bos], special=True).decode("utf-8", "replace") if bos != -1 else "",
        )
    if template:
        formatted = _FORMATTERS[template](messages=chat)
        return list(llama.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True))
    return list(llama.tokenize("\n".join(m["content"] for m in chat).encode("utf-8"), special=True))


def _log_softmax(llama: Any, logits: Any, token: int) -> float:
    """log P(`token`) from the raw logits of the position evaluated last (eval() keeps no scores without
    logits_all, but the context holds that position's)."""
    import numpy as np

    row = np.ctypeslib.as_array(logits, shape=(llama.n_vocab(),)).astype(np.float64)
    top = float(row.max())
    return float(row[token]) - top - float(np.log(np.exp(row - top).sum()))


_LOAD_LOCK = threading.Lock()


def _cpu_has_amx() -> bool:
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _closed_at_exit(llama: Any) -> Any:
    """Free the model while the interpreter is still whole: left to `__del__` at shutdown, llama-cpp-python's
    `free_model` finds its bindings already gone and prints a TypeError traceback after every command."""
    atexit.register(llama.close)
    return llama


class Knobs(NamedTuple):
    """llama.cpp settings that change speed, not what a prompt means (measured in docs/performance.md)."""

    n_batch: int = 512
    n_ubatch: int = 512
    flash_attn: bool = False
    draft_tokens: int = 0  # prompt-lookup speculative decoding: tokens drafted from the prompt; 0 = off


#: The settings of each chat model made in this process, by (path, n_ctx, n_threads).
_KNOBS: dict[tuple[str, int, int], Knobs] = {}
_GENERATION_LOCKS: dict[int, threading.Lock] = {}
_GENERATION_LOCKS_GUARD = threading.Lock()
_HOLDERS: dict[int, int] = {}  # loaded model → the thread that holds it through `LlamaCppChat.hold`


def generation_lock(llama: Any) -> threading.Lock:
    """The one lock of a loaded model. Why not one per chat model: two `LlamaCppChat` objects with different
    settings (two chat tabs) get the same cached `Llama`, and two generations at once on one context crash it.
    A plain lock, not a reentrant one: a stream driven by LangChain's async wrappers is advanced (and so may be
    closed) on another thread than the one that started it."""
    with _GENERATION_LOCKS_GUARD:
        return _GENERATION_LOCKS.setdefault(id(llama), threading.Lock())


@contextmanager
def _exclusive(llama: Any) -> Iterator[None]:
    """The model for one call: its lock, unless this thread already holds it through `LlamaCppChat.hold`."""
    if _HOLDERS.get(id(llama)) == threading.get_ident():
        yield
        return
    with generation_lock(llama):
        yield


@contextmanager
def _held(llama: Any) -> Iterator[None]:
    with _exclusive(llama):
        outer = _HOLDERS.get(id(llama))
        _HOLDERS[id(llama)] = threading.get_ident()
        try:
            yield
        finally:
            if outer is None:
                del _HOLDERS[id(llama)]


def model_busy(llama: Any) -> bool:
    """Whether the model is answering or scoring now (the chat window's warm-up waits meanwhile)."""
    return generation_lock(llama).locked()


def open_llama(model_path: str, n_ctx: int, n_threads: int, knobs: Knobs, **extra: Any) -> Any:
    """A new `llama_cpp.Llama` (not cached: `load_llama` is the shared one); `extra` goes to `Llama()`.

    Why public: benchmarks/levers.py opens several differently-tuned instances side by side.
    """
    from llama_cpp import Llama
    from llama_cpp import llama_cpp as bindings  # the module whose defaults Llama() reads

    draft = None
    if knobs.draft_tokens > 0:
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        draft = LlamaPromptLookupDecoding(num_pred_tokens=knobs.draft_tokens)
        # Why: a draft model makes Llama keep the logits of every token, but llama-cpp-python 0.3.36 sizes that
        # array by the `logits_all` argument (n_batch rows): a prompt longer than n_batch then fails with
        # "could not broadcast ... into shape (0,)". Asking for all logits sizes it for the whole context.
        extra = {"logits_all": True} | extra
    kwargs: dict[str, Any] = {
        "model_path": model_path,
        "n_ctx": n_ctx,
        "n_threads": n_threads,
        "n_threads_batch": n_threads,
        "n_batch": knobs.n_batch,
        "n_ubatch": knobs.n_ubatch,
        "flash_attn": knobs.flash_attn,
        "draft_model": draft,
        "verbose": False,
    } | extra
    if not _cpu_has_amx():
        return Llama(**kwargs)
    # Why: on CPUs with AMX, llama.cpp (as built by `pip install` with native flags) moves weights into its AMX
    # buffer type, whose matrix product crashes the process on any multi-token prompt (ggml-org/llama.cpp
    # #20824). Llama() has no switch for it, so its default model parameters are swapped for the load only.
    default_params = bindings.llama_model_default_params

    def without_extra_buffers() -> Any:
        params = default_params()
        params.use_extra_bufts = False
        return params

    bindings.llama_model_default_params = without_extra_buffers
    try:
        return Llama(**kwargs)
    finally:
        bindings.llama_model_default_params = default_params


@lru_cache(maxsize=2)
def _cached_llama(model_path: str, n_ctx: int, n_threads: int, knobs: Knobs) -> Any:
    return _closed_at_exit(open_llama(model_path, n_ctx, n_threads, knobs))


def load_llama(model_path: str, n_ctx: int, n_threads: int, knobs: Knobs | None = None) -> Any:
    """The llama.cpp model, loaded once per process, with errors that name the setting to fix.

    Without `knobs`, those of the chat model made for this path, context and threads (else the defaults).
    """
    with _LOAD_LOCK:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise ModelUnavailable(
                "llama-cpp-python is not installed; run `make install` (it compiles in about 8 minutes), "
                "or set ASSISTANT_LLM=openai with ASSISTANT_OPENAI_BASE_URL."
            ) from None
        path = Path(model_path)
        if not path.is_file():
            raise ModelUnavailable(
                f"Model file {model_path} does not exist; fix ASSISTANT_MODEL_PATH (or unset it to use the "
                "packaged model)."
            )
        try:
            return _cached_llama(
                model_path, n_ctx, n_threads, knobs or _KNOBS.get((model_path, n_ctx, n_threads), Knobs())
            )
        except Exception as exc:
            if path.name == QWEN_15B_FILE:  # our own assembled copy: safe to delete, it is rebuilt from the parts
                advice = f"delete {path} and {path.with_suffix('.verified').name} so it is assembled again"
            else:
                advice = "fix ASSISTANT_MODEL_PATH (it must point at a GGUF model file)"
            raise ModelUnavailable(
                f"Could not load the local model {model_path} ({exc}): the file is not a usable GGUF model. "
                f"To fix it, {advice}; or choose another backend with ASSISTANT_LLM=openai."
            ) from None
