"""One loader per file format, each turning a file into numbered lines of text that citations can point at.

Every loader returns an `Extracted`: the lines that the rest of the pipeline (paragraphs, roles, sections,
passages, citations) works on. For `.txt` and `.md` these are the file's own lines. For `.html` they are the
page's visible text, one block (paragraph, heading as `## Heading`, list item, table row) per line with a
blank line between blocks, so line *n* of a citation is the *n*-th line of that extracted text. For `.pdf`
they are the text pypdf extracts, page after page, with a blank line at each paragraph and page break;
`page_starts` records the line each page begins on, so a citation can say "page 3, lines 4-6" (see
`Document.where`).

To add a format: write a class with `suffixes` and `load(path) -> Extracted`, and add it to `LOADERS`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import statistics
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Protocol

from ..errors import DocumentError


@dataclass(frozen=True)
class Extracted:
    """A file's text as numbered lines, plus what its format says about headings, title and pages."""

    lines: list[str]
    markdown: bool = False  # lines like "## Heading" open sections
    title: str | None = None
    page_starts: tuple[int, ...] = ()  # 1-based line on which each page begins (paged formats only)
    digest: str = ""  # sha256 of the file's bytes


class Loader(Protocol):
    """Reads one kind of file; raises `DocumentError` (naming the file and what to do) when it cannot."""

    suffixes: tuple[str, ...]

    def load(self, path: Path) -> Extracted: ...


def read_bytes(path: Path) -> bytes:
    """A file's bytes, with an error that says what to do."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DocumentError(
            f"Cannot read {path}: {exc.strerror or exc}. Check that it exists and is readable."
        ) from None


def decode(path: Path, data: bytes) -> str:
    """UTF-8 text of a text document (a BOM is dropped); binary or other encodings are clear errors."""
    if b"\x00" in data[:4096]:
        raise DocumentError(f"{path} looks binary (NUL bytes); only text documents can be indexed.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path} is not valid UTF-8 (byte {exc.start}); re-save it as UTF-8 to index it.") from None


def read_text(path: Path) -> str:
    """Read a document as UTF-8, with an error that says what to do."""
    return decode(path, read_bytes(path))


def split_lines(text: str) -> list[str]:
    """Lines as the file numbers them (1-based externally); `\\r` endings are dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TextLoader:
    """Plain text: the file's own lines."""

    suffixes: tuple[str, ...] = (".txt",)
    markdown = False

    def load(self, path: Path) -> Extracted:
        data = read_bytes(path)
        return Extracted(split_lines(decode(path, data)), markdown=self.markdown, digest=_digest(data))


class MarkdownLoader(TextLoader):
    """Markdown: the file's own lines; `#` headings open sections, the first `# Title` names the document."""

    suffixes = (".md", ".markdown")
    markdown = True


_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt",
     "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "ol", "p", "pre",
     "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul"}
)  # fmt: skip
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "nav", "head", "iframe", "object", "canvas"})
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BREAK = "\x00"  # a <br>, kept apart from the source's own newlines


