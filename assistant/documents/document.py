"""One parsed file (`Document`: lines, paragraphs with roles and sections, passages) and finding the files to parse."""

from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..voices import Role
from .loaders import SUPPORTED_SUFFIXES, extract
from .paragraphs import _MD_HEADING, Paragraph, _looks_like_heading, paragraphs_of
from .passages import Passage, chunk
from .roles import _BYLINE, _load_sidecar, assign_roles

# 5: a long paragraph split after a quotation keeps its closing quote mark;
# 6: roles also follow explicit markers (comment headers and signatures, sign-offs, "Interview by", signed notes)
CHUNKER_VERSION = 6


@dataclass
class Document:
    """A parsed source file: its lines, paragraphs with roles and sections, and its passages."""

    source: str
    path: Path
    lines: list[str]
    title: str | None
    paragraphs: list[Paragraph]
    roles: list[Role]
    sections: list[str | None]
    passages: list[Passage]
    page_starts: tuple[int, ...] = ()  # 1-based line on which each page begins (PDF)
    digest: str = ""  # sha256 of the file and its sidecar: the manifest's per-file hash

    def text_of(self, line_start: int, line_end: int) -> str:
        """The exact source text of an inclusive 1-based line range."""
        return "\n".join(self.lines[line_start - 1 : line_end])

    def page_of(self, line: int) -> int | None:
        """The 1-based page that holds `line`, for paged formats; None otherwise."""
        return bisect.bisect_right(self.page_starts, line) or None if self.page_starts else None

    def where(self, line_start: int, line_end: int, dash: str = "-") -> str:
        """A reader's label for a line range: "lines 3-5", or "page 2, lines 3-5" counted within the page."""
        page = self.page_of(line_start)
        if page is not None:
            offset = self.page_starts[page - 1] - 1
            line_start, line_end = line_start - offset, line_end - offset
        lines = f"line {line_start}" if line_start == line_end else f"lines {line_start}{dash}{line_end}"
        return f"page {page}, {lines}" if page is not None else lines


def load_document(path: Path, root: Path, min_chars: int = 200, max_chars: int = 700) -> Document:
    """Parse one file under `root`, read by its format's loader, into a `Document` with roles and passages."""
    extracted = extract(path)
    lines = extracted.lines
    markdown = extracted.markdown
    paragraphs = paragraphs_of(lines, markdown=markdown)
    sidecar = _load_sidecar(path, len(lines))
    roles, title_index = assign_roles(paragraphs, sidecar)
    marked = list(paragraphs)
    for i, p in enumerate(paragraphs):
        if (
            roles[i] == "author"
            and i != title_index
            and not p.heading_level
            and not _BYLINE.match(p.text)  # "Interview by Jane Doe" is short and title-like, but not a section
            and _looks_like_heading(p, paragraphs[i + 1] if i + 1 < len(paragraphs) else None)
        ):
            marked[i] = Paragraph(p.text, p.line_start, p.line_end, heading_level=2)
    paragraphs = marked
    title = paragraphs[title_index].text.strip() if title_index is not None else None
    if title is None and markdown:
        title = next((_MD_HEADING.match(p.text).group(2) for p in paragraphs if p.heading_level == 1), None)  # type: ignore[union-attr]
    title = title or extracted.title
    sections: list[str | None] = []
    current: str | None = None
    for i, p in enumerate(paragraphs):
        if roles[i] != "author":
            sections.append(None)
            continue
        if p.heading_level and i != title_index:
            heading = _MD_HEADING.match(p.text) if markdown else None
            current = heading.group(2) if heading else p.text.strip()
        sections.append(current if i != title_index else None)
    source = (Path(root.name) / path.relative_to(root)).as_posix()
    document = Document(source, path, lines, title, paragraphs, list(roles), sections, [], extracted.page_starts)
    pages = [document.page_of(p.line_start) for p in paragraphs]
    document.passages = chunk(source, paragraphs, roles, sections, title, min_chars, max_chars, pages)
    # The sidecar changes roles without changing the file, so it is part of the file's hash.
    sidecar_text = json.dumps(sidecar, sort_keys=True) if sidecar is not None else ""
    document.digest = hashlib.sha256(f"{extracted.digest}\n{sidecar_text}".encode()).hexdigest()
    return document


def discover(seeds_dir: Path) -> list[Path]:
    """Supported files under `seeds_dir`, recursively, in a stable order; symlinks out of the folder skipped."""
    if not seeds_dir.is_dir():
        return []
    root = seeds_dir.resolve()
    found = []
    for path in sorted(seeds_dir.rglob("*")):
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith("."):
            if root not in path.resolve().parents:
                continue
            found.append(path)
    return found
