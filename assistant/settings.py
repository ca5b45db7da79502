"""One settings object for the whole assistant, read from `ASSISTANT_*` environment variables."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _checkout() -> bool:
    """Whether the package runs from a source checkout (editable install, or a tests/notebook run from the repo)."""
    return (PROJECT_ROOT / "pyproject.toml").is_file()


def data_home() -> Path:
    """Where an installed (not checked-out) assistant keeps its index and feedback: never inside site-packages."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "doc-assistant"


def _default_dir(name: str) -> Path:
    """Prefer ./NAME in the working directory; then the project checkout's NAME; installed, the user's data folder.

    Why: `Assistant()` should work from a notebook in examples/ as well as from the repo root, and an installed
    package must not write its index into site-packages.
    """
    here = Path.cwd() / name
    if here.exists():
        return here
    return PROJECT_ROOT / name if _checkout() else data_home() / name


def default_prompts_dir() -> Path:
    """The prompts shipped inside the package (a regular install), else the checkout's prompts/ folder.

    The top-level prompts/ folder is where people edit them; pyproject.toml copies it into the wheel as
    `assistant/prompt_files/`. An editable install or a run from the checkout reads prompts/ directly.
    """
    packaged = Path(str(files("assistant") / "prompt_files"))
    return packaged if packaged.is_dir() else PROJECT_ROOT / "prompts"


class Settings(BaseSettings):
    """Every knob of the assistant; override per call with `Settings(field=...)` or `ASSISTANT_FIELD=...`."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore", env_parse_none_str="none")

    seeds_dir: Path = Field(default_factory=lambda: _default_dir("seeds"), description="Documents to index.")
    index_dir: Path = Field(default_factory=lambda: _default_dir("index"), description="Persisted Chroma store.")
    prompts_dir: Path = Field(default_factory=default_prompts_dir, description="Prompt templates (*.md).")
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "doc-assistant",
        description="Where the assembled GGUF model file is kept.",
    )
    collection: str = Field(default="passages", description="Chroma collection name.")
    chroma_url: str | None = Field(
        default=None, description="http://host:port of a Chroma server; unset means the embedded store."
    )

    llm: Literal["local", "openai", "fake"] = Field(default="local", description="LLM backend.")
    model_path: Path | None = Field(default=None, description="Explicit GGUF file for the local backend.")
    openai_base_url: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible server (vLLM, llama-server, Ollama)."
    )
    openai_api_key: SecretStr = Field(
        default=SecretStr("not-needed"), description="API key for the OpenAI-compatible server (never printed)."
    )
    openai_model: str = Field(default="default", description="Model name to request from the server.")
    llm_timeout_s: float = Field(default=120.0, description="Timeout for one LLM request.")
    n_threads: int = Field(default=2, description="CPU threads for the local LLM.")
    n_ctx: int = Field(default=4096, description="Context window of the local LLM, in tokens.")
    n_batch: int = Field(default=512, ge=1, description="Prompt tokens llama.cpp takes per decode call.")
    n_ubatch: int = Field(default=512, ge=1, description="Prompt tokens per llama.cpp compute step (<= n_batch).")
    flash_attn: bool = Field(default=False, description="llama.cpp flash attention for the local LLM.")
    draft_tokens: int = Field(
        default=0,
        ge=0,
        description="Prompt-lookup speculative decoding: tokens drafted from the prompt per step (0 = off).",
    )
    max_tokens: int = Field(default=256, description="Most tokens the LLM may generate for one answer.")
    temperature: float = Field(default=0.0, description="Sampling temperature (0 = deterministic).")

    top_k: int = Field(
        default=6, ge=1, le=50, description="Passages retrieved; the evidence sentences are chosen from them."
    )
    candidates: int = Field(default=20, ge=1, description="Candidates per retriever before fusion.")
    rrf_k: int = Field(
        default=60, ge=0, description="Reciprocal rank fusion constant: a candidate at rank r scores 1 / (rrf_k + r)."
    )
    expand: int = Field(
        default=1, ge=0, description="Small-to-big: how many of the best hits also bring the passage after them."
    )
    grow_chars: int = Field(
        default=1400,
        ge=0,
        description="A grown hit keeps taking the following passages that rank near the top, up to this size.",
    )
    chunk_min_chars: int = Field(default=200, description="Short paragraphs are merged up to this size.")
    chunk_max_chars: int = Field(default=700, description="Longer paragraphs are split at sentences.")
    max_question_chars: int = Field(default=2000, description="Longest question accepted.")
    max_file_mb: float = Field(
        default=2.0, gt=0, description="Larger files in seeds/ are skipped with a warning (split them, or raise this)."
    )
    refuse_below: float = Field(
        default=0.25,
        description="Refuse without asking the LLM when the best dense relevance is below this ...",
    )
    lexical_floor: float = Field(
        default=5.0,
        description="... and no passage shares rare words with the question (best BM25 below this).",
    )
    evidence_sentences: int = Field(
        default=8,
        ge=1,
        le=30,
        description="Evidence sentences given to the model, chosen from the retrieved passages before it writes.",
    )
    max_sentences: int = Field(
        default=3,
        ge=1,
        description="Most cited sentences an answer keeps, the first ones (summaries excepted).",
    )
    min_evidence: float = Field(
        default=0.0,
        description="Refuse a draft whose best evidence sentence scores below this (fitted on the train splits).",
    )
    min_support: float = Field(
        default=0.0,
        description="Refuse a draft whose best kept sentence is supported less than this (fitted on the train splits).",
    )
    max_doubt: float | None = Field(
        default=-2.8,
        description="Refuse when the local model gives “The document doesn't say.” at least this log-probability "
        "(-2.8: p ≥ 0.06; fitted on dev + train, docs/evaluation.md); `none` switches it off. Other backends can't say.",
    )
    support_threshold: float = Field(
        default=0.4,
        description="Least similarity between an answer sentence and its quote to count as cited.",
    )

    host: str = Field(default="127.0.0.1", description="Where the chat UI listens.")
    port: int = Field(default=7860, description="Port of the chat UI.")
    auth: SecretStr | None = Field(default=None, description="user:pass to protect the chat UI (never printed).")
    feedback_file: Path = Field(
        default_factory=lambda: _default_dir("feedback") / "feedback.jsonl",
        description="Where thumbs up/down are appended.",
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.llm == "openai" and not self.openai_base_url:
            from .errors import ConfigError

            raise ConfigError("ASSISTANT_LLM=openai needs ASSISTANT_OPENAI_BASE_URL (e.g. http://127.0.0.1:8080/v1).")
        return self
