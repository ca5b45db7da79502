"""The error hierarchy: every expected failure says what happened and what to do next."""

from __future__ import annotations


class AssistantError(Exception):
    """Root of every error the assistant raises on purpose; shells print its message, not a traceback."""


class ConfigError(AssistantError):
    """A setting is missing or invalid."""


class DocumentError(AssistantError):
    """A document could not be read or parsed."""


class IndexNotReady(AssistantError):
    """The index is missing, corrupt or was built by another configuration."""


class ModelUnavailable(AssistantError):
    """An embedding model or LLM could not be loaded or reached."""


class PromptError(AssistantError):
    """A prompt template is missing or does not match its variables."""


class QuestionError(AssistantError):
    """The question cannot be asked as given (empty, too long)."""
