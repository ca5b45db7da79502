"""Launch the chat window: `python app.py` (same as `assistant serve`)."""

from assistant import Assistant
from assistant.ui.app import launch

if __name__ == "__main__":
    launch(Assistant())
