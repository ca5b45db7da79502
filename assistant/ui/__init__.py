"""The user-interface layer: the Gradio chat window, its markup and the conversation state; `serve()` starts it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core import Assistant


def serve(assistant: Assistant) -> None:
    """Serve the chat window (blocks): the local model starts loading first, then Gradio is imported and the
    page launched, which loads the index and the embedding model behind its status line.

    Why in this order: importing Gradio is seconds of Python work, and llama.cpp loads the model and evaluates
    the prompt's fixed start without the GIL meanwhile (`Warmup.load_model`).
    """
    from .server import Warmup

    warmup = Warmup(assistant).load_model()
    from .app import launch

    launch(assistant, warmup)
