"""Prompt files are loaded strictly; settings come from ASSISTANT_* variables."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assistant import Settings
from assistant import settings as settings_module
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


def test_the_wheel_ships_every_prompt_file(tmp_path: Path) -> None:
    """A regular install reads its prompts from the package: the wheel holds every prompts/*.md."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, project / name)
    for folder in ("assistant", "prompts"):
        shutil.copytree(PROJECT_ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "dist"
    build = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", build, str(out)], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    with zipfile.ZipFile(out / done.stdout.strip().splitlines()[-1]) as wheel:
        shipped = {Path(n).name for n in wheel.namelist() if n.startswith("assistant/prompt_files/")}
    assert shipped == {p.name for p in (PROJECT_ROOT / "prompts").glob("*.md")}
    assert set(EXPECTED) <= {Path(n).stem for n in shipped}


def test_installed_defaults_stay_out_of_site_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a checkout the prompts come from the package and index/ goes to the user's data folder."""
    assert Settings().prompts_dir == PROJECT_ROOT / "prompts"  # in the checkout: the folder people edit
    site = tmp_path / "site-packages"
    (site / "assistant" / "prompt_files").mkdir(parents=True)
    monkeypatch.setattr(settings_module, "PROJECT_ROOT", site)
    monkeypatch.setattr(settings_module, "files", lambda package: site / package)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("ASSISTANT_INDEX_DIR")
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.prompts_dir == site / "assistant" / "prompt_files"
    assert s.index_dir == tmp_path / "data" / "doc-assistant" / "index"
    assert Settings(prompts_dir=tmp_path).prompts_dir == tmp_path  # still a setting
