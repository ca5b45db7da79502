"""Documents → passages that remember their lines, their section and who is speaking.

A file is read by the loader of its format (`loaders.py`: .txt, .md, .html, .pdf) into numbered lines; line
numbers are those of the text the loader extracts, which for .txt and .md are the file's own lines. The lines
are read as paragraphs and sentences (`paragraphs.py`), each paragraph gets a role, who is speaking
(`roles.py`: editor, author, commenter), and paragraphs are grouped into passages (`passages.py`) within one
role and one section. `document.py` holds the parsed file, `Document`, and `load_document`.
"""

from __future__ import annotations

from .document import CHUNKER_VERSION, Document, discover, load_document
from .loaders import read_text, split_lines
from .paragraphs import Paragraph, line_at, line_starts, paragraphs_of, sentence_spans, split_sentences
from .passages import Passage, chunk
from .roles import assign_roles, comment_start, explicit_comment_start

__all__ = [
    "CHUNKER_VERSION",
    "Document",
    "Paragraph",
    "Passage",
    "assign_roles",
    "chunk",
    "comment_start",
    "discover",
    "explicit_comment_start",
    "line_at",
    "line_starts",
    "load_document",
    "paragraphs_of",
    "read_text",
    "sentence_spans",
    "split_lines",
    "split_sentences",
]
