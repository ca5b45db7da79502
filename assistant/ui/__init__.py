"""The user-interface layer: the Gradio chat window, its markup and the conversation state; `serve()` starts it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core import Assistant


def serve(assistant: Assistant) -> None:
    """Load the index and the models in the background, then import Gradio and serve the page (blocks).

    Why in this order: importing Gradio is seconds of Python work; the models' loading overlaps it (llama.cpp
    works without the GIL), so the chat window is ready sooner than when the loading starts after it.
    """
    from .server import Warmup

    warmup = Warmup(assistant).start()
    from .app import launch

    launch(assistant, warmup)
