"""Evidence recall without the model: does the evidence the model is given hold the gold evidence sentences?

Why: choosing the evidence is the step the answer can never recover from, and it costs no model call, so it
can be swept over every gold set in seconds. For each gold item the answer path's own `begin()` runs
(read, retrieve, choose sentences); a gold quote is found when an evidence sentence on its line shares at
least half of its words. Reported per set and split, for the settings given on the command line.

    python benchmarks/evidence_sweep.py                       # dev + the three docs, train and test
    python benchmarks/evidence_sweep.py --sentences 6 10 --top-k 4 6
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval"

from assistant import Assistant, Settings  # noqa: E402
from assistant.evaluation.evaluate import Dataset  # noqa: E402
from assistant.retrieval.hybrid import tokenize  # noqa: E402


def sets() -> list[tuple[str, Path, Path]]:
    """(name, seeds folder, gold file) of every gold set there is."""
    out = [("dev", ROOT / "seeds", SHARED / "dev.jsonl")]
    for folder in sorted((SHARED / "docs").glob("*/")):
        out.append((folder.name, folder, folder / "gold.jsonl"))
        followups = ROOT / "eval" / "followups" / f"{folder.name}.jsonl"
        if followups.exists():
            out.append((f"{folder.name}-followups", folder, followups))
    return out


def found(quote: str, spans: tuple, evidence: list) -> bool:
    words = set(tokenize(quote))
    for e in evidence:
        on_line = any(s.overlaps(e.passage.source, e.line_start, e.line_end) for s in spans)
        if on_line and (quote in e.text or e.text in quote or len(words & set(tokenize(e.text))) >= len(words) / 2):
            return True
    return False


def sweep(sentences: list[int], top_ks: list[int]) -> None:
    rows = []
    for name, seeds, gold in sets():
        with tempfile.TemporaryDirectory() as index:
            base = Settings(seeds_dir=seeds, index_dir=Path(index), llm="fake")
            assistant = Assistant(base)
            dataset = Dataset.load(gold, assistant.documents)
            for n, k in itertools.product(sentences, top_ks):
                a = Assistant(base, evidence_sentences=n, top_k=k)
                for split in ("train", "test", None):
                    cases = [c for c in dataset.cases if getattr(c, "split", None) == split and c.answerable]
                    if not cases:
                        continue
                    hits = total = 0
                    for case in cases:
                        turn = a.begin(case.question, list(case.history) or None)
                        for quote, spans in zip(case.evidence, case.spans, strict=True):
                            total += 1
                            hits += found(quote, spans, turn.evidence)
                    rows.append((name, split or "-", n, k, len(cases), hits / total if total else 0.0))
                    print(
                        f"{name:28} {split or '-':5} sentences={n:2} top_k={k:2} items={len(cases):3} "
                        f"evidence recall={rows[-1][-1]:.2f}",
                        file=sys.stderr,
                        flush=True,
                    )
    print("| set | split | sentences | top_k | items | evidence recall |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[4]} | {row[5]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, nargs="+", default=[8])
    parser.add_argument("--top-k", type=int, nargs="+", default=[6])
    args = parser.parse_args()
    sweep(args.sentences, args.top_k)


if __name__ == "__main__":
    main()
