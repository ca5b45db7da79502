"""Who speaks where: explicit role markers on small made-up documents, and the gold documents' answer keys."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from assistant.documents import load_document

ROOT = Path(__file__).resolve().parent.parent
GOLD_DOCS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docs"

BODY = [
    f"Paragraph {i} describes the measured growth of the regional economy in formal terms, with figures from "
    f"the statistics office and a careful analysis of the part of the budget that section {i} deals with."
    for i in range(8)
]
# Comments as formal as the article: only an explicit marker can tell them apart.
FORMAL_COMMENTS = [
    f"Comment {i} notes that the regional economy grew in formal terms too, with figures from the statistics "
    f"office and a careful analysis of the part of the budget that section {i + 8} deals with."
    for i in range(2)
]


def roles_by_line(tmp_path: Path, lines: list[str], name: str = "doc.txt") -> dict[int, str]:
    """Write `lines` as a document and return the detected role of each non-blank line."""
    (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = load_document(tmp_path / name, tmp_path)
    return {n: r for p, r in zip(doc.paragraphs, doc.roles, strict=True) for n in range(p.line_start, p.line_end + 1)}


def spans(roles: dict[int, str]) -> list[tuple[str, int, int]]:
    """Runs of one role as (role, first line, last line)."""
    out: list[tuple[str, int, int]] = []
    for n in sorted(roles):
        if out and out[-1][0] == roles[n]:
            out[-1] = (roles[n], out[-1][1], n)
        else:
            out.append((roles[n], n, n))
    return out


def test_a_comments_header_opens_the_comments_even_without_a_byline(tmp_path: Path) -> None:
    roles = roles_by_line(tmp_path, ["The Budget Explained", *BODY, "Comments (2)", *FORMAL_COMMENTS])
    assert spans(roles) == [("author", 1, 9), ("commenter", 10, 12)]


@pytest.mark.parametrize("header", ["12 comments", "Join the discussion", "Reader comments", "## Comments (2)"])
def test_comment_headers_in_their_usual_spellings(tmp_path: Path, header: str) -> None:
    roles = roles_by_line(tmp_path, ["By Ann Lee", *BODY, header, *FORMAL_COMMENTS])
    assert spans(roles) == [("author", 1, 9), ("commenter", 10, 12)]


def test_a_bare_comments_section_of_a_manual_stays_the_authors(tmp_path: Path) -> None:
    lines = ["# Python basics", "", *BODY[:5], "", "## Comments", "", "A line that starts with # is a comment."]
    roles = roles_by_line(tmp_path, lines, "manual.md")
    assert set(roles.values()) == {"author"}


def test_signature_lines_start_the_comment_tail_even_without_a_byline(tmp_path: Path) -> None:
    lines = ["The Budget Explained", *BODY]
    lines += [
        "harbor_fan · 2 days ago",
        FORMAL_COMMENTS[0],
        "Jim Peel says:",
        f"Reply to harbor_fan: {FORMAL_COMMENTS[1]}",
    ]
    roles = roles_by_line(tmp_path, lines)
    assert spans(roles) == [("author", 1, 9), ("commenter", 10, 13)]


def test_one_signature_like_line_is_not_a_comment_tail(tmp_path: Path) -> None:
    lines = ["By Ann Lee", *BODY[:4], "Jim Peel says:", *BODY[4:]]
    assert set(roles_by_line(tmp_path, lines).values()) == {"author"}


def test_the_authors_sign_off_is_theirs_and_ends_the_article(tmp_path: Path) -> None:
    signoff = "— Ann Lee is a bookseller and a former ferry engineer."
    roles = roles_by_line(tmp_path, ["The Budget Explained", *BODY, signoff, *FORMAL_COMMENTS])
    assert spans(roles) == [("author", 1, 10), ("commenter", 11, 12)]
    assert set(roles_by_line(tmp_path, ["The Budget Explained", *BODY, signoff]).values()) == {"author"}


def test_an_interview_by_byline_makes_the_note_above_it_the_editors(tmp_path: Path) -> None:
    turns = [f"**{'Q' if i % 2 else 'TREVIK'}:** {BODY[i]}" for i in range(8)]
    turns[3] = "**Q:** Why? Really, why?"
    lines = ["# Coal's last winter", "", "We asked two experts to argue it out.", "", "Interview by Mira Castellane"]
    lines += [line for turn in turns for line in ("", turn)]
    roles = roles_by_line(tmp_path, lines, "interview.md")
    assert spans(roles) == [("author", 1, 1), ("editor", 3, 3), ("author", 5, len(lines))]


def test_an_italic_intro_signed_by_the_editors_is_theirs(tmp_path: Path) -> None:
    lines = [
        "# A Plain Report",
        "",
        "*We asked an economist to explain the budget.",
        "It has been edited. — The editors*",
    ]
    lines += [line for paragraph in BODY for line in ("", paragraph)]
    roles = roles_by_line(tmp_path, lines, "report.md")
    assert spans(roles) == [("author", 1, 1), ("editor", 3, 4), ("author", 6, len(lines))]


def _benchmark() -> ModuleType:
    """benchmarks/roles.py, loaded as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_roles", ROOT / "benchmarks" / "roles.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["oped_ferry", "interview_grid", "repost_water"])
def test_gold_documents_roles(name: str) -> None:
    if not (GOLD_DOCS / name).is_dir():
        pytest.skip(f"{GOLD_DOCS} is not beside the clone")
    score = _benchmark().score_folder(GOLD_DOCS / name)
    assert score.accuracy >= 0.95, score


def test_the_benchmark_exits_non_zero_below_min(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "d.txt").write_text("\n".join(["By Ann Lee", *BODY]) + "\n", encoding="utf-8")
    (tmp_path / "d" / "d.roles.json").write_text('{"author": [[1, 5]], "commenter": [[6, 9]]}', encoding="utf-8")
    bench = _benchmark()
    assert bench.main([str(tmp_path / "d"), "--min", "0.5"]) == 0
    assert bench.main([str(tmp_path / "d"), "--min", "0.6"]) == 1
    assert "| d | 9 | 0.56 | commenter -> author: 4 |" in capsys.readouterr().out
