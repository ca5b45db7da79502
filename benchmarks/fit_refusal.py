"""Fit the refusal thresholds on dev + train, and show their precision/recall on test.

    python benchmarks/eval_sets.py --setting max_doubt=0 --out eval/runs/sets-assistant.jsonl   # every signal
    python benchmarks/fit_refusal.py eval/runs/sets-assistant.jsonl

(`max_doubt=0` measures the model's doubt on every answer and refuses on it never: log P ≤ 0.)

Why: `refusal.refuse` is the one place an answer is refused after the model, and its thresholds must come from
items they were not tested on. Each item's signals were recorded by the run; the decision is recomputed here for
every candidate threshold, so the fit costs no model call. "Refusal precision" is the share of refusals that
were right (unanswerable items), "recall" the share of unanswerable items refused.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant.answering.refusal import RefusalPolicy, Signals, refuse


def refuses(signals: dict[str, float], min_evidence: float, min_support: float, max_doubt: float | None) -> bool:
    """`refusal.refuse` over recorded signals (the off-topic gate before the model is in the `refused` flag)."""
    if not signals or "kept" not in signals:
        return True  # refused before the model
    recorded = Signals(**{k: signals[k] for k in Signals.__dataclass_fields__ if k in signals})  # type: ignore[arg-type]
    return (
        refuse(recorded, RefusalPolicy(min_evidence=min_evidence, min_support=min_support, max_doubt=max_doubt))
        is not None
    )


def rates(items: Iterable[dict[str, Any]], *threshold: Any) -> dict[str, float]:
    items = list(items)
    answerable = [i for i in items if i["answerable"]]
    unanswerable = [i for i in items if not i["answerable"]]
    refused_right = sum(refuses(i["signals"], *threshold) for i in unanswerable)
    refused_wrong = sum(refuses(i["signals"], *threshold) for i in answerable)
    total_refused = refused_right + refused_wrong
    return {
        "unanswerable_refused": refused_right / len(unanswerable) if unanswerable else 0.0,
        "false_refusals": refused_wrong / len(answerable) if answerable else 0.0,
        "precision": refused_right / total_refused if total_refused else 1.0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("items", type=Path)
    parser.add_argument("--weight", type=float, default=1.0, help="cost of a false refusal against a missed one")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.items.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["pipeline"] == "assistant"]
    fit = [r for r in rows if r["split"] in ("dev", "train")]
    test = [r for r in rows if r["split"] == "test"]
    doubts: list[float | None] = [None, -1.5, -2.0, -2.5, -2.8, -3.0, -3.5, -4.0, -4.5]
    grid = list(itertools.product([0.0, 0.6, 0.8, 0.9, 1.0, 1.1], [0.0, 0.4, 0.5, 0.6, 0.7, 0.8], doubts))

    def gain(threshold: tuple[float, float, float | None]) -> float:
        r = rates(fit, *threshold)
        return r["unanswerable_refused"] - args.weight * r["false_refusals"]

    def laxness(t: tuple[float, float, float | None]) -> tuple[float, float, float]:
        return -t[0], -t[1], 1.0 if t[2] is None else t[2]

    best = max(grid, key=lambda t: (round(gain(t), 6), *laxness(t)))  # ties: the laxer threshold
    print(f"fitted on {len(fit)} dev + train items: min_evidence={best[0]}, min_support={best[1]}, max_doubt={best[2]}")
    print("| threshold (evidence, support, doubt) | set | unanswerable refused | false refusals | precision |")
    print("|---|---|---|---|---|")
    shown = [best, (0.0, 0.0, None)]
    shown += [(best[0], best[1], d) for d in (None, -2.5, -3.0) if (best[0], best[1], d) not in shown]
    shown += [(e, best[1], best[2]) for e in (0.8, 1.0) if (e, best[1], best[2]) not in shown]
    for threshold in shown:
        for name, items in (("dev + train", fit), ("test", test)):
            r = rates(items, *threshold)
            print(
                f"| {threshold} | {name} | {r['unanswerable_refused']:.2f} | {r['false_refusals']:.2f} | "
                f"{r['precision']:.2f} |"
            )


if __name__ == "__main__":
    main()
