"""Score the assistant on a gold file with every LLM reply cached by its exact prompt.

    python benchmarks/replay_eval.py [eval/dev.jsonl] [--cache FILE] [--only q001,q013] [--llm local|fake]

Why: the local model runs at temperature 0, so a reply depends on its prompt (nearly: llama.cpp's reuse of the
previous prompt's evaluation can tip a borderline token). The first run calls the model and fills the cache (as
long as `assistant eval`, ~4 min for the dev set); after a change to grounding, checks or anything else that does
not alter a prompt, the same run takes seconds and scores what a live run would. A changed prompt simply misses
the cache and calls the model. Latencies are not meaningful here: use `assistant eval` for them and for the
numbers in docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from assistant import Assistant
from assistant.errors import ModelUnavailable
from assistant.evaluation.evaluate import Dataset

DEFAULT_CACHE = Path("eval/runs/replay-cache.json")


def _key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ReplayChat(BaseChatModel):
    """A chat model that answers from a JSON cache keyed by prompt and call options, else asks `inner`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    inner: Any
    path: Path
    _replies: dict[str, Any] = PrivateAttr(default_factory=dict)  # replies, and logprobs under their own keys
    hits: int = 0
    misses: int = 0

    def model_post_init(self, context: Any) -> None:
        if self.path.exists():
            self._replies = json.loads(self.path.read_text(encoding="utf-8"))

    @property
    def _llm_type(self) -> str:
        return "replay"

    def _reply(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> str:
        raw = json.dumps([[m.type, str(m.content)] for m in messages] + [stop, sorted(kwargs.items())], default=str)
        key = _key(raw)
        if key in self._replies:
            self.hits += 1
            return self._replies[key]
        self.misses += 1
        text = str(self.inner.invoke(messages, stop=stop, **kwargs).content)
        self._keep(key, text)
        return text

    def _keep(self, key: str, value: Any) -> None:
        """Remember one paid-for result, on disk at once: a killed run keeps what it paid for."""
        self._replies[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self._replies), encoding="utf-8")

    def continuation_logprob(self, messages: list[BaseMessage], text: str) -> float:
        """The inner model's `continuation_logprob`, cached like a reply (the refusal decision reads it)."""
        raw = json.dumps(["logprob", [[m.type, str(m.content)] for m in messages], text])
        key = _key(raw)
        if key not in self._replies:
            measure = getattr(self.inner, "continuation_logprob", None)
            if measure is None:
                raise ModelUnavailable("The model behind the replay cannot score a reply.")
            self._keep(key, measure(messages, text))
        return float(self._replies[key])

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return ChatResult(
            generations=[ChatGeneration(message=AIMessage(content=self._reply(messages, stop, **kwargs)))]
        )

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        yield ChatGenerationChunk(message=AIMessageChunk(content=self._reply(messages, stop, **kwargs)))


ReplayChat.model_rebuild()  # resolve the annotations here: the tests load this file without a package


def main(argv: list[str] | None = None) -> dict[str, float | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gold", nargs="?", default="eval/dev.jsonl")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--only", default="", help="comma-separated case ids")
    parser.add_argument("--llm", default=None, help="backend behind the cache (default: the settings')")
    args = parser.parse_args(argv)

    overrides = {"llm": args.llm} if args.llm else {}
    real = Assistant(**overrides)
    chat = ReplayChat(inner=real.chat, path=args.cache)
    assistant = Assistant(real.settings, chat=chat)
    dataset = Dataset.load(Path(args.gold), assistant.documents)
    if args.only:
        wanted = set(args.only.split(","))
        dataset = Dataset([c for c in dataset.cases if c.id in wanted], dataset.name)
    report = dataset.evaluate(assistant, name="assistant", documents=assistant.documents, progress=False)
    for item in report.items:
        m, answer = item.metrics, item.answer
        cited = f"{m['citations_on_evidence']:.0f}/{m['citations']:.0f}"
        flag = "R" if answer.refused else " "
        print(f"{item.case.id:6} {item.case.type:12} {flag} cites on evidence {cited:5} | {answer.answer[:150]}")
    summary = report.summary
    shown = {k: round(v, 3) for k, v in summary.items() if v is not None and not k.endswith(("_p50", "_p95"))}
    print(json.dumps(shown))
    print(f"LLM replies: {chat.hits} from the cache, {chat.misses} from the model ({args.cache})")
    return summary


if __name__ == "__main__":
    main()
