"""The user-interface layer: the Gradio chat window, its markup and the conversation state; `serve()` starts it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core import Assistant


def serve(assistant: Assistant | None = None, **overrides: Any) -> None:
    """Serve the chat window (blocks): the embedding model starts loading in a child process and the local
    model on a thread, then Gradio is imported and the page launched, which opens the index behind its status
    line and waits for both models. `assistant` defaults to `Assistant(**overrides)` (None values left out),
    made once the child has started.

    Why in this order: importing Gradio is seconds of Python work holding the GIL; meanwhile the child loads
    torch and MiniLM on the other core (`index.start_embedding_process`), and llama.cpp loads the weights and
    evaluates the prompt's fixed start without the GIL (`Warmup.load_model`).
    """
    from ..index import start_embedding_process

    start_embedding_process()
    if assistant is None:
        from ..core import Assistant

        assistant = Assistant(**{k: v for k, v in overrides.items() if v is not None})
    from .server import Warmup

    warmup = Warmup(assistant).load_model()
    from .app import launch

    launch(assistant, warmup)
