"""One loader per format: the lines each extracts, the sections and pages they give, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.documents import Passage, discover, load_document
from assistant.documents.loaders import SUPPORTED_SUFFIXES, extract, pdf_page_lines
from assistant.errors import DocumentError

HTML = """<!DOCTYPE html>
<html><head><title>Beekeeping Basics</title>
<style>body { color: red; }</style><script>var x = "<p>not text</p>";</script>
<body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Beekeeping Basics</h1>
<p>A healthy hive in summer holds about <b>fifty thousand</b> worker bees &amp; one queen.
The workers live roughly six weeks, the queen up to five years.</p>
<h2>Harvest</h2>
<p>Honey is harvested in late August, when at least 80% of the comb cells are capped with wax.<br>
Never take the last super before winter.</p>
<ul><li>Use a smoker.</li><li>Wear a veil.</li></ul>
<div hidden><p>secret draft</p><div>nested draft</div></div>
<table><tr><th>Month</th><th>Task</th></tr><tr><td>May</td><td>Add supers</td></tr></table>
</body></html>
"""


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal PDF, one Helvetica text line per string, written by hand: no PDF writer dependency."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
        ops += [
            "({}) Tj T*".format(line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")) for line in lines
        ]
        stream = "\n".join([*ops, "ET"]).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


LIGHTHOUSE_PDF = [
    [
        "Lighthouse Keeping",
        "The keeper of the Skerryvore light trims the wick of the great lamp every evening",
        "at dusk and climbs 151 steps to reach the lantern room at the very top of the tower.",
        "1",
    ],
    [
        "Fog Signals",
        "When fog rolls in, the keeper starts the compressed-air horn, which sounds twice",
        "every sixty seconds until the visibility returns to more than two nautical miles.",
        "2",
    ],
]


def test_text_and_markdown_keep_the_files_own_lines(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\n\ntwo\r\n")
    (tmp_path / "b.md").write_text("# Title\n\nBody.\n")
    assert extract(tmp_path / "a.txt").lines == ["one", "", "two"]
    md = extract(tmp_path / "b.md")
    assert md.lines == ["# Title", "", "Body."] and md.markdown and md.page_starts == ()


def test_html_text_headings_and_title(tmp_path: Path) -> None:
    (tmp_path / "bees.html").write_text(HTML)
    extracted = extract(tmp_path / "bees.html")
    text = "\n".join(extracted.lines)
    assert extracted.title == "Beekeeping Basics" and extracted.markdown
    assert "# Beekeeping Basics" in extracted.lines and "## Harvest" in extracted.lines
    assert "fifty thousand worker bees & one queen. The workers live roughly six weeks" in text  # joined, unescaped
    assert "capped with wax." in extracted.lines[extracted.lines.index("## Harvest") + 2]  # <br> breaks the line
    assert "Month | Task" in extracted.lines and "May | Add supers" in extracted.lines
    for hidden in ("color: red", "not text", "Home", "secret draft", "nested draft"):
        assert hidden not in text


def test_html_document_sections_and_verifiable_lines(tmp_path: Path) -> None:
    (tmp_path / "bees.html").write_text(HTML)
    doc = load_document(tmp_path / "bees.html", tmp_path)
    assert doc.source == f"{tmp_path.name}/bees.html" and doc.title == "Beekeeping Basics"
    assert {p.section for p in doc.passages} == {"Beekeeping Basics", "Harvest"}
    assert {p.role for p in doc.passages} == {"author"}  # not an article: no comment tail is looked for
    for passage in doc.passages:
        assert all(piece in doc.text_of(passage.line_start, passage.line_end) for piece in passage.text.split("\n"))
        assert passage.page is None and "page" not in passage.metadata()


def test_pdf_pages_lines_and_where(tmp_path: Path) -> None:
    (tmp_path / "light.pdf").write_bytes(make_pdf(LIGHTHOUSE_PDF))
    doc = load_document(tmp_path / "light.pdf", tmp_path)
    assert len(doc.page_starts) == 2 and doc.page_starts[0] == 1
    assert "1" not in doc.lines and "2" not in doc.lines  # bare page numbers are dropped
    assert [p.page for p in doc.passages] == [1, 2]
    fog = doc.passages[1]
    assert fog.section == "Fog Signals" and "sixty seconds" in fog.text
    assert all(piece in doc.text_of(fog.line_start, fog.line_end) for piece in fog.text.split("\n"))
    assert doc.where(fog.line_start, fog.line_end) == "page 2, lines 1-4"
    assert doc.where(1, 1) == "page 1, line 1"
    again = Passage.from_metadata(fog.text, fog.metadata(), id=fog.id)
    assert again == fog and again.metadata()["page"] == 2


def test_pdf_paragraph_breaks_and_text_lines() -> None:
    lines = pdf_page_lines(
        "12\nA long line of body text that runs close to the right margin here\n"
        "and ends short.\nNext paragraph starts here and runs to the margin as well ok\n"
        "continues in lower case.\n"
    )
    assert lines == [
        "A long line of body text that runs close to the right margin here",
        "and ends short.",
        "",
        "Next paragraph starts here and runs to the margin as well ok",
        "continues in lower case.",
    ]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("scan.pdf", make_pdf([[]]), "no extractable text"),
        ("broken.pdf", b"%PDF-1.4\nthis is not a pdf", "not a readable PDF"),
        ("page.html", b"<html><script>x()</script></html>", "is empty"),
        ("data.csv", b"a,b\n", "unsupported file type '.csv'"),
        ("latin.html", b"<p>caf\xe9</p>", "not valid UTF-8"),
    ],
)
def test_unreadable_files_are_clear_errors(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DocumentError, match=match):
        load_document(tmp_path / name, tmp_path)


def test_discover_finds_every_format_recursively(tmp_path: Path) -> None:
    for name in ("a.txt", "sub/b.md", "sub/deeper/c.html", "d.pdf", "e.htm", "notes.csv", ".hidden.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)]
    assert found == ["a.txt", "d.pdf", "e.htm", "sub/b.md", "sub/deeper/c.html"]
    assert set(SUPPORTED_SUFFIXES) == {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}
