"""A chat model for tests and offline runs: it answers from the evidence it is given, no model loaded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class ExtractiveFakeChat(BaseChatModel):
    """A deterministic stand-in for tests and the UI demo: quotes the evidence sentence sharing most words with the
    question.

    It answers "The document doesn't say." when the prompt holds no evidence, and rewrites a follow-up by
    putting the previous question before it (still a question, so the rewrite is accepted). Not a language
    model; never the default.
    """

    @property
    def _llm_type(self) -> str:
        return "extractive-fake"

    def _reply(self, messages: list[BaseMessage]) -> str:
        prompt = str(messages[-1].content)
        follow_up = re.search(
            r"Conversation:\n+User: (?P<previous>[^\n]*)\n(?:.|\n)*Last question: (?P<question>[^\n]+)\s*$", prompt
        )
        if follow_up and "Rewrite the last question" in prompt:
            return f"About {follow_up['previous'].strip().rstrip('?.')}: {follow_up['question'].strip()}"
        asked = re.search(r"^Question: (.+)$", prompt, flags=re.MULTILINE)
        words = set(re.findall(r"\w{3,}", asked.group(1).lower())) if asked else set()
        best: tuple[int, int, str] | None = None  # (shared words, -number, sentence)
        for match in re.finditer(r"^\[(\d+)\] \((?:[^()]|\([^()]*\))*\) (.+)$", prompt, flags=re.MULTILINE):
            sentence = match.group(2).strip()
            if sentence.endswith("?"):
                continue  # a heading or a rhetorical question answers nothing
            key = (len(words & set(re.findall(r"\w{3,}", sentence.lower()))), -int(match.group(1)), sentence)
            best = max(best, key) if best else key
        if best is not None:
            return f"{best[2]} [{-best[1]}]"
        return "The document doesn't say."

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages)))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[ChatGenerationChunk]:
        for word in re.findall(r"\S+\s*", self._reply(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))
