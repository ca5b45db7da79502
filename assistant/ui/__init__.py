"""The user-interface layer: the Gradio chat window, its markup and the conversation state."""
