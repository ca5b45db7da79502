"""Properties (hypothesis): passages and citations always map back to the exact text of the source file.

Documents are generated line by line — prose with abbreviations, quotes, numbers and non-Latin scripts,
Markdown headings, blank and whitespace-only lines, CRLF endings, a BOM — written to a real file and read back
through `load_document`, so the line numbers checked are the file's own.
"""

from __future__ import annotations

import hashlib
import math
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.answer import Citation, Retrieved
from assistant.answering.evidence import Evidence, _sentences, select
from assistant.answering.grounding import ground, verify
from assistant.documents import Document, load_document

WORDS = (
    "the author argues Russia China trade grew U.S. Dr. Smith e.g. Oct. 31 2024 US$237 billion 14% café naïve "
    "中国 Россия — “friendship” ‘limits’ (again) [sic] ... ... x I me you! why? ok"
).split() + ["tab\tin", "form\x0cfeed", "line\u2028separator", "next\x85line", "lone\rcr", "zero\u200bwidth", "🙂"]

word = st.sampled_from(WORDS)
ending = st.sampled_from(["", ".", "!", "?", "…", '."', ".”", "?”", ").", ".]"])
sentence = st.builds(
    lambda words, end: " ".join(words)[:1].upper() + " ".join(words)[1:] + end,
    st.lists(word, min_size=1, max_size=14),
    ending,
)
prose = st.builds(
    lambda s, lead: lead + " ".join(s),
    st.lists(sentence, min_size=1, max_size=6),
    st.sampled_from(["", "", "  ", "\t"]),
)
line = st.one_of(
    prose,
    prose,
    st.just(""),
    st.sampled_from(["   ", "\t", " \t "]),
    st.builds(lambda level, s: "#" * level + " " + s, st.integers(1, 3), sentence),
    st.builds(lambda s: "By " + s, sentence),
)


@st.composite
def source_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A file name and its bytes: .txt or .md, LF or CRLF, with or without a BOM and a final newline."""
    lines = draw(st.lists(line, min_size=1, max_size=30).filter(lambda ls: any(x.strip() for x in ls)))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    bom = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf"]))
    return draw(st.sampled_from(["doc.txt", "doc.md"])), bom + text.encode("utf-8")


sizes = st.tuples(st.sampled_from([0, 40, 200]), st.sampled_from([30, 80, 300, 700]))
common = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(name: str, data: bytes, min_chars: int, max_chars: int) -> tuple[Document, list[str]]:
    """Parse the file, and also return its lines as an editor numbers them (split at LF, CR dropped)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "seeds"
        root.mkdir()
        (root / name).write_bytes(data)
        document = load_document(root / name, root, min_chars, max_chars)
    raw = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8").split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    return document, [x.removesuffix("\r") for x in raw]


def toy_embed(texts: list[str]) -> list[list[float]]:
    """Hashed bag of words: deterministic, enough for support to favour sentences sharing words."""
    out = []
    for text in texts:
        vector = [0.0] * 64 + [0.001]
        for w in re.findall(r"\w+", text.lower()):
            vector[int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 1.0
        norm = math.sqrt(sum(v * v for v in vector))
        out.append([v / norm for v in vector])
    return out


@common
@given(source_files(), sizes)
def test_passages_map_back_to_the_files_own_lines(file: tuple[str, bytes], size: tuple[int, int]) -> None:
    document, file_lines = load(*file, *size)
    assert document.lines == file_lines
    covered: set[int] = set()
    role_at = {
        n: r
        for p, r in zip(document.paragraphs, document.roles, strict=True)
        for n in range(p.line_start, p.line_end + 1)
    }
    for passage in document.passages:
        assert 1 <= passage.line_start <= passage.line_end <= len(file_lines)
        assert file_lines[passage.line_start - 1].strip() and file_lines[passage.line_end - 1].strip()
        # Each piece of the passage is exact text of a line in its range, in reading order.
        at = passage.line_start
        for piece in passage.text.split("\n"):
            while at <= passage.line_end and piece not in file_lines[at - 1]:
                at += 1
            assert at <= passage.line_end, f"{piece!r} is not in lines {passage.line_start}-{passage.line_end}"
        assert {role_at[n] for n in range(passage.line_start, passage.line_end + 1) if n in role_at} == {passage.role}
        covered.update(range(passage.line_start, passage.line_end + 1))
    assert {n for n, text in enumerate(file_lines, start=1) if text.strip()} <= covered


@common
@given(source_files(), sizes)
def test_every_evidence_sentence_is_verbatim_on_its_own_line(file: tuple[str, bytes], size: tuple[int, int]) -> None:
    document, file_lines = load(*file, *size)
    for passage in document.passages:
        for sentence, start, end in _sentences(passage, document):
            assert passage.line_start <= start <= end <= passage.line_end
            assert sentence in "\n".join(file_lines[start - 1 : end])
            citation = Citation(1, passage.source, start, end, passage.role, passage.section, sentence)
            assert verify(citation, document)
            assert not verify(Citation(1, passage.source, start, end, passage.role, None, sentence + "\x00"), document)


@common
@given(source_files(), sizes, st.data())
def test_grounded_answers_cite_only_verbatim_quotes_of_their_lines(
    file: tuple[str, bytes], size: tuple[int, int], data: st.DataObject
) -> None:
    document, file_lines = load(*file, *size)
    retrieved = [Retrieved(p, 1.0 - i / 100, 0.9) for i, p in enumerate(document.passages[:6])]
    evidence: list[Evidence] = select("what?", retrieved, {document.source: document}, toy_embed, limit=8)
    if not evidence:
        return
    picked = data.draw(st.lists(st.sampled_from(evidence), min_size=1, max_size=4))
    markers = data.draw(st.lists(st.integers(1, len(evidence) + 2), min_size=len(picked), max_size=len(picked)))
    noise = data.draw(st.sampled_from(["", " Bananas are yellow.", " It rained 99 days [1]."]))
    draft = " ".join(f"{e.text.rstrip('.!?…')} [{m}]." for e, m in zip(picked, markers, strict=True)) + noise
    grounded = ground(draft, evidence, {document.source: document}, toy_embed, 0.3)
    assert [c.n for c in grounded.citations] == list(range(1, len(grounded.citations) + 1))
    for c in grounded.citations:
        assert c.source == document.source and verify(c, document)
        assert c.quote in "\n".join(file_lines[c.line_start - 1 : c.line_end])
    for n in re.findall(r"\[(\d+)\]", grounded.text):
        assert 1 <= int(n) <= len(grounded.citations), grounded.text
    assert "99 days" not in grounded.text  # a figure in no evidence sentence is never shown
