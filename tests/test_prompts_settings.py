"""Prompt files are loaded strictly; settings come from ASSISTANT_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Settings
from assistant.errors import ConfigError, PromptError
from assistant.prompts import EXPECTED, answer_prompt, load_prompt
from assistant.settings import PROJECT_ROOT


def test_shipped_prompts_load_and_render() -> None:
    for name in EXPECTED:
        assert load_prompt(PROJECT_ROOT / "prompts", name)
    messages = answer_prompt(PROJECT_ROOT / "prompts").format_messages(evidence="[1] x", question="why?")
    assert messages[0].type == "system" and "The document doesn't say." in messages[0].content
    assert "[1] x" in messages[1].content and "why?" in messages[1].content


def test_missing_and_unused_variables_name_file_and_variable(tmp_path: Path) -> None:
    (tmp_path / "question.md").write_text("Only {question}")
    with pytest.raises(PromptError, match=r"question\.md does not use the variable\(s\) \['evidence'\]"):
        load_prompt(tmp_path, "question")
    (tmp_path / "condense.md").write_text("{history} {question} {extra}")
    with pytest.raises(PromptError, match="unknown variable.*extra"):
        load_prompt(tmp_path, "condense")
    with pytest.raises(PromptError, match="missing"):
        load_prompt(tmp_path, "system")


def test_env_prefix_and_per_call_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_TOP_K", "3")
    monkeypatch.setenv("ASSISTANT_SEEDS_DIR", "/tmp/some-seeds")
    s = Settings()
    assert s.top_k == 3 and s.seeds_dir == Path("/tmp/some-seeds")
    assert Settings(top_k=9).top_k == 9


def test_openai_backend_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="ASSISTANT_OPENAI_BASE_URL"):
        Settings(llm="openai")


def test_defaults_are_local_and_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSISTANT_LLM")
    s = Settings()
    assert s.llm == "local" and s.host == "127.0.0.1" and s.port == 7860 and s.chroma_url is None
