"""Parsing, roles, sections and chunking, on the real seed and on small made-up documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.documents import load_document, paragraphs_of, split_lines, split_sentences
from assistant.errors import DocumentError


@pytest.fixture
def seed_doc(seeds: Path):
    return load_document(next(seeds.iterdir()), seeds)


def test_seed_roles_editor_author_commenter(seed_doc) -> None:
    by_line = {p.line_start: r for p, r in zip(seed_doc.paragraphs, seed_doc.roles, strict=True)}
    assert [by_line[n] for n in (1, 2)] == ["editor", "editor"]
    assert all(by_line[n] == "author" for n in range(3, 38))
    assert all(by_line[n] == "commenter" for n in range(38, 96))


def test_seed_title_and_sections(seed_doc) -> None:
    assert seed_doc.title == "Is the U.S. angling for a repeat of the Sino-Russian split?"
    sections = {s for s in seed_doc.sections if s}
    assert sections == {
        "A Growing Challenge",
        "Besties Forever?",
        "Putin Knows Who His Real Friends Are",
        "Transactional Weakness",
        "Insulating the Economy",
        "China’s Turn to Exploit a Split?",
    }
    section_of = {p.line_start: s for p, s in zip(seed_doc.paragraphs, seed_doc.sections, strict=True)}
    assert section_of[35] == "China’s Turn to Exploit a Split?"
    assert section_of[1] is None and section_of[60] is None


def test_passages_keep_exact_lines_and_never_span_roles(seed_doc) -> None:
    role_of = {}
    for p, r in zip(seed_doc.paragraphs, seed_doc.roles, strict=True):
        for n in range(p.line_start, p.line_end + 1):
            role_of[n] = r
    for passage in seed_doc.passages:
        source_text = seed_doc.text_of(passage.line_start, passage.line_end)
        for piece in passage.text.split("\n"):
            assert piece in source_text
        assert {role_of[n] for n in range(passage.line_start, passage.line_end + 1)} == {passage.role}
        assert passage.source == "seeds/000_b8aa54d3edd41c2c.txt"


def test_every_line_is_covered(seed_doc) -> None:
    covered = {n for p in seed_doc.passages for n in range(p.line_start, p.line_end + 1)}
    assert covered == set(range(1, len(seed_doc.lines) + 1))


def test_passage_ids_are_stable_content_hashes(seeds: Path, seed_doc) -> None:
    again = load_document(next(seeds.iterdir()), seeds)
    assert [p.id for p in again.passages] == [p.id for p in seed_doc.passages]
    assert len({p.id for p in seed_doc.passages}) == len(seed_doc.passages)


def test_sidecar_overrides_detection(seeds: Path) -> None:
    path = next(seeds.iterdir())
    path.with_name(path.name + ".segments.json").write_text(
        json.dumps({"editor": [1, 3], "author": [4, 50], "commenter": [51, 95]})
    )
    doc = load_document(path, seeds)
    role = {p.line_start: r for p, r in zip(doc.paragraphs, doc.roles, strict=True)}
    assert role[3] == "editor" and role[40] == "author" and role[51] == "commenter"


def test_bad_sidecar_is_a_clear_error(seeds: Path) -> None:
    path = next(seeds.iterdir())
    path.with_name(path.name + ".segments.json").write_text(json.dumps({"reader": [1, 3]}))
    with pytest.raises(DocumentError, match="unknown role 'reader'"):
        load_document(path, seeds)


def test_article_without_comments_stays_author(tmp_path: Path) -> None:
    text = "\n".join(
        ["By Ann Lee, reporter", "A Plain Report"]
        + [
            f"Paragraph {i} describes the measured growth of the regional economy in formal terms, "
            f"with figures from the statistics office and careful analysis of section {i}."
            for i in range(12)
        ]
    )
    (tmp_path / "a.txt").write_text(text)
    doc = load_document(tmp_path / "a.txt", tmp_path)
    assert set(doc.roles) == {"author"}


def test_markdown_headings_become_sections(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_text("# Guide\n\nIntro text here.\n\n## Setup\n\nInstall it.\nThen run it.\n")
    doc = load_document(tmp_path / "n.md", tmp_path)
    assert doc.title == "Guide"
    assert doc.passages[-1].section == "Setup"
    assert doc.passages[-1].line_start <= 7 <= doc.passages[-1].line_end


def test_hard_wrapped_paragraphs_split_on_blank_lines() -> None:
    lines = split_lines("one short line\nwraps here\n\nsecond para\n")
    paragraphs = paragraphs_of(lines)
    assert [(p.line_start, p.line_end) for p in paragraphs] == [(1, 2), (4, 4)]


def test_sentences_respect_abbreviations() -> None:
    text = "In an Oct. 31, 2024, interview the U.S. President spoke. He left! Did he?"
    assert split_sentences(text) == ["In an Oct. 31, 2024, interview the U.S. President spoke.", "He left!", "Did he?"]
    assert all(s in text for s in split_sentences(text))


def test_a_closing_quote_or_bracket_stays_with_the_sentence_it_closes() -> None:
    text = "Trump said: “I can do that, too.” The editor asks (is it?) Nobody knows. “Really?” Yes."
    assert split_sentences(text) == [
        "Trump said: “I can do that, too.”",
        "The editor asks (is it?)",
        "Nobody knows.",
        "“Really?”",
        "Yes.",
    ]


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "is empty"), (b"\x00\x01binary", "looks binary"), (b"caf\xe9 au lait", "not valid UTF-8")],
)
def test_unreadable_documents_are_clear_errors(tmp_path: Path, content: bytes, match: str) -> None:
    (tmp_path / "bad.txt").write_bytes(content)
    with pytest.raises(DocumentError, match=match):
        load_document(tmp_path / "bad.txt", tmp_path)
