"""Launch the chat window: `python app.py` (same as `assistant serve`)."""

from assistant import Assistant
from assistant.ui import serve

if __name__ == "__main__":
    serve(Assistant())
