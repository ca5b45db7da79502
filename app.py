"""Launch the chat window: `python app.py` (same as `assistant serve`)."""

from assistant.ui import serve

if __name__ == "__main__":
    serve()
