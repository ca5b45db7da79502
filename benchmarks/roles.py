"""How well `assistant.documents` tells the editor, the author and the commenters apart, line by line.

    python benchmarks/roles.py [FOLDER ...] [--min 0.95]

Why: a wrong role sends a reader's comment into an answer as the author's claim (or hides the author's words
as "a commenter says"), and the role detector is heuristic, so every change to it needs a number on documents
it was not tuned on. Each FOLDER holds one document and its answer key `<name>.roles.json`
({"role": [[start, end], ...]}, inclusive 1-based lines); the default is every folder in ../shared/eval/docs.
The document is loaded exactly as the product loads it (`load_document`, no key involved), each paragraph's
role is spread over its lines, and non-blank lines are compared with the key. Prints a markdown table with the
per-document accuracy and confusions (true -> predicted: count), and the pooled accuracy; with --min X it
exits 1 when the pooled accuracy is below X.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from assistant.documents import load_document
from assistant.documents.loaders import SUPPORTED_SUFFIXES

DEFAULT_DOCS = Path(__file__).resolve().parents[1] / ".." / "shared" / "eval" / "docs"


@dataclass(frozen=True)
class Score:
    """One document's per-line comparison with its answer key."""

    name: str
    lines: int
    right: int
    confusions: Counter[tuple[str, str]]

    @property
    def accuracy(self) -> float:
        return self.right / self.lines if self.lines else 0.0


def score_folder(folder: Path) -> Score:
    """Load the document in `folder` and compare its per-line roles with `<name>.roles.json`."""
    key_file = next(folder.glob("*.roles.json"), None)
    if key_file is None:
        raise SystemExit(f"{folder}: no <name>.roles.json answer key.")
    stem = key_file.name.removesuffix(".roles.json")
    doc_path = next((p for p in folder.glob(f"{stem}.*") if p.suffix.lower() in SUPPORTED_SUFFIXES), None)
    if doc_path is None:
        raise SystemExit(f"{folder}: no document named {stem} with a supported suffix.")
    gold: dict[int, str] = {}
    for role, ranges in json.loads(key_file.read_text(encoding="utf-8")).items():
        for start, end in ranges:
            gold.update(dict.fromkeys(range(start, end + 1), role))
    doc = load_document(doc_path, folder)
    predicted = {
        n: role for p, role in zip(doc.paragraphs, doc.roles, strict=True) for n in range(p.line_start, p.line_end + 1)
    }
    counted = [n for n, line in enumerate(doc.lines, start=1) if line.strip() and n in gold]
    wrong = Counter((gold[n], predicted.get(n, "none")) for n in counted if predicted.get(n) != gold[n])
    return Score(stem, len(counted), len(counted) - sum(wrong.values()), wrong)


def table(scores: list[Score]) -> str:
    """The markdown report: one row per document, then the pooled row."""
    rows = ["| document | lines | accuracy | confusions (true -> predicted: lines) |", "|---|---:|---:|---|"]
    for s in scores:
        confusions = ", ".join(f"{t} -> {p}: {c}" for (t, p), c in sorted(s.confusions.items())) or "none"
        rows.append(f"| {s.name} | {s.lines} | {s.accuracy:.2f} | {confusions} |")
    lines, right = sum(s.lines for s in scores), sum(s.right for s in scores)
    rows.append(f"| **pooled** | {lines} | {right / lines if lines else 0.0:.3f} | |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, help="document folders (default: ../shared/eval/docs/*)")
    parser.add_argument("--min", type=float, default=None, help="exit 1 if the pooled accuracy is below this")
    args = parser.parse_args(argv)
    folders = args.folders or sorted(p for p in DEFAULT_DOCS.resolve().iterdir() if p.is_dir())
    scores = [score_folder(folder) for folder in folders]
    print(table(scores))
    lines, right = sum(s.lines for s in scores), sum(s.right for s in scores)
    pooled = right / lines if lines else 0.0
    if args.min is not None and pooled < args.min:
        print(f"pooled accuracy {pooled:.3f} is below --min {args.min}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
