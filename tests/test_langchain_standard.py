"""LangChain's own standard suites (`langchain-tests`) on the project's chat model and retriever.

They check what LangChain code around us relies on: standard parameters and `ls_model_name` for traces, token
counts (`usage_metadata`) on messages and on the last stream chunk, a `k` for the number of documents, sync and
async calls. The chat model declares no tool calling and no structured output, so those tests skip.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import ChatModelIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from assistant import Assistant, Settings
from assistant.llm import QWEN_15B_FILE, LlamaCppChat, assemble_model
from assistant.llm import llama as llama_module


class _LlamaCppChatTraits:
    """What the suites should expect of `LlamaCppChat` (shared by the unit and the integration class)."""

    @property
    def chat_model_class(self) -> type[LlamaCppChat]:
        return LlamaCppChat

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        return False  # one GGUF file per instance: a per-call `model=` cannot switch it

    @property
    def returns_usage_metadata(self) -> bool:
        return True


class TestLlamaCppChatUnit(_LlamaCppChatTraits, ChatModelUnitTests):
    """Construction and standard parameters, without loading the model."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model_path": f"/nonexistent/{QWEN_15B_FILE}"}


@pytest.mark.slow
class TestLlamaCppChatIntegration(_LlamaCppChatTraits, ChatModelIntegrationTests):
    """The real default local model (assembled from its packages), answering the suite's short prompts."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model_path": str(assemble_model(Settings().cache_dir)), "n_ctx": 2048, "max_tokens": 16}


@pytest.mark.slow
class TestHybridRetrieverIntegration(RetrieversIntegrationTests):
    """`Assistant(...).retriever` over the real seed index (MiniLM + Chroma + BM25)."""

    settings: Settings

    @pytest.fixture(autouse=True)
    def _seed(self, seed_index: Settings) -> None:
        type(self).settings = seed_index

    @property
    def retriever_constructor(self) -> Any:
        def retriever(k: int = 6) -> BaseRetriever:
            return Assistant(self.settings, top_k=k).retriever

        return retriever

    @property
    def retriever_query_example(self) -> str:
        return "why does the author think the split will backfire?"


class _StubLlama:
    """Just enough of `llama_cpp.Llama` for the chat model: a chat template, a word tokenizer, a canned stream."""

    metadata = {"tokenizer.chat_template": "{% for m in messages %}<{{ m.role }}> {{ m.content }}\n{% endfor %}"}

    def create_chat_completion(self, **kwargs: Any) -> Any:
        for piece in ("Hello", " there"):
            yield {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": "length"}]}

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[bytes]:
        return text.split()

    def token_eos(self) -> int:
        return -1

    def token_bos(self) -> int:
        return -1


def test_token_counts_on_the_message_and_the_last_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_module, "load_llama", lambda *args: _StubLlama())
    chat = LlamaCppChat(model_path=f"/models/{QWEN_15B_FILE}")
    chunks = list(chat.stream([("system", "Be brief."), ("human", "Say hello")]))
    assert "".join(str(c.content) for c in chunks) == "Hello there"
    last = chunks[-1]
    assert last.chunk_position == "last" and not any(c.usage_metadata for c in chunks[:-1])
    # prompt: "<system> Be brief.\n<user> Say hello\n" is 6 words; the answer 2
    assert last.usage_metadata == {"input_tokens": 6, "output_tokens": 2, "total_tokens": 8}
    assert last.response_metadata == {"finish_reason": "length", "model_name": QWEN_15B_FILE.removesuffix(".gguf")}
    message = chat.invoke("Say hello")
    assert message.content == "Hello there" and message.usage_metadata["output_tokens"] == 2  # type: ignore[index]
    assert chat._get_ls_params(stop=["\n"])["ls_model_name"] == "qwen2.5-coder-1.5b-instruct-q4_k_m"


class _OneContextLlama(_StubLlama):
    """A stub model that records how many generations run on it at once (a real context crashes at two)."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0

    def create_chat_completion(self, **kwargs: Any) -> Any:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            for piece in ("Hello", " there"):
                time.sleep(0.05)
                yield {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
        finally:
            self.running -= 1


def test_chat_models_with_different_settings_take_turns_on_one_loaded_model(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = _OneContextLlama()
    monkeypatch.setattr(llama_module, "load_llama", lambda *args: shared)
    tabs = [LlamaCppChat(model_path=f"/models/{QWEN_15B_FILE}", max_tokens=n) for n in (64, 128, 256)]
    threads = [threading.Thread(target=chat.invoke, args=("Say hello",)) for chat in tabs for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shared.most == 1


def test_a_stream_begun_on_one_thread_can_end_on_another(monkeypatch: pytest.MonkeyPatch) -> None:
    # Why: LangChain's async wrappers advance a sync stream on executor threads, one `next` each.
    monkeypatch.setattr(llama_module, "load_llama", lambda *args: _StubLlama())
    chat = LlamaCppChat(model_path=f"/models/{QWEN_15B_FILE}")
    chunks = chat.stream("Say hello")
    first = next(chunks)
    rest = concurrent.futures.ThreadPoolExecutor(1).submit(list, chunks).result(10)
    assert "".join(str(c.content) for c in [first, *rest]) == "Hello there"
    assert not llama_module.model_busy(chat.llama())  # the lock was let go on the other thread


def test_a_held_model_lets_its_holder_through_and_no_one_else(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = _OneContextLlama()
    monkeypatch.setattr(llama_module, "load_llama", lambda *args: shared)
    chat, other = (
        LlamaCppChat(model_path=f"/models/{QWEN_15B_FILE}"),
        LlamaCppChat(model_path=f"/models/{QWEN_15B_FILE}"),
    )
    log: list[str] = []
    with chat.hold():
        waiting = threading.Thread(target=lambda: log.append(str(other.invoke("Say hello").content)))
        waiting.start()
        log.append(str(chat.invoke("Say hello").content))  # its own calls pass (a plain lock would hang here)
        with chat.hold():  # and a hold inside a hold
            log.append("inner")
        waiting.join(0.3)
        assert waiting.is_alive() and log == ["Hello there", "inner"]  # the other tab waits for the hold
    waiting.join(10)
    assert log == ["Hello there", "inner", "Hello there"] and shared.most == 1


class _FreshLlama(_StubLlama):
    """A stub model with an empty KV cache that records what is evaluated into it, and on how many threads."""

    n_threads = n_threads_batch = 2

    def __init__(self) -> None:
        self.n_tokens = 0
        self.threads = (2, 2)
        self.evaluated: list[tuple[list[bytes], tuple[int, int]]] = []
        self._ctx = self

    def set_n_threads(self, n_threads: int, n_threads_batch: int) -> None:
        self.threads = (n_threads, n_threads_batch)

    def eval(self, tokens: list[bytes]) -> None:
        self.evaluated.append((list(tokens), self.threads))
        self.n_tokens += len(tokens)


def test_prime_evaluates_the_start_all_prompts_share_once_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Why: `assistant serve` has the first answer find its system text in the KV cache, evaluated while the page
    # came up, on one thread so that the start-up's Python work keeps the other core.
    fresh = _FreshLlama()
    monkeypatch.setattr(llama_module, "load_llama", lambda *args: fresh)
    chat = LlamaCppChat(model_path=f"/models/{QWEN_15B_FILE}")
    prompts = [[SystemMessage("Be brief."), HumanMessage(f"Evidence: {e}")] for e in ("a", "b")]
    assert chat.prime(prompts) == 5  # "<system> Be brief. <user> Evidence:", as the template writes it
    assert fresh.evaluated == [([b"<system>", b"Be", b"brief.", b"<user>", b"Evidence:"], (1, 1))]
    assert fresh.threads == (2, 2)  # the answers' own thread count is back
    assert chat.prime(prompts) == 0 and len(fresh.evaluated) == 1  # the cache holds a prompt already


def test_the_answer_path_primes_the_system_text_only_for_the_local_model(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Assistant(settings).prime() == 0  # the fake model has no cache to fill
    fresh = _FreshLlama()
    monkeypatch.setattr(llama_module, "load_llama", lambda *args: fresh)
    primed = Assistant(settings, chat=LlamaCppChat(model_path=f"/models/{QWEN_15B_FILE}")).prime()
    [(tokens, _)] = fresh.evaluated
    assert primed == len(tokens) > 20 and tokens[0] == b"<system>" and tokens[-1] == b"Evidence:"