class _TextOfHtml(HTMLParser):
    """Collects an HTML page's visible text as blocks, headings marked with their level."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[int, list[str]]] = []  # (heading level or 0, lines)
        self.title: str | None = None
        self._parts: list[str] = []
        self._level = 0
        self._skipping: list[str] = []  # open elements whose content is not shown
        self._pre = 0
        self._in_title = False
        self._title_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag == "body":
            self._skipping.clear()  # `</head>` may be left out
        if self._skipping or tag in _SKIP_TAGS or any(name == "hidden" for name, _ in attrs):
            if tag not in _VOID_TAGS:  # void elements never close
                self._skipping.append(tag)
            return
        if tag in _HEADINGS or tag in _BLOCK_TAGS:
            self._flush()
            self._level = _HEADINGS.get(tag, 0)
        if tag == "pre":
            self._pre += 1
        elif tag == "br":
            self._parts.append(_BREAK)
        elif tag in ("td", "th") and self._parts and "".join(self._parts).strip():
            self._parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            self.title = " ".join("".join(self._title_parts).split()) or None
        if self._skipping:
            if tag in self._skipping:  # close the innermost open element of that name
                del self._skipping[len(self._skipping) - 1 - self._skipping[::-1].index(tag) :]
            return
        if tag in _HEADINGS or tag in _BLOCK_TAGS:
            self._flush()
            self._level = 0
        if tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)
        if not self._skipping:
            self._parts.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        raw = "".join(self._parts)
        self._parts.clear()
        if self._pre:
            lines = [line.rstrip() for line in raw.replace(_BREAK, "\n").split("\n")]
        else:  # source newlines are spaces; only <br> breaks a line
            lines = [" ".join(piece.split()) for piece in raw.split(_BREAK)]
        lines = [line for line in lines if line.strip()]
        if not lines:
            return
        if self._level:
            self.blocks.append((self._level, [" ".join(line.strip() for line in lines)]))
        else:
            self.blocks.append((0, lines))


class HtmlLoader:
    """HTML: visible text (no scripts, styles or navigation), one block per line, headings as sections."""

    suffixes: tuple[str, ...] = (".html", ".htm")

    def load(self, path: Path) -> Extracted:
        data = read_bytes(path)
        parser = _TextOfHtml()
        parser.feed(decode(path, data))
        parser.close()
        lines: list[str] = []
        for level, block in parser.blocks:
            if lines:
                lines.append("")
            lines.extend([f"{'#' * level} {block[0]}"] if level else block)
        return Extracted(lines, markdown=True, title=parser.title, digest=_digest(data))


_PAGE_NUMBER = re.compile(r"^\s*(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?\s*$", re.IGNORECASE)


def pdf_page_lines(text: str) -> list[str]:
    """One page's extracted text as lines, with a blank line where a paragraph (or a heading) ends.

    pypdf gives visual lines without paragraph breaks; a line noticeably shorter than the page's usual width
    ends its paragraph unless the next line starts in lower case. Bare page numbers at the top or bottom go.
    """
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line for line in lines if line]
    while lines and _PAGE_NUMBER.match(lines[-1]):
        lines.pop()
    while lines and _PAGE_NUMBER.match(lines[0]):
        lines.pop(0)
    if not lines:
        return []
    width = statistics.quantiles([len(line) for line in lines], n=10)[-1] if len(lines) > 1 else len(lines[0])
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        following = lines[i + 1] if i + 1 < len(lines) else None
        if following is not None and len(line) < 0.7 * width and not following[0].islower():
            out.append("")
    return out


class PdfLoader:
    """PDF: the text of each page (via pypdf), pages kept apart so that citations can name the page."""

    suffixes: tuple[str, ...] = (".pdf",)

    def load(self, path: Path) -> Extracted:
        try:
            from pypdf import PdfReader
            from pypdf.errors import PyPdfError
        except ImportError:
            raise DocumentError(f"{path.name}: reading PDF needs the `pypdf` package; run `make install`.") from None
        data = read_bytes(path)
        logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings repeat what our error says
        try:
            reader = PdfReader(path)
            if reader.is_encrypted and not reader.decrypt(""):
                raise DocumentError(f"{path} is encrypted; save an unprotected copy to index it.")
            pages = [page.extract_text() or "" for page in reader.pages]
        except (PyPdfError, ValueError, KeyError, OSError) as exc:
            raise DocumentError(f"{path} is not a readable PDF ({exc}); re-export it to index it.") from None
        lines: list[str] = []
        starts: list[int] = []
        for text in pages:
            if lines and lines[-1]:
                lines.append("")
            starts.append(len(lines) + 1)
            lines.extend(pdf_page_lines(text))
        if not any(lines):
            raise DocumentError(f"{path} has no extractable text (a scanned PDF?); run OCR on it first to index it.")
        meta_title = reader.metadata.title if reader.metadata else None
        return Extracted(
            lines,
            title=str(meta_title).strip() or None if meta_title else None,
            page_starts=tuple(starts),
            digest=_digest(data),
        )


LOADERS: dict[str, Loader] = {
    suffix: loader
    for loader in (TextLoader(), MarkdownLoader(), HtmlLoader(), PdfLoader())
    for suffix in loader.suffixes
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(LOADERS)


def loader_for(path: Path) -> Loader:
    """The loader for a file, chosen by its suffix."""
    try:
        return LOADERS[path.suffix.lower()]
    except KeyError:
        raise DocumentError(
            f"{path.name}: unsupported file type {path.suffix!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}."
        ) from None


def extract(path: Path) -> Extracted:
    """A file's lines through its format's loader; an empty result is an error that says what to do."""
    extracted = loader_for(path).load(path)
    if not any(line.strip() for line in extracted.lines):
        raise DocumentError(f"{path} is empty; add text to it or remove it from the seeds folder.")
    return extracted
