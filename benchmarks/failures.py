"""Where each answerable item is lost: retrieval, evidence choice, refusal, or the answer the model wrote.

    python benchmarks/eval_sets.py --out eval/runs/sets.jsonl     # every item, scored, with its answer
    python benchmarks/failures.py eval/runs/sets.jsonl

Why: the targets of the answer path are far above what it reaches, and the next change should go where the
items are lost. For each answerable single-turn item of every gold set, the answer path's own `begin()` runs
again (read, retrieve, choose the evidence sentences; no model call) and the item is put in the first stage
that lost it:

1. no retrieved passage holds a gold quote (retrieval);
2. a passage holds one, but none of the evidence sentences the model is given does (evidence choice);
3. the evidence held a gold sentence and the answer was refused;
4. the evidence held a gold sentence and the answer cites other lines (the model wrote about something else,
   or grounding matched its sentence to another line);
5. the answer cites a gold line (a refusal that shows the closest line counts here when that line is gold).

Follow-up conversations are left out: their evidence depends on the model's rewrite, which `begin()` with the
fake model does not reproduce.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from evidence_sweep import found, sets  # noqa: E402

from assistant import Assistant, Settings  # noqa: E402
from assistant.evaluation.evaluate import Dataset  # noqa: E402

STAGES = (
    "1 retrieval missed",
    "2 evidence choice missed",
    "3 refused with gold in evidence",
    "4 cited other lines",
    "5 cited gold",
)


def stage(record: dict, held: bool) -> str:
    """The first stage that lost an answerable item, from its scored record and whether its evidence held gold."""
    metrics = record["metrics"]
    if metrics.get("cited_evidence", 0) > 0:
        return STAGES[4]
    if metrics.get("recall_at_k", 0) == 0:
        return STAGES[0]
    if not held:
        return STAGES[1]
    return STAGES[2] if record["refused"] else STAGES[3]


def main(argv: list[str] | None = None) -> dict[str, collections.Counter[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path, help="the --out JSONL of benchmarks/eval_sets.py")
    args = parser.parse_args(argv)
    records = [json.loads(line) for line in args.records.read_text().splitlines() if line.strip()]
    by_item = {(r["set"], r["id"]): r for r in records if r["pipeline"] == "assistant"}
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for name, seeds, gold in sets():
        if name.endswith("-followups"):
            continue
        with tempfile.TemporaryDirectory() as index:
            assistant = Assistant(Settings(seeds_dir=seeds, index_dir=Path(index), llm="fake"))
            for case in Dataset.load(gold, assistant.documents).cases:
                record = by_item.get((name, case.id))
                if record is None or not case.answerable:
                    continue
                evidence = assistant.begin(case.question).evidence
                held = any(found(q, s, evidence) for q, s in zip(case.evidence, case.spans, strict=True))
                split = "test" if getattr(case, "split", None) == "test" else "dev + train"
                counts[split][stage(record, held)] += 1
    print("| stage | " + " | ".join(f"{s} (items)" for s in counts) + " |")
    print("|---|" + "---|" * len(counts))
    for name in STAGES:
        cells = " | ".join(f"{c[name]} ({c[name] / max(1, sum(c.values())):.0%})" for c in counts.values())
        print(f"| {name} | {cells} |")
    print("| answerable single-turn items | " + " | ".join(str(sum(c.values())) for c in counts.values()) + " |")
    return counts


if __name__ == "__main__":
    main()
